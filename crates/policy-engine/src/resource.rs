//! Resource ARN patterns and the resource types an action accepts: can a statement's `Resource`
//! or `NotResource` apply to an action at all?
//!
//! A policy's ARN pattern has `*` (any run of characters, colons and slashes included: IAM lets
//! a `*` at a segment's end expand past the colon) and `?` (one character). An action's resource
//! types come from AWS's Service Authorization Reference as ARN templates such as
//! `arn:${Partition}:s3:::${BucketName}`. A placeholder stands for any text, except where AWS
//! documents a narrower one: [`SEGMENT_PLACEHOLDERS`] never hold `/` or `:`; a `*` in a template
//! is any text. So a template covers at least every real ARN of its type. Names are not narrowed
//! further: IAM's paths may hold `:` (any of `!` to `~`), so `role/ops:x/Admin` is a role.
//! Those segment placeholders are never empty but `${Region}`: an S3 Multi-Region Access
//! Point's ARN has none (`arn:aws:s3::123456789012:accesspoint/x.mrap/object/*`, "Making requests
//! through a Multi-Region Access Point"), and an `Allow` on it grants what the regional access
//! point's would. (AWS's own public resources have ARNs without an account, e.g.
//! `arn:aws:ssm:us-east-1::parameter/aws/...`: nobody's policy can grant a write on them, so
//! reading `${Account}` as non-empty misses no grant that matters.)
//!
//! The questions are answered exactly on those pattern languages, by walking the product of
//! their automata, and each on its safe side: a question that decides an `Allow` applies
//! compares case-insensitively (it may apply more often, never less); one that decides a `Deny`
//! covers compares exactly (it may cover less often, never more).

use crate::search::{Pending, Seen};
use std::collections::{HashSet, VecDeque};

/// Placeholders whose text never holds `/` or `:`: partitions, regions and account IDs (the ARN
/// format's own segments) and S3 bucket names (S3's naming rules: lower-case letters, digits,
/// dots and hyphens). This is what tells a bucket (`arn:aws:s3:::b`) from an object
/// (`arn:aws:s3:::b/key`).
pub const SEGMENT_PLACEHOLDERS: &[&str] =
    &["Partition", "Region", "Account", "AccountId", "BucketName"];

/// Segment placeholders that may be empty: a region ([`SEGMENT_PLACEHOLDERS`]' note).
const MAY_BE_EMPTY: &[&str] = &["Region"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `?`: any one character.
    One,
    /// `*`, or a placeholder: any run of characters.
    Any,
    /// One character of a placeholder of [`SEGMENT_PLACEHOLDERS`] (never empty): not `/` or `:`.
    SegmentOne,
    /// The rest of it: any run without `/` or `:`.
    Segment,
    /// A policy variable in a `Deny`: matches nothing.
    Never,
}

/// A compiled ARN pattern or template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn(Vec<Token>);

impl Arn {
    /// A policy's `Resource` / `NotResource` entry, as it can apply to an `Allow`: a policy
    /// variable (`${aws:username}`, `${aws:PrincipalTag/x}`) is replaced at request time by a
    /// value this cannot know, so it stands for any text.
    pub fn pattern(text: &str) -> Arn {
        Arn::policy_entry(text, Token::Any)
    }

    /// The same entry as it can remove a grant in a `Deny`: a policy variable may be replaced
    /// by anything, so it is taken to match nothing (the `Deny` then covers less, never more).
    pub fn deny_pattern(text: &str) -> Arn {
        Arn::policy_entry(text, Token::Never)
    }

    fn policy_entry(text: &str, variable: Token) -> Arn {
        let bytes = text.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut at = 0;
        while let Some(&c) = bytes.get(at) {
            if c == b'$'
                && bytes.get(at + 1) == Some(&b'{')
                && let Some(end) = bytes[at + 2..].iter().position(|&b| b == b'}')
            {
                tokens.push(variable);
                at += end + 3;
                continue;
            }
            tokens.push(match c {
                b'*' => Token::Any,
                b'?' => Token::One,
                c => Token::Byte(c),
            });
            at += 1;
        }
        Arn(tokens)
    }

