//! The catalog of known IAM actions, embedded at build time from `data/iam-actions.txt`
//! (generated offline by `scripts/generate-catalog.py`; never fetched at build or run time).
//!
//! The catalog only ever *illustrates* a verdict (which concrete actions a wildcard grants) and
//! catches typos in the configuration; verdicts themselves are decided on patterns, so they stay
//! right for actions added to AWS after the catalog was generated.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use crate::pattern;

const EMBEDDED: &str = include_str!("../data/iam-actions.txt");

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::from_text(EMBEDDED));

pub struct Catalog {
    /// Sorted by lower-case name, so one service's actions are contiguous.
    actions: Vec<&'static str>,
    /// Lower-case service prefix -> its actions' range in `actions`.
    services: HashMap<String, Range<usize>>,
    /// The `#` header lines: where the data came from, its version and date.
    provenance: Vec<&'static str>,
}

impl Catalog {
    /// The catalog compiled into this binary.
    pub fn embedded() -> &'static Catalog {
        &CATALOG
    }

    fn from_text(text: &'static str) -> Catalog {
        let (provenance, lines): (Vec<&str>, Vec<&str>) = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .partition(|l| l.starts_with('#'));
        let mut actions = lines;
        // The generator writes the file sorted; sorting again would cost every cold start.
        if !actions.is_sorted_by(|a, b| cmp_lowercase(a, b).is_le()) {
            actions.sort_by(|a, b| cmp_lowercase(a, b));
        }
        actions.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
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
            services,
            provenance,
        }
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
    /// actions when the pattern names its service literally.
    pub fn matching<'c>(&'c self, pattern: &'c str) -> impl Iterator<Item = &'static str> + 'c {
        let candidates = match pattern.split_once(':') {
            Some((service, _)) if pattern::is_literal(service) => self
                .services
                .get(&service.to_ascii_lowercase())
                .map_or(&self.actions[..0], |range| &self.actions[range.clone()]),
            _ => &self.actions[..],
        };
        candidates
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

fn service_of(action: &str) -> &str {
    action
        .split_once(':')
        .map_or(action, |(service, _)| service)
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
    fn canonical_spelling_is_found_in_any_case() {
        assert_eq!(
            Catalog::embedded().canonical("S3:deletebucket"),
            Some("s3:DeleteBucket")
        );
        assert_eq!(Catalog::embedded().canonical("s3:DeleteBuckets"), None);
    }
}
