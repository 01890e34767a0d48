//! The configured list of restricted action patterns (`s3:DeleteBucket,iam:*`), validated
//! against the catalog so that a typo is an error rather than silence. A rules file
//! ([`crate::rules`]) gives a pattern exceptions: statements whose grant of it does not count.

use std::fmt;
use std::ops::Range;

use crate::catalog::Catalog;
use crate::document::{Statement, check_action_syntax};
use crate::rules::Exception;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestrictedError {
    #[error("the restricted action list is empty")]
    Empty,
    #[error("restricted action entry {index} is empty (check for a stray comma)")]
    EmptyEntry { index: usize },
    #[error("restricted action {pattern:?} {problem}")]
    Syntax {
        pattern: String,
        problem: &'static str,
    },
    #[error("restricted action {pattern:?} matches no known IAM action{hint}")]
    Unknown { pattern: String, hint: Hint },
}

/// ` (did you mean "s3:DeleteBucket"?)`, when a known action is spelled almost the same.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hint(pub Option<&'static str>);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(near) => write!(f, " (did you mean {near:?}?)"),
            None => Ok(()),
        }
    }
}

/// The restricted patterns, as configured (spelling kept for reports), without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictedActions {
    patterns: Vec<String>,
    /// Each pattern's part of the catalog: the actions starting with its literal prefix, the
    /// only ones it may match (found once here, not once per statement granting it).
    known: Vec<Range<usize>>,
    /// Each pattern's service prefix in lower case, or None where the service has a wildcard.
    services: Vec<Option<String>>,
    /// For each ASCII byte (and a last slot for any other), the patterns an entry starting
    /// with it may overlap: those whose service starts with it in either case, and those whose
    /// service has a wildcard.
    by_initial: Vec<u128>,
    /// Each pattern's exceptions: a statement's grant of it does not count when every one of
    /// them excepts the statement (one per rule naming the pattern). Empty: it always counts.
    exceptions: Vec<Vec<Exception>>,
}

