//! The catalog of known IAM actions and the resource types each accepts, embedded at build time
//! from `data/iam-actions.txt` and `data/iam-resource-types.txt` (generated offline by
//! `scripts/generate-catalog.py`; never fetched at build or run time).
//!
//! The catalog *illustrates* a verdict (which concrete actions a wildcard grants), catches typos
//! in the configuration, and says on which resources a known action can apply. What it does not
//! know is decided on patterns on the safe side: an action added to AWS after the catalog was
//! generated is granted by any `Allow` whose actions match it, whatever its resources, and is
//! removed only by a `Deny` on every resource (`*`).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{LazyLock, OnceLock};

use crate::pattern;
use crate::resource::Arn;

const EMBEDDED: &str = include_str!("../data/iam-actions.txt");
const EMBEDDED_TYPES: &str = include_str!("../data/iam-resource-types.txt");

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::from_text(EMBEDDED, EMBEDDED_TYPES));

pub struct Catalog {
    /// Sorted by lower-case name, so one service's actions are contiguous.
    actions: Vec<&'static str>,
    /// For each action, the names of the resource types it accepts (space-separated; empty:
    /// none, so it applies to `*` only).
    type_names: Vec<&'static str>,
    /// Lower-case service prefix -> its actions' range in `actions`.
    services: HashMap<String, Range<usize>>,
    /// The `#` header lines: where the data came from, its version and date.
    provenance: Vec<&'static str>,
    types_text: &'static str,
    /// `service type` -> its ARN templates, compiled on first use.
    templates: OnceLock<HashMap<(&'static str, &'static str), Vec<Arn>>>,
}

impl Catalog {
    /// The catalog compiled into this binary.
    pub fn embedded() -> &'static Catalog {
        &CATALOG
    }

    fn from_text(text: &'static str, types_text: &'static str) -> Catalog {
        let (provenance, lines): (Vec<&str>, Vec<&str>) = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .partition(|l| l.starts_with('#'));
        let mut lines = lines;
        // The generator writes the file sorted; sorting again would cost every cold start.
        if !lines.is_sorted_by(|a, b| cmp_lowercase(name_of(a), name_of(b)).is_le()) {
            lines.sort_by(|a, b| cmp_lowercase(name_of(a), name_of(b)));
        }
        lines.dedup_by(|a, b| name_of(a).eq_ignore_ascii_case(name_of(b)));
        let (actions, type_names): (Vec<&str>, Vec<&str>) = lines
            .iter()
            .map(|l| l.split_once(' ').unwrap_or((l, "")))
            .unzip();
        let mut services: HashMap<String, Range<usize>> = HashMap::new();
        for (i, action) in actions.iter().enumerate() {
            let service = service_of(action).to_ascii_lowercase();
            services.entry(service).or_insert(i..i).end = i + 1;
        }
        let provenance = provenance
            .iter()
            .map(|l| l.trim_start_matches('#').trim())
            .collect();
        Catalog {
            actions,
            type_names,
            services,
            provenance,
            types_text,
            templates: OnceLock::new(),
        }
    }

    /// The ARN templates of the resource types a known action accepts; None when the action is
    /// not in the catalog or accepts no resource type (then nothing narrows where it applies).
    pub fn resource_templates(&self, action: &str) -> Option<Vec<&Arn>> {
        let lower = action.to_ascii_lowercase();
        let i = self
            .actions
            .binary_search_by(|a| cmp_lowercase(a, &lower))
            .ok()?;
        let names = self.type_names[i];
        if names.is_empty() {
            return None;
        }
        let service = service_of(self.actions[i]);
        let templates = self
            .templates
            .get_or_init(|| compile_types(self.types_text));
        let mut found = Vec::new();
        for name in names.split(' ') {
            // A type the types file does not list: nothing known narrows this action.
            found.extend(templates.get(&(service, name))?);
        }
        Some(found)
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Where the catalog came from (source package, version, date), one fact per line.
    pub fn provenance(&self) -> &[&'static str] {
        &self.provenance
    }

    /// Every known action, sorted by lower-case name.
    pub fn actions(&self) -> &[&'static str] {
        &self.actions
    }

    /// The known actions a pattern matches, in catalog order. Looks only at one service's
    /// actions when the pattern names its service literally, and among them only at those
    /// starting with the pattern's literal text before its first wildcard (a binary search:
    /// the catalog is sorted).
    pub fn matching<'c>(&'c self, pattern: &'c str) -> impl Iterator<Item = &'static str> + 'c {
        let candidates = match pattern.split_once(':') {
            Some((service, _)) if pattern::is_literal(service) => self
                .services
                .get(&service.to_ascii_lowercase())
                .map_or(&self.actions[..0], |range| &self.actions[range.clone()]),
            _ => &self.actions[..],
        };
        let literal = pattern::literal_prefix(pattern);
        let start = candidates.partition_point(|a| cmp_lowercase_prefix(a, literal).is_lt());
        let end = start
            + candidates[start..].partition_point(|a| cmp_lowercase_prefix(a, literal).is_eq());
        candidates[start..end]
            .iter()
            .copied()
            .filter(move |a| pattern::matches(pattern, a))
    }

    /// The catalog's spelling of a known action, e.g. `s3:DeleteBucket` for `S3:deletebucket`.
    pub fn canonical(&self, action: &str) -> Option<&'static str> {
        let lower = action.to_ascii_lowercase();
        self.actions
            .binary_search_by(|a| cmp_lowercase(a, &lower))
            .ok()
            .map(|i| self.actions[i])
    }
}

