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
    /// The `#` header lines: where the data came from, its version and date.
    provenance: Vec<&'static str>,
    types_text: &'static str,
    /// Every action's resource types, compiled on first use.
    resource_types: OnceLock<ResourceTypes>,
}

/// A resource type: its index among the catalog's compiled types.
pub(crate) type TypeId = u32;

/// The resource types, compiled once: a statement's resources are decided per type, and many
/// actions share each type.
struct ResourceTypes {
    /// Each type's ARN templates.
    templates: Vec<Vec<Arn>>,
    /// For each action (as `Catalog::actions`), the types it accepts; None when nothing known
    /// narrows where it applies (it accepts no type, or one the types file does not list).
    of_action: Vec<Option<Box<[TypeId]>>>,
}

impl Catalog {
    /// The catalog compiled into this binary.
    pub fn embedded() -> &'static Catalog {
        &CATALOG
    }

    fn from_text(text: &'static str, types_text: &'static str) -> Catalog {
        // Every Lambda that validates its configuration reads this at start-up, so it is one
        // pass over the bytes: each line's end and first space. The file is written sorted by
        // lower-case name, each action once (`scripts/generate-catalog.py`; a test holds it to
        // that), so nothing is sorted here.
        let mut provenance = Vec::new();
        let mut actions = Vec::with_capacity(text.len() / 40);
        let mut type_names = Vec::with_capacity(text.len() / 40);
        let mut add_line = |line: &'static str, space: Option<usize>| {
            if let Some(fact) = line.strip_prefix('#') {
                provenance.push(fact.trim());
            } else if !line.trim().is_empty() {
                let (name, types) = match space {
                    Some(at) => (&line[..at], &line[at + 1..]),
                    None => (line, ""),
                };
                actions.push(name.trim());
                type_names.push(types.trim());
            }
        };
        let mut start = 0;
        let mut space = None;
        for (at, &b) in text.as_bytes().iter().enumerate() {
            match b {
                b' ' if space.is_none() => space = Some(at - start),
                b'\n' => {
                    add_line(&text[start..at], space);
                    start = at + 1;
                    space = None;
                }
                _ => {}
            }
        }
        add_line(&text[start..], space);
        Catalog {
            actions,
            type_names,
            provenance,
            types_text,
            resource_types: OnceLock::new(),
        }
    }

    /// The resource types the known action at `index` (in [`Catalog::actions`]) accepts; None
    /// when it accepts none (then nothing narrows where it applies).
    pub(crate) fn resource_types(&self, index: usize) -> Option<&[TypeId]> {
        self.compiled_types().of_action[index].as_deref()
    }

    /// The ARN templates of a resource type.
    pub(crate) fn templates(&self, id: TypeId) -> &[Arn] {
        &self.compiled_types().templates[id as usize]
    }

    fn compiled_types(&self) -> &ResourceTypes {
        self.resource_types
            .get_or_init(|| compile_types(self.types_text, &self.actions, &self.type_names))
    }

    /// Where a known action is in [`Catalog::actions`], whatever its case.
    pub(crate) fn index_of(&self, action: &str) -> Option<usize> {
        self.actions
            .binary_search_by(|a| cmp_lowercase(a, action))
            .ok()
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

    /// The known actions a pattern matches, in catalog order.
    pub fn matching<'c>(&'c self, pattern: &'c str) -> impl Iterator<Item = &'static str> + 'c {
        self.actions[self.prefix_range(pattern)]
            .iter()
            .copied()
            .filter(move |a| pattern::matches(pattern, a))
    }

    /// Where in [`Catalog::actions`] the actions a pattern may match are: those starting with
    /// its literal text before the first wildcard (a binary search: the catalog is sorted).
    pub(crate) fn prefix_range(&self, pattern: &str) -> Range<usize> {
        self.prefix_range_within(pattern, 0..self.actions.len())
    }

    /// The part of `within` (a range of [`Catalog::actions`]) in [`Catalog::prefix_range`]:
    /// searching a service's few hundred actions, not every action.
    pub(crate) fn prefix_range_within(&self, pattern: &str, within: Range<usize>) -> Range<usize> {
        let literal = pattern::literal_prefix(pattern);
        let candidates = &self.actions[within.clone()];
        let start = candidates.partition_point(|a| cmp_lowercase_prefix(a, literal).is_lt());
        // Most ranges are a few actions long (a literal entry's is one or two): look at the
        // first few before searching the rest.
        let rest = &candidates[start..];
        let starts_with = |a: &&str| cmp_lowercase_prefix(a, literal).is_eq();
        let near = rest.iter().take(8).take_while(|a| starts_with(a)).count();
        let len = if near == 8 {
            8 + rest[8..].partition_point(starts_with)
        } else {
            near
        };
        within.start + start..within.start + start + len
    }

    /// The catalog's spelling of a known action, e.g. `s3:DeleteBucket` for `S3:deletebucket`.
    pub fn canonical(&self, action: &str) -> Option<&'static str> {
        self.index_of(action).map(|i| self.actions[i])
    }
}