    /// A resource type's ARN template, placeholders `${Name}` included.
    pub fn template(text: &str) -> Arn {
        let mut tokens = Vec::with_capacity(text.len());
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("${")
                && let Some(end) = after.find('}')
            {
                let name = &after[..end];
                if MAY_BE_EMPTY.contains(&name) {
                    tokens.push(Token::Segment);
                } else if SEGMENT_PLACEHOLDERS.contains(&name) {
                    tokens.extend([Token::SegmentOne, Token::Segment]);
                } else {
                    tokens.push(Token::Any);
                }
                rest = &after[end + 1..];
                continue;
            }
            let c = rest.as_bytes()[0];
            tokens.push(if c == b'*' {
                Token::Any
            } else {
                Token::Byte(c)
            });
            rest = &rest[1..];
        }
        Arn(tokens)
    }

    /// True when the pattern matches every string (`*`, `**`): the request's resource whatever
    /// it is, including the `*` of an action that accepts no resource type.
    pub fn matches_everything(&self) -> bool {
        !self.0.is_empty() && self.0.iter().all(|t| *t == Token::Any)
    }
}

/// True when some ARN matches both (case-insensitively: the `Allow` side).
pub fn overlaps(a: &Arn, b: &Arn) -> bool {
    both_match_some(a, b, true)
}

/// True when every ARN `template` matches is matched by one of `patterns` (exactly, case
/// included: the `Deny` side).
pub fn covers(patterns: &[Arn], template: &Arn) -> bool {
    // Nearly always none of them shares an ARN with the template: then, the template matching
    // some ARN, they cover nothing of it. That is decided without the subset construction.
    let template_matches_some = !template.0.contains(&Token::Never);
    if template_matches_some && !patterns.iter().any(|p| both_match_some(p, template, false)) {
        return false;
    }
    // Or an ARN of the template that none of them matches is found by filling it in: a Deny
    // on some roles is told from one on every role without the subset construction.
    if template_matches_some
        && witnesses(template)
            .iter()
            .any(|arn| !patterns.iter().any(|p| both_match_some(p, arn, false)))
    {
        return false;
    }
    let patterns: Vec<&Arn> = patterns.iter().collect();
    !exists(&[template], &patterns, false)
}

/// True when some ARN matches both `a` and `b` (case-insensitively when `fold`): a search of
/// the pairs of positions the two can be at, cheaper than [`exists`]'s sets of positions,
/// which only complements need.
fn both_match_some(a: &Arn, b: &Arn, fold: bool) -> bool {
    let (a, b) = (&a.0, &b.0);
    let width = b.len() + 1;
    let mut seen = Seen::new((a.len() + 1) * width);
    let mut pending = Pending::of((0, 0));
    while let Some((i, j)) = pending.pop() {
        if !seen.insert(i * width + j) {
            continue;
        }
        if i == a.len() && j == b.len() {
            return true;
        }
        // A run may be empty.
        if matches!(a.get(i), Some(Token::Any | Token::Segment)) {
            pending.push((i + 1, j));
        }
        if matches!(b.get(j), Some(Token::Any | Token::Segment)) {
            pending.push((i, j + 1));
        }
        if let (Some(&x), Some(&y)) = (a.get(i), b.get(j))
            && read_alike(x, y, fold)
        {
            pending.push((after_one(i, x), after_one(j, y)));
        }
    }
    false
}

/// ARNs a template matches, each as a pattern that matches only it: its runs read as nothing
/// and as a letter, its segments as one letter.
fn witnesses(template: &Arn) -> [Arn; 2] {
    let fill = |run: &[Token]| {
        let mut arn = Vec::with_capacity(template.0.len() + 2);
        for &token in &template.0 {
            match token {
                Token::Any => arn.extend_from_slice(run),
                Token::One | Token::SegmentOne => arn.push(Token::Byte(b'x')),
                Token::Segment | Token::Never => {}
                byte @ Token::Byte(_) => arn.push(byte),
            }
        }
        Arn(arn)
    };
    [fill(&[]), fill(&[Token::Byte(b'x')])]
}