impl RestrictedActions {
    /// Parses a comma-separated list, exactly the format of the `RestrictedActions` deployment
    /// parameter. Every pattern must match at least one action in the catalog.
    pub fn parse(list: &str, catalog: &Catalog) -> Result<Self, RestrictedError> {
        if list.trim().is_empty() {
            return Err(RestrictedError::Empty);
        }
        let mut patterns: Vec<String> = Vec::new();
        for (index, entry) in list.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                return Err(RestrictedError::EmptyEntry { index });
            }
            check_pattern(entry, catalog)?;
            if !patterns.iter().any(|p| p.eq_ignore_ascii_case(entry)) {
                patterns.push(entry.to_owned());
            }
        }
        Ok(Self::with_exceptions(
            patterns.into_iter().map(|p| (p, Vec::new())).collect(),
            catalog,
        ))
    }

    /// Patterns already validated (a rules file's), each with its exceptions; a pattern named
    /// twice (in any case) keeps its first spelling, and counts wherever either entry counts.
    pub(crate) fn with_exceptions(
        entries: Vec<(String, Vec<Exception>)>,
        catalog: &Catalog,
    ) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        let mut exceptions: Vec<Vec<Exception>> = Vec::new();
        for (pattern, excepted) in entries {
            match patterns
                .iter()
                .position(|p| p.eq_ignore_ascii_case(&pattern))
            {
                Some(i) if exceptions[i].is_empty() || excepted.is_empty() => exceptions[i].clear(),
                Some(i) => exceptions[i].extend(excepted),
                None => {
                    patterns.push(pattern);
                    exceptions.push(excepted);
                }
            }
        }
        let services = patterns
            .iter()
            .map(|p| match p.split_once(':') {
                Some((service, _)) if crate::pattern::is_literal(service) => {
                    Some(service.to_ascii_lowercase())
                }
                _ => None,
            })
            .collect::<Vec<_>>();
        let mut by_initial = vec![0u128; OTHER_BYTE + 1];
        for (i, service) in services.iter().enumerate() {
            match service.as_deref().and_then(|s| s.bytes().next()) {
                Some(first) => {
                    for c in [first, first.to_ascii_uppercase()] {
                        by_initial[usize::from(c).min(OTHER_BYTE)] |= Touched::bit(i);
                    }
                }
                None => by_initial.iter_mut().for_each(|m| *m |= Touched::bit(i)),
            }
        }
        // An entry starting with a wildcard may be of any service.
        let every = (0..patterns.len()).fold(0, |m, i| m | Touched::bit(i));
        by_initial[usize::from(b'*')] = every;
        by_initial[usize::from(b'?')] = every;
        let known = patterns.iter().map(|p| catalog.prefix_range(p)).collect();
        RestrictedActions {
            patterns,
            known,
            services,
            by_initial,
            exceptions,
        }
    }

    /// The patterns whose grant by `statement` counts, of those `touched`: all but those it is
    /// excepted from.
    pub(crate) fn counted_in<'s>(
        &'s self,
        statement: &'s Statement<'_>,
        touched: Touched,
    ) -> impl Iterator<Item = Restricted<'s>> + 's {
        self.iter()
            .zip(&self.exceptions)
            .enumerate()
            .filter(move |(i, _)| touched.has(*i))
            .filter(|(_, (_, excepted))| {
                excepted.is_empty() || !excepted.iter().all(|e| e.excepts(statement))
            })
            .map(|(_, (r, _))| r)
    }

    /// Each pattern, with its part of the catalog.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Restricted<'_>> {
        self.patterns
            .iter()
            .zip(&self.known)
            .map(|(text, known)| Restricted { text, known })
    }

    /// Cheap filter: the patterns some of `entries` (a statement's) may overlap. A pattern
    /// outside them overlaps none, and its grant needs no closer look; most statements are of
    /// other services than most patterns. An entry is told apart by its first letter, and by
    /// its service only when that could add a pattern: a statement of forty `ec2:` entries
    /// compares one service.
    pub(crate) fn touched_by<'e>(&self, entries: impl IntoIterator<Item = &'e str>) -> Touched {
        if self.patterns.len() > Touched::BITS {
            return Touched::EVERY;
        }
        let every = self.by_initial[usize::from(b'*')];
        let mut touched = 0;
        for entry in entries {
            let bytes = entry.as_bytes();
            let Some(&first) = bytes.first() else {
                continue;
            };
            let new = self.by_initial[usize::from(first).min(OTHER_BYTE)] & !touched;
            if new != 0 {
                touched |= self.of_service(bytes, new);
                if touched == every {
                    break;
                }
            }
        }
        Touched(touched)
    }

    /// Of the patterns `candidates`, those whose service `entry`'s may be.
    fn of_service(&self, entry: &[u8], candidates: u128) -> u128 {
        // The service is the text before the first colon, if no wildcard comes first.
        let Some(end) = entry.iter().position(|&b| matches!(b, b':' | b'*' | b'?')) else {
            return candidates;
        };
        if entry[end] != b':' {
            return candidates;
        }
        let service = &entry[..end];
        self.services
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                candidates & Touched::bit(*i) != 0
                    && s.as_deref()
                        .is_none_or(|s| s.as_bytes().eq_ignore_ascii_case(service))
            })
            .fold(0, |m, (i, _)| m | Touched::bit(i))
    }

    pub fn patterns(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.patterns.iter().map(String::as_str)
    }
}

/// One restricted pattern, with the part of the catalog whose actions it may match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Restricted<'s> {
    pub(crate) text: &'s str,
    /// The catalog's actions starting with its literal prefix.
    pub(crate) known: &'s Range<usize>,
}

/// The slot of [`RestrictedActions`]'s `by_initial` for a first byte outside ASCII.
const OTHER_BYTE: usize = 128;