/// `service type template...` lines compiled, and each action's types found among them.
fn compile_types(
    text: &'static str,
    actions: &[&'static str],
    type_names: &[&'static str],
) -> ResourceTypes {
    let mut templates = Vec::new();
    let mut ids: HashMap<(&str, &str), TypeId> = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut words = line.split(' ');
        let (Some(service), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let id = TypeId::try_from(templates.len()).expect("fewer than 2^32 resource types");
        templates.push(words.map(Arn::template).collect());
        // A type listed twice: its last line stands.
        ids.insert((service, name), id);
    }
    let of_action = actions
        .iter()
        .zip(type_names)
        .map(|(action, names)| {
            if names.is_empty() {
                return None;
            }
            let service = service_of(action);
            // A type the types file does not list: nothing known narrows this action.
            names
                .split(' ')
                .map(|name| ids.get(&(service, name)).copied())
                .collect()
        })
        .collect();
    ResourceTypes {
        templates,
        of_action,
    }
}

fn service_of(action: &str) -> &str {
    action
        .split_once(':')
        .map_or(action, |(service, _)| service)
}

/// Orders `action` against `prefix` as the catalog is sorted, counting as equal an action that
/// starts with the prefix.
fn cmp_lowercase_prefix(action: &str, prefix: &str) -> std::cmp::Ordering {
    let head = action.len().min(prefix.len());
    let pairs = action.as_bytes()[..head].iter().zip(prefix.as_bytes());
    for (a, p) in pairs {
        // Policies mostly spell actions as the catalog does: lower-case only where they differ.
        if a == p {
            continue;
        }
        let order = a.to_ascii_lowercase().cmp(&p.to_ascii_lowercase());
        if order.is_ne() {
            return order;
        }
    }
    head.cmp(&prefix.len())
}

/// Orders names as the catalog file is sorted: by lower-case bytes.
fn cmp_lowercase(a: &str, b: &str) -> std::cmp::Ordering {
    for (x, y) in a.bytes().zip(b.bytes()) {
        let order = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
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

    /// The catalog is searched by halves: its file must be sorted by lower-case name, each
    /// action once, as the generator writes it (nothing sorts it at start-up).
    #[test]
    fn the_embedded_catalog_is_sorted_with_each_action_once() {
        let actions = Catalog::embedded().actions();
        for pair in actions.windows(2) {
            assert!(cmp_lowercase(pair[0], pair[1]).is_lt(), "{pair:?}");
        }
        assert!(actions.iter().all(|a| !a.is_empty() && !a.contains(' ')));
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
        let types_of = |action| catalog.resource_types(catalog.index_of(action).unwrap());
        let [bucket] = types_of("S3:deletebucket").unwrap() else {
            panic!("s3:DeleteBucket accepts one resource type");
        };
        assert_eq!(
            catalog.templates(*bucket),
            [Arn::template("arn:${Partition}:s3:::${BucketName}")]
        );
        assert!(types_of("s3:ListAllMyBuckets").is_none());
        assert!(catalog.index_of("s3:NoSuchAction").is_none());
    }

    #[test]
    fn a_prefix_range_holds_every_action_with_the_prefix_and_no_other() {
        let catalog = Catalog::embedded();
        let prefixes = [
            "",
            "i",
            "IAM:",
            "iam:Get",
            "s3:DeleteObject",
            "s3:DeleteBucket",
            "zzz",
        ];
        let cut = |action: &'static str| (1..=action.len()).map(move |n| &action[..n]);
        let cuts = ["s3:DeleteBucketPolicy", "ec2:DescribeInstances", "a4b:Get"].map(cut);
        for prefix in prefixes.into_iter().chain(cuts.into_iter().flatten()) {
            let scanned: Vec<usize> = (0..catalog.len())
                .filter(|&i| {
                    let action = catalog.actions()[i].as_bytes();
                    action.len() >= prefix.len()
                        && action[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
                })
                .collect();
            let pattern = format!("{prefix}*");
            assert_eq!(
                catalog.prefix_range(&pattern).collect::<Vec<_>>(),
                scanned,
                "{prefix}"
            );
        }
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