/// True when some one character is read by both tokens.
fn read_alike(x: Token, y: Token, fold: bool) -> bool {
    let in_segment = |c: u8| c != b'/' && c != b':';
    match (x, y) {
        (Token::Never, _) | (_, Token::Never) => false,
        (Token::Byte(p), Token::Byte(q)) => p == q || (fold && p.eq_ignore_ascii_case(&q)),
        (Token::Byte(c), Token::Segment | Token::SegmentOne)
        | (Token::Segment | Token::SegmentOne, Token::Byte(c)) => in_segment(c),
        // `*`, `?` and segments: some character (a letter) is read by both.
        _ => true,
    }
}

/// Where a token leaves its pattern after reading one character: a run stays.
fn after_one(pos: usize, token: Token) -> usize {
    match token {
        Token::Any | Token::Segment => pos,
        _ => pos + 1,
    }
}

/// True when some string matches every pattern of `all` and none of `none`.
fn exists(all: &[&Arn], none: &[&Arn], fold: bool) -> bool {
    let patterns: Vec<&Arn> = all.iter().chain(none).copied().collect();
    let norm = |c: u8| if fold { c.to_ascii_lowercase() } else { c };
    // One representative per class of characters the patterns tell apart.
    let mut alphabet: Vec<u8> = patterns
        .iter()
        .flat_map(|p| p.0.iter())
        .filter_map(|t| match t {
            Token::Byte(c) => Some(norm(*c)),
            _ => None,
        })
        .chain([b'/', b':', 0])
        .collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    let start: Vec<Vec<bool>> = patterns.iter().map(|p| closure(p, &[0])).collect();
    let mut seen: HashSet<Vec<Vec<bool>>> = HashSet::new();
    let mut queue = VecDeque::from([start]);
    while let Some(state) = queue.pop_front() {
        if !seen.insert(state.clone()) {
            continue;
        }
        let accepted = |k: usize| state[k][patterns[k].0.len()];
        if (0..all.len()).all(accepted) && !(all.len()..patterns.len()).any(accepted) {
            return true;
        }
        // Once every pattern of `none` is dead, one pattern of `all` only has to be finished:
        // the common question (a template against a Deny's ARNs) ends here, not in a search of
        // every string the template still matches.
        if let [only] = all
            && state[1..].iter().all(|at| !at.contains(&true))
        {
            return can_finish(only, &state[0]);
        }
        for &c in &alphabet {
            let next: Vec<Vec<bool>> = patterns
                .iter()
                .zip(&state)
                .map(|(p, at)| step(p, at, c, norm))
                .collect();
            let dead = next[..all.len()].iter().any(|at| !at.contains(&true));
            if !dead && !seen.contains(&next) {
                queue.push_back(next);
            }
        }
    }
    false
}

/// True when some text takes `pattern` from one of the positions `at` to its end: when no
/// policy variable of a `Deny` (which matches nothing) is in the way.
fn can_finish(pattern: &Arn, at: &[bool]) -> bool {
    // The last live position has the fewest tokens left to read.
    let Some(last) = at.iter().rposition(|&live| live) else {
        return false;
    };
    !pattern.0[last..].contains(&Token::Never)
}

/// The positions reachable from `from` without reading a character (a run may be empty).
fn closure(pattern: &Arn, from: &[usize]) -> Vec<bool> {
    let mut at = vec![false; pattern.0.len() + 1];
    for &start in from {
        let mut pos = start;
        loop {
            at[pos] = true;
            match pattern.0.get(pos) {
                Some(Token::Any | Token::Segment) => pos += 1,
                _ => break,
            }
        }
    }
    at
}