/// Which restricted patterns some entries may overlap: bit i for the i-th pattern. With more
/// patterns than bits, every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Touched(u128);

impl Touched {
    const BITS: usize = 128;
    pub(crate) const EVERY: Touched = Touched(u128::MAX);

    fn bit(i: usize) -> u128 {
        1u128.checked_shl(i as u32).unwrap_or(0)
    }

    pub(crate) fn is_none(self) -> bool {
        self.0 == 0
    }

    fn has(self, i: usize) -> bool {
        self.0 & Touched::bit(i) != 0 || i >= Touched::BITS
    }
}

impl fmt::Display for RestrictedActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.patterns.join(","))
    }
}

/// Checks one restricted pattern (of the list or of a rules file): IAM's action syntax, a
/// service named without wildcards, and at least one known action it matches. The service must
/// be named because a quarantine writes the pattern into a `NotAction`, and IAM's grammar has a
/// service prefix there: AWS documents no wildcard in it, so `*:DeleteBucket` could make every
/// such quarantine a write IAM refuses. `*` (every action) is IAM's own, in that one spelling.
pub(crate) fn check_pattern(pattern: &str, catalog: &Catalog) -> Result<(), RestrictedError> {
    let refused = |problem| RestrictedError::Syntax {
        pattern: pattern.to_owned(),
        problem,
    };
    check_action_syntax(pattern).map_err(refused)?;
    let service = pattern
        .split_once(':')
        .map_or(pattern, |(service, _)| service);
    if pattern != "*" && !crate::pattern::is_literal(service) {
        return Err(refused(
            "has a wildcard in its service prefix: name the service, or write * for every \
             action (a quarantine writes the pattern into NotAction, where IAM expects a service \
             prefix)",
        ));
    }
    if catalog.matching(pattern).next().is_none() {
        return Err(RestrictedError::Unknown {
            pattern: pattern.to_owned(),
            hint: Hint(nearest_action(pattern, catalog)),
        });
    }
    Ok(())
}

