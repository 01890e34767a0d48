//! The configured list of restricted action patterns (`s3:DeleteBucket,iam:*`), validated
//! against the catalog so that a typo is an error rather than silence. A rules file
//! ([`crate::rules`]) gives a pattern exceptions: statements whose grant of it does not count.

use std::fmt;

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
    /// Each pattern's service prefix in lower case, or None where the service has a wildcard.
    services: Vec<Option<String>>,
    /// The first letters of `services` in either case, a bit for each ASCII byte, or None when
    /// one of them has a wildcard.
    initials: Option<u128>,
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
            check_action_syntax(entry).map_err(|problem| RestrictedError::Syntax {
                pattern: entry.to_owned(),
                problem,
            })?;
            if catalog.matching(entry).next().is_none() {
                return Err(RestrictedError::Unknown {
                    pattern: entry.to_owned(),
                    hint: Hint(nearest_action(entry, catalog)),
                });
            }
            if !patterns.iter().any(|p| p.eq_ignore_ascii_case(entry)) {
                patterns.push(entry.to_owned());
            }
        }
        Ok(Self::with_exceptions(
            patterns.into_iter().map(|p| (p, Vec::new())).collect(),
        ))
    }

    /// Patterns already validated (a rules file's), each with its exceptions; a pattern named
    /// twice (in any case) keeps its first spelling, and counts wherever either entry counts.
    pub(crate) fn with_exceptions(entries: Vec<(String, Vec<Exception>)>) -> Self {
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
        let initials = services.iter().try_fold(0u128, |bits, s| {
            let first = s.as_ref()?.bytes().next()?;
            let bit = |c: u8| 1u128.checked_shl(u32::from(c)).unwrap_or(0);
            Some(bits | bit(first) | bit(first.to_ascii_uppercase()))
        });
        RestrictedActions {
            patterns,
            services,
            initials,
            exceptions,
        }
    }

    /// The patterns whose grant by `statement` counts: all but those it is excepted from.
    pub(crate) fn counted_in<'s>(
        &'s self,
        statement: &'s Statement<'_>,
    ) -> impl Iterator<Item = &'s str> + 's {
        self.patterns
            .iter()
            .zip(&self.exceptions)
            .filter(|(_, excepted)| {
                excepted.is_empty() || !excepted.iter().all(|e| e.excepts(statement))
            })
            .map(|(p, _)| p.as_str())
    }

    /// Cheap filter: false when `action` (a policy entry) is of a service that no restricted
    /// pattern can match, so it needs no closer look. Large policies are mostly such entries.
    pub fn may_touch(&self, action: &str) -> bool {
        let bytes = action.as_bytes();
        // Most entries are told apart by their first letter alone.
        if let (Some(initials), Some(&first)) = (self.initials, bytes.first())
            && !matches!(first, b'*' | b'?')
            && initials & 1u128.checked_shl(u32::from(first)).unwrap_or(0) == 0
        {
            return false;
        }
        // The service is the text before the first colon, if no wildcard comes first.
        let Some(end) = bytes.iter().position(|&b| matches!(b, b':' | b'*' | b'?')) else {
            return true;
        };
        if bytes[end] != b':' {
            return true;
        }
        let service = &bytes[..end];
        self.services.iter().any(|s| {
            s.as_deref()
                .is_none_or(|s| s.as_bytes().eq_ignore_ascii_case(service))
        })
    }

    pub fn patterns(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.patterns.iter().map(String::as_str)
    }
}

impl fmt::Display for RestrictedActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.patterns.join(","))
    }
}

/// The known action closest in spelling to a literal that matched nothing, if close enough to
/// be a plausible typo (at most two edits).
pub(crate) fn nearest_action(pattern: &str, catalog: &Catalog) -> Option<&'static str> {
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
    fn only_entries_of_a_restricted_service_need_a_closer_look() {
        let restricted = parse("s3:DeleteBucket,IAM:Create*").unwrap();
        assert!(restricted.may_touch("S3:Get*"));
        assert!(restricted.may_touch("iam:*User"));
        assert!(restricted.may_touch("*"));
        assert!(restricted.may_touch("s*:Get*"));
        assert!(!restricted.may_touch("e*:Get*"));
        assert!(!restricted.may_touch("Ec2:Get*"));
        assert!(!restricted.may_touch("ec2:*"));
        assert!(!restricted.may_touch("ssm:Get*"));
        assert!(!restricted.may_touch("\u{e9}c2:*"));
        assert!(parse("*:DeleteBucket").unwrap().may_touch("ec2:*"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// An entry the cheap filter passes over overlaps no restricted pattern: analysis looks
        /// at the entries it keeps, and only at those.
        #[test]
        fn an_entry_passed_over_overlaps_no_restricted_pattern(
            patterns in proptest::collection::vec(
                (service(), pattern_text()).prop_map(|(s, name)| format!("{s}:{name}")),
                1..4,
            ),
            entry in pattern_text(),
        ) {
            let restricted = RestrictedActions::with_exceptions(
                patterns.iter().map(|p| (p.clone(), Vec::new())).collect(),
            );
            if patterns.iter().any(|p| crate::pattern::overlaps(p, &entry)) {
                proptest::prop_assert!(restricted.may_touch(&entry));
            }
        }
    }

    /// Restricted services that tell the filter's cases apart: shared and different initials,
    /// either case, mostly literal (a wildcard turns the filter off).
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
}