fn step(pattern: &Arn, at: &[bool], c: u8, norm: impl Fn(u8) -> u8) -> Vec<bool> {
    let mut targets = Vec::new();
    for (pos, token) in pattern.0.iter().enumerate().filter(|(pos, _)| at[*pos]) {
        match *token {
            Token::Any => targets.push(pos),
            Token::Segment if c != b'/' && c != b':' => targets.push(pos),
            Token::SegmentOne if c != b'/' && c != b':' => targets.push(pos + 1),
            Token::SegmentOne => {}
            Token::Segment | Token::Never => {}
            Token::One => targets.push(pos + 1),
            Token::Byte(b) if norm(b) == c => targets.push(pos + 1),
            Token::Byte(_) => {}
        }
    }
    closure(pattern, &targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = "arn:${Partition}:s3:::${BucketName}";
    const OBJECT: &str = "arn:${Partition}:s3:::${BucketName}/${ObjectName}";

    #[test]
    fn an_object_arn_is_no_bucket() {
        let objects = Arn::pattern("arn:aws:s3:::reports/*");
        assert!(!overlaps(&objects, &Arn::template(BUCKET)));
        assert!(overlaps(&objects, &Arn::template(OBJECT)));
        assert!(overlaps(
            &Arn::pattern("arn:aws:s3:::reports*"),
            &Arn::template(BUCKET)
        ));
    }

    #[test]
    fn a_multi_region_access_point_arn_has_no_region_and_is_an_access_point_objects() {
        const ACCESS_POINT_OBJECT: &str = "arn:${Partition}:s3:${Region}:${Account}:accesspoint/${AccessPointName}/object/${ObjectName}";
        let template = Arn::template(ACCESS_POINT_OBJECT);
        let mrap = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap/object/*";
        assert!(overlaps(&Arn::pattern(mrap), &template));
        // A Deny covers those objects only if it covers the region-less ARNs too.
        assert!(covers(
            &[Arn::deny_pattern("arn:*:s3:*:*:accesspoint/*")],
            &template
        ));
        assert!(!covers(
            &[Arn::deny_pattern("arn:*:s3:?*:*:accesspoint/*")],
            &template
        ));
        // An account is never empty.
        assert!(!overlaps(
            &Arn::pattern("arn:aws:s3:us-east-1::accesspoint/x/object/*"),
            &template
        ));
    }

    #[test]
    fn a_star_spans_colons_and_slashes() {
        let role = Arn::template("arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}");
        assert!(overlaps(&Arn::pattern("arn:aws:iam::*"), &role));
        assert!(overlaps(&Arn::pattern("*"), &role));
        assert!(!overlaps(&Arn::pattern("arn:aws:s3:::*"), &role));
    }

    #[test]
    fn a_policy_variable_is_any_text_for_an_allow_and_nothing_for_a_deny() {
        let user = Arn::template("arn:${Partition}:iam::${Account}:user/${UserNameWithPath}");
        let own = "arn:aws:iam::*:user/${aws:username}";
        assert!(overlaps(&Arn::pattern(own), &user));
        let bucket = Arn::template(BUCKET);
        assert!(!covers(
            &[Arn::deny_pattern("arn:*:s3:::${aws:username}*")],
            &bucket
        ));
        assert!(covers(&[Arn::deny_pattern("arn:*:s3:::*")], &bucket));
    }

    #[test]
    fn an_iam_path_may_hold_a_colon() {
        let user = Arn::template("arn:${Partition}:iam::${Account}:user/${UserNameWithPath}");
        let role = Arn::template("arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}");
        assert!(!overlaps(
            &Arn::pattern("arn:aws:iam::123456789012:role/Admin"),
            &user
        ));
        assert!(overlaps(&Arn::pattern("arn:aws:iam::*:user/ops/*"), &user));
        // role/ops:x/Admin is a role: its path is /ops:x/
        assert!(overlaps(&Arn::pattern("arn:aws:iam::*:role/*:*"), &role));
        // Elsewhere a name may hold anything: an alarm's name may hold `:`.
        let alarm =
            Arn::template("arn:${Partition}:cloudwatch:${Region}:${Account}:alarm:${AlarmName}");
        assert!(overlaps(
            &Arn::pattern("arn:aws:cloudwatch:*:*:alarm:a:b"),
            &alarm
        ));
    }

    #[test]
    fn every_bucket_is_covered_by_a_partition_wildcard() {
        let every = [Arn::pattern("arn:*:s3:::*")];
        assert!(covers(&every, &Arn::template(BUCKET)));
        assert!(covers(&every, &Arn::template(OBJECT)));
        assert!(!covers(
            &[Arn::pattern("arn:aws:s3:::prod-*")],
            &Arn::template(BUCKET)
        ));
        // One partition is not every partition.
        assert!(!covers(
            &[Arn::pattern("arn:aws:s3:::*")],
            &Arn::template(BUCKET)
        ));
    }

    #[test]
    fn covering_is_exact_about_case_and_overlapping_is_not() {
        let upper = [Arn::pattern("ARN:*:S3:::*")];
        assert!(!covers(&upper, &Arn::template(BUCKET)));
        assert!(overlaps(&upper[0], &Arn::template(BUCKET)));
    }

    #[test]
    fn a_union_covers_what_no_single_pattern_does() {
        let split = [Arn::pattern("arn:*:s3:::a*"), Arn::pattern("arn:*:s3:::")];
        assert!(!covers(&split, &Arn::template(BUCKET)));
        let whole = [
            Arn::pattern("arn:*:s3:::a*"),
            Arn::pattern("arn:*:s3:::"),
            Arn::pattern("arn:*:s3:::?*"),
        ];
        assert!(covers(&whole, &Arn::template(BUCKET)));
    }

    /// ARN patterns and templates made of the pieces that tell them apart.
    fn arn_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![
            "arn:",
            "s3",
            ":",
            "/",
            "a",
            "A",
            "b",
            "*",
            "?",
            "${Account}",
            "${Name}",
            "${aws:x}",
        ]);
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        /// The pair search gives what the general search of sets of positions gives.
        #[test]
        fn overlapping_agrees_with_the_general_search(
            a in arn_text(),
            b in arn_text(),
            deny in proptest::bool::ANY,
        ) {
            let a = if deny { Arn::deny_pattern(&a) } else { Arn::pattern(&a) };
            let b = Arn::template(&b);
            proptest::prop_assert_eq!(overlaps(&a, &b), exists(&[&a, &b], &[], true));
            proptest::prop_assert_eq!(
                both_match_some(&a, &b, false),
                exists(&[&a, &b], &[], false)
            );
        }

        #[test]
        fn covering_agrees_with_the_general_search(
            patterns in proptest::collection::vec(arn_text(), 0..3),
            template in arn_text(),
        ) {
            let patterns: Vec<Arn> = patterns.iter().map(|p| Arn::deny_pattern(p)).collect();
            let template = Arn::template(&template);
            let all: Vec<&Arn> = patterns.iter().collect();
            proptest::prop_assert_eq!(
                covers(&patterns, &template),
                !exists(&[&template], &all, false)
            );
        }

        /// A template's witnesses are ARNs it matches, so one no Deny pattern matches is one
        /// they leave uncovered.
        #[test]
        fn a_witness_is_an_arn_of_its_template(template in arn_text()) {
            let template = Arn::template(&template);
            for witness in witnesses(&template) {
                proptest::prop_assert!(witness.0.iter().all(|t| matches!(t, Token::Byte(_))));
                proptest::prop_assert!(both_match_some(&template, &witness, false));
            }
        }

        /// With a second pattern of `all` that changes nothing, the search runs to the end
        /// without its shortcut for one pattern: both say the same.
        #[test]
        fn the_search_for_one_pattern_ends_as_the_full_search(
            one in arn_text(),
            kind in 0..3,
            none in proptest::collection::vec(arn_text(), 0..3),
        ) {
            let one = match kind {
                0 => Arn::template(&one),
                1 => Arn::pattern(&one),
                _ => Arn::deny_pattern(&one),
            };
            let none: Vec<Arn> = none.iter().map(|p| Arn::deny_pattern(p)).collect();
            let none: Vec<&Arn> = none.iter().collect();
            let anything = Arn::pattern("*");
            proptest::prop_assert_eq!(
                exists(&[&one], &none, false),
                exists(&[&one, &anything], &none, false)
            );
        }
    }

    #[test]
    fn only_stars_match_everything() {
        assert!(Arn::pattern("*").matches_everything());
        assert!(Arn::pattern("**").matches_everything());
        assert!(!Arn::pattern("arn:*").matches_everything());
    }
}