/// The known action closest in spelling to a literal that matched nothing, if close enough to
/// be a plausible typo (at most two edits).
fn nearest_action(pattern: &str, catalog: &Catalog) -> Option<&'static str> {
    if !crate::pattern::is_literal(pattern) {
        return None;
    }
    let wanted = pattern.to_ascii_lowercase();
    catalog
        .actions()
        .iter()
        .filter(|a| a.len().abs_diff(wanted.len()) <= 2)
        .map(|a| (edit_distance(&a.to_ascii_lowercase(), &wanted), *a))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, action)| action)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    fn parse(list: &str) -> Result<RestrictedActions, RestrictedError> {
        RestrictedActions::parse(list, Catalog::embedded())
    }

    #[test]
    fn the_deployment_default_parses() {
        let restricted = parse("s3:DeleteBucket,s3:DeleteObject").unwrap();
        assert_eq!(
            restricted.patterns().collect::<Vec<_>>(),
            ["s3:DeleteBucket", "s3:DeleteObject"]
        );
    }

    #[test]
    fn white_space_around_entries_is_ignored_and_duplicates_collapse() {
        let restricted = parse(" iam:* , IAM:* ,s3:Delete*").unwrap();
        assert_eq!(restricted.to_string(), "iam:*,s3:Delete*");
    }

    #[test]
    fn a_typo_is_an_error_with_a_suggestion() {
        assert_eq!(
            parse("s3:DeleteBuckett").unwrap_err().to_string(),
            r#"restricted action "s3:DeleteBuckett" matches no known IAM action (did you mean "s3:DeleteBucket"?)"#
        );
    }

    #[test]
    fn a_wildcard_matching_nothing_is_an_error() {
        assert!(matches!(
            parse("nosuchservice:*"),
            Err(RestrictedError::Unknown { .. })
        ));
    }

    #[test]
    fn an_empty_entry_is_an_error() {
        assert_eq!(
            parse("s3:DeleteBucket,,iam:*"),
            Err(RestrictedError::EmptyEntry { index: 1 })
        );
        assert_eq!(parse(" "), Err(RestrictedError::Empty));
    }

    #[test]
    fn only_the_patterns_of_an_entrys_service_need_a_closer_look() {
        let touched = |list: &str, entries: &[&str]| {
            let restricted = parse(list).unwrap();
            let touched = restricted.touched_by(entries.iter().copied());
            let patterns = restricted.patterns().enumerate();
            patterns
                .filter(|(i, _)| touched.has(*i))
                .map(|(_, p)| p.to_owned())
                .collect::<Vec<_>>()
        };
        let both = "s3:DeleteBucket,IAM:Create*";
        assert_eq!(touched(both, &["S3:Get*"]), ["s3:DeleteBucket"]);
        assert_eq!(touched(both, &["iam:*User"]), ["IAM:Create*"]);
        assert_eq!(touched(both, &["*"]), ["s3:DeleteBucket", "IAM:Create*"]);
        assert_eq!(touched(both, &["s*:Get*"]), ["s3:DeleteBucket"]);
        assert_eq!(touched(both, &["ec2:*", "iam:List*"]), ["IAM:Create*"]);
        let others = ["e*:Get*", "Ec2:Get*", "ec2:*", "ssm:Get*", "\u{e9}c2:*", ""];
        assert!(touched(both, &others).is_empty());
        assert_eq!(touched("*,s3:*", &["ec2:*"]), ["*"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// A pattern an entry overlaps is among those the entries touch, whatever the order
        /// and the patterns found before it: the analysis looks at no other.
        #[test]
        fn a_pattern_an_entry_overlaps_is_touched(
            patterns in proptest::collection::vec(
                (service(), pattern_text()).prop_map(|(s, name)| format!("{s}:{name}")),
                1..5,
            ),
            entries in proptest::collection::vec(pattern_text(), 0..6),
        ) {
            let restricted = RestrictedActions::with_exceptions(
                patterns.iter().map(|p| (p.clone(), Vec::new())).collect(),
                Catalog::embedded(),
            );
            let touched = restricted.touched_by(entries.iter().map(String::as_str));
            for (i, pattern) in restricted.patterns().enumerate() {
                if entries.iter().any(|e| crate::pattern::overlaps(pattern, e)) {
                    proptest::prop_assert!(touched.has(i), "{pattern} in {entries:?}");
                }
            }
        }
    }

    /// Restricted services that tell the filter's cases apart: shared and different initials,
    /// either case, mostly literal (one with a wildcard may be touched by any entry).
    fn service() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec!["s3", "S3", "ssm", "iam", "Iam", "e", "s*", "*"])
    }

    /// Entries (and restricted names) made of those services, colons and wildcards.
    fn pattern_text() -> impl Strategy<Value = String> {
        let piece = proptest::sample::select(vec![
            "s3", "S3", "ssm", "iam", "Iam", "e", ":", ":", "*", "?", "Get", "Delete", "",
        ]);
        proptest::collection::vec(piece, 1..6).prop_map(|pieces| pieces.concat())
    }

    #[test]
    fn a_pattern_without_a_service_is_an_error() {
        assert!(matches!(
            parse("DeleteBucket"),
            Err(RestrictedError::Syntax { .. })
        ));
    }

    #[test]
    fn a_pattern_must_name_its_service() {
        for list in [
            "*:DeleteBucket",
            "s3*:Delete*",
            "s?:DeleteBucket",
            "*:*",
            "iam:*,?*:*",
            "**",
        ] {
            let refused = parse(list).unwrap_err().to_string();
            assert!(
                refused.contains("has a wildcard in its service prefix: name the service"),
                "{list}: {refused}"
            );
        }
        for list in ["*", "iam:*", "IAM:Create*", "s3:*Bucket", "s3:Delete?ucket"] {
            assert!(parse(list).is_ok(), "{list}");
        }
    }
}