/// `service type template...` lines -> each type's compiled templates.
fn compile_types(text: &'static str) -> HashMap<(&'static str, &'static str), Vec<Arn>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut words = l.split(' ');
            let (service, name) = (words.next()?, words.next()?);
            Some(((service, name), words.map(Arn::template).collect()))
        })
        .collect()
}

/// The action of a catalog line (`s3:DeleteBucket bucket`).
fn name_of(line: &str) -> &str {
    line.split_once(' ').map_or(line, |(name, _)| name)
}

fn service_of(action: &str) -> &str {
    action
        .split_once(':')
        .map_or(action, |(service, _)| service)
}

/// Orders `action` against `prefix` as the catalog is sorted, counting as equal an action that
/// starts with the prefix.
fn cmp_lowercase_prefix(action: &str, prefix: &str) -> std::cmp::Ordering {
    let head = &action.as_bytes()[..action.len().min(prefix.len())];
    let lower = |c: &u8| c.to_ascii_lowercase();
    head.iter()
        .map(lower)
        .cmp(prefix.as_bytes().iter().map(lower))
}

/// Orders names as the catalog file is sorted: by lower-case bytes.
fn cmp_lowercase(a: &str, b: &str) -> std::cmp::Ordering {
    let lower = |c: u8| c.to_ascii_lowercase();
    a.bytes().map(lower).cmp(b.bytes().map(lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_knows_tens_of_thousands_of_actions() {
        let catalog = Catalog::embedded();
        assert!(catalog.len() > 15_000, "only {} actions", catalog.len());
        assert!(!catalog.provenance().is_empty());
    }

    #[test]
    fn a_literal_service_pattern_lists_only_that_service() {
        let deletes: Vec<_> = Catalog::embedded().matching("s3:DeleteObject*").collect();
        assert!(deletes.contains(&"s3:DeleteObject"));
        assert!(deletes.contains(&"s3:DeleteObjectVersion"));
        assert!(deletes.iter().all(|a| a.starts_with("s3:DeleteObject")));
    }

    #[test]
    fn a_wildcard_service_pattern_searches_every_service() {
        let tag_deletes = Catalog::embedded().matching("*:DeleteBucket").count();
        assert!(
            tag_deletes >= 2,
            "s3 and others delete buckets; found {tag_deletes}"
        );
    }

    #[test]
    fn an_action_knows_its_resource_types() {
        let catalog = Catalog::embedded();
        let bucket = catalog.resource_templates("S3:deletebucket").unwrap();
        assert_eq!(
            bucket,
            [&Arn::template("arn:${Partition}:s3:::${BucketName}")]
        );
        assert!(catalog.resource_templates("s3:ListAllMyBuckets").is_none());
        assert!(catalog.resource_templates("s3:NoSuchAction").is_none());
    }

    #[test]
    fn canonical_spelling_is_found_in_any_case() {
        assert_eq!(
            Catalog::embedded().canonical("S3:deletebucket"),
            Some("s3:DeleteBucket")
        );
        assert_eq!(Catalog::embedded().canonical("s3:DeleteBuckets"), None);
    }
}
