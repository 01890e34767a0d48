//! IAM action patterns and exact reasoning about the sets of actions they cover.
//!
//! An action pattern is matched against `service:ActionName` case-insensitively; `*` matches any
//! run of characters (including none) and `?` exactly one. Every question here is decided on the
//! patterns themselves, never on a list of known actions, so the answers stay right for actions
//! AWS adds after our catalog was generated. An action name is always `service:Name` with exactly
//! one colon, so `ec2:A*` and `*:DeleteBucket` have nothing in common but `ec2:DeleteBucket`-like
//! names would: the reasoning only counts strings of that shape, and neither part may be empty
//! (`s3:` is no action, so `s3:?*` covers every action `s3:*` does).

use std::collections::{HashSet, VecDeque};

use crate::search::{Pending, Seen};

/// True when `action` (a concrete name or itself a pattern, taken literally) matches `pattern`.
pub fn matches(pattern: &str, action: &str) -> bool {
    matches_bytes(pattern.as_bytes(), action.as_bytes())
}

fn matches_bytes(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Where to resume after the last `*`: the star's position and how much of `s` it has taken.
    let mut resume: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                resume = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&s[si]) => {
                pi += 1;
                si += 1;
            }
            _ => match resume {
                Some((star, taken)) => {
                    pi = star + 1;
                    si = taken + 1;
                    resume = Some((star, taken + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The pattern's literal text before its first wildcard (`s3:Delete` for `s3:Delete*`).
pub fn literal_prefix(pattern: &str) -> &str {
    let end = pattern
        .bytes()
        .position(is_wildcard)
        .unwrap_or(pattern.len());
    &pattern[..end]
}

/// True when the pattern has no wildcard, so it names exactly one action.
pub fn is_literal(pattern: &str) -> bool {
    !pattern.bytes().any(is_wildcard)
}

/// True when the pattern matches every possible action (`*`, `**`, ...).
pub fn matches_everything(pattern: &str) -> bool {
    !pattern.is_empty() && pattern.bytes().all(|c| c == b'*')
}

/// True when the action pattern matches every action (`*`, `*:*`, `?*:*`).
pub fn matches_every_action(pattern: &str) -> bool {
    Language::is_subset(&[PatternSet::any_of(["*"])], &PatternSet::any_of([pattern]))
}

/// True when some action matches both patterns (`iam:Create*` and `iam:*User` both match
/// `iam:CreateUser`).
#[inline]
pub fn overlaps(a: &str, b: &str) -> bool {
    // Most pairs asked about are of two services with different initials: told apart here,
    // inlined into the caller's loop over a policy's entries.
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y))
            if !is_wildcard(*x) && !is_wildcard(*y) && !x.eq_ignore_ascii_case(y) =>
        {
            false
        }
        _ => overlaps_past_initials(a, b),
    }
}

fn overlaps_past_initials(a: &str, b: &str) -> bool {
    if !literal_ends_agree(a.as_bytes(), b.as_bytes()) {
        return false;
    }
    // The shapes real policies are made of, decided without an automaton.
    match (is_literal(a), is_literal(b)) {
        (true, _) => return is_action_shaped(a.as_bytes()) && matches(b, a),
        (_, true) => return is_action_shaped(b.as_bytes()) && matches(a, b),
        _ => {}
    }
    if action_prefix(a) && action_prefix(b) {
        // `x*` and `y*`: once the literal ends agree, one prefix starts the other, and the
        // longer one followed by any letter is an action both match.
        return true;
    }
    pair_overlaps(a.as_bytes(), b.as_bytes())
}

/// True when some action matches both patterns: a search of the pairs of positions the two
/// can be at together, with the shape of the action read so far (what [`Language::all`]
/// decides for any sets, complements included, by a subset construction that two patterns do
/// not need).
fn pair_overlaps(a: &[u8], b: &[u8]) -> bool {
    // The shape: bit 0, a colon was read; bit 1, the service has a character; bit 2, the name.
    const COLON: usize = 1;
    const SERVICE: usize = 2;
    const NAME: usize = 4;
    const ACTION: usize = COLON | SERVICE | NAME;
    let width = b.len() + 1;
    let mut seen = Seen::new((a.len() + 1) * width * 8);
    let mut pending = Pending::of((0, 0, 0));
    // Reading one character: a colon, or any other (a letter where both are wildcards).
    let read = |shape: usize, c: u8| match (c, shape & COLON) {
        (b':', 0) => Some(shape | COLON),
        (b':', _) => None,
        (_, 0) => Some(shape | SERVICE),
        _ => Some(shape | NAME),
    };
    while let Some((i, j, shape)) = pending.pop() {
        if !seen.insert((i * width + j) * 8 + shape) {
            continue;
        }
        if i == a.len() && j == b.len() && shape == ACTION {
            return true;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        // A star may match nothing.
        if x == Some(b'*') {
            pending.push((i + 1, j, shape));
        }
        if y == Some(b'*') {
            pending.push((i, j + 1, shape));
        }
        let (Some(x), Some(y)) = (x, y) else {
            continue;
        };
        let next = |pos: usize, c: u8| if c == b'*' { pos } else { pos + 1 };
        let characters: &[u8] = match (is_wildcard(x), is_wildcard(y)) {
            (true, true) => b":a",
            (true, false) => &[y],
            (false, true) => &[x],
            (false, false) if x.eq_ignore_ascii_case(&y) => &[x],
            (false, false) => &[],
        };
        for &c in characters {
            if let Some(shape) = read(shape, c) {
                pending.push((next(i, x), next(j, y), shape));
            }
        }
    }
    false
}

/// True for a pattern `prefix*` whose prefix already has its one colon and a service before it
/// (`iam:Get*`, `s3:*`): every action starting with the prefix matches it.
fn action_prefix(pattern: &str) -> bool {
    let Some(prefix) = pattern.strip_suffix('*') else {
        return false;
    };
    let mut parts = prefix.split(':');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(service), Some(_), None) if !service.is_empty()
    ) && is_literal(prefix)
}

/// Cheap necessary condition for an overlap: the literal text before the first wildcard of each
/// pattern agrees, and so does the literal text after the last one. Rejects almost every pair
/// from unrelated services without building an automaton.
fn literal_ends_agree(a: &[u8], b: &[u8]) -> bool {
    // Pairs of characters until either is a wildcard or a pattern ends: all must agree.
    let agree = |pairs: &mut dyn Iterator<Item = (&u8, &u8)>| {
        for (x, y) in pairs {
            if is_wildcard(*x) || is_wildcard(*y) {
                return true;
            }
            if !x.eq_ignore_ascii_case(y) {
                return false;
            }
        }
        true
    };
    agree(&mut a.iter().zip(b)) && agree(&mut a.iter().rev().zip(b.iter().rev()))
}

fn is_wildcard(c: u8) -> bool {
    c == b'*' || c == b'?'
}

fn is_action_shaped(action: &[u8]) -> bool {
    let mut parts = action.split(|&c| c == b':');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(service), Some(name), None) if !service.is_empty() && !name.is_empty()
    )
}

/// Actions a pattern matches, to try first: its wildcards read as nothing, and as a letter.
fn witnesses(pattern: &[u8]) -> [Vec<u8>; 2] {
    let read = |star: &[u8]| {
        let mut action = Vec::with_capacity(pattern.len() + 1);
        for &c in pattern {
            match c {
                b'*' => action.extend_from_slice(star),
                b'?' => action.push(b'z'),
                c => action.push(c),
            }
        }
        action
    };
    [read(b""), read(b"z")]
}

/// True when `outer` is a literal prefix and stars (`s3:*`, `*`) and that prefix starts every
/// action `inner` matches: `outer` matches all of them.
fn prefix_covers(outer: &[u8], inner: &[u8]) -> bool {
    let prefix_end = outer
        .iter()
        .position(|&c| is_wildcard(c))
        .unwrap_or(outer.len());
    let (prefix, rest) = outer.split_at(prefix_end);
    let inner_literal = &inner[..inner
        .iter()
        .position(|&c| is_wildcard(c))
        .unwrap_or(inner.len())];
    !rest.is_empty()
        && rest.iter().all(|&c| c == b'*')
        && inner_literal.len() >= prefix.len()
        && inner_literal[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// A union of patterns, or its complement: "matches any of these" / "matches none of these".
#[derive(Debug, Clone)]
pub struct PatternSet<'p> {
    patterns: Vec<&'p [u8]>,
    complement: bool,
}

impl<'p> PatternSet<'p> {
    /// The actions matching at least one of `patterns`.
    pub fn any_of<I: IntoIterator<Item = &'p str>>(patterns: I) -> Self {
        let patterns = patterns.into_iter().map(str::as_bytes).collect();
        PatternSet {
            patterns,
            complement: false,
        }
    }

    /// The actions matching none of `patterns`.
    pub fn none_of<I: IntoIterator<Item = &'p str>>(patterns: I) -> Self {
        PatternSet {
            complement: true,
            ..Self::any_of(patterns)
        }
    }
}

/// Exact decisions on intersections of pattern sets, by walking the product of the patterns'
/// automata (subset construction, so complements are exact too).
pub struct Language;

impl Language {
    /// True when at least one action belongs to every set (the intersection is not empty).
    pub fn all(sets: &[PatternSet<'_>]) -> bool {
        // A set of literals makes the intersection finite: test its members one by one.
        let literals = sets
            .iter()
            .filter(|s| {
                !s.complement
                    && s.patterns
                        .iter()
                        .all(|p| !p.iter().any(|&c| is_wildcard(c)))
            })
            .min_by_key(|s| s.patterns.len());
        let in_all = |action: &[u8]| {
            is_action_shaped(action)
                && sets.iter().all(|set| {
                    let member = set.patterns.iter().any(|p| matches_bytes(p, action));
                    member != set.complement
                })
        };
        if let Some(finite) = literals {
            return finite.patterns.iter().any(|&action| in_all(action));
        }
        // Two cheap answers before the automaton: an action of one of the sets that is in every
        // set, or a set that some complement excludes whole.
        let positive = || sets.iter().filter(|s| !s.complement);
        if positive()
            .flat_map(|s| s.patterns.iter())
            .any(|p| witnesses(p).iter().any(|w| in_all(w)))
        {
            return true;
        }
        let excluded_whole = |set: &PatternSet<'_>| {
            let [pattern] = set.patterns[..] else {
                return false;
            };
            sets.iter()
                .filter(|s| s.complement)
                .any(|s| s.patterns.iter().any(|p| prefix_covers(p, pattern)))
        };
        if positive().any(excluded_whole) {
            return false;
        }
        Product::new(sets).has_common_member()
    }

    /// True when every action of `inner` also belongs to `outer`.
    pub fn is_subset(inner: &[PatternSet<'_>], outer: &PatternSet<'_>) -> bool {
        let mut sets = inner.to_vec();
        sets.push(PatternSet {
            complement: !outer.complement,
            ..outer.clone()
        });
        !Self::all(&sets)
    }
}

/// The product automaton. A state is, for every pattern, the set of positions it may be at,
/// packed into one bitset (position `len` means "matched so far"), and, in its last word, the
/// shape of the action read so far: how many colons (more than one: not an action) and whether
/// the service and the name have a character yet.
struct Product<'s, 'p> {
    sets: &'s [PatternSet<'p>],
    /// Bit offset of each pattern's positions in the state bitset, per set then per pattern.
    offsets: Vec<Vec<usize>>,
    words: usize,
    /// One representative byte per class of input characters that the patterns tell apart.
    alphabet: Vec<u8>,
}

type State = Vec<u64>;

/// Bits of a state's last word above the colon count.
const HAS_SERVICE: u64 = 1 << 8;
const HAS_NAME: u64 = 1 << 9;
const COLONS: u64 = 0xff;

impl<'s, 'p> Product<'s, 'p> {
    fn new(sets: &'s [PatternSet<'p>]) -> Self {
        let mut next_bit = 0;
        let offsets = sets
            .iter()
            .map(|set| {
                set.patterns
                    .iter()
                    .map(|p| {
                        let offset = next_bit;
                        next_bit += p.len() + 1;
                        offset
                    })
                    .collect()
            })
            .collect();
        let mut alphabet: Vec<u8> = sets
            .iter()
            .flat_map(|s| s.patterns.iter().flat_map(|p| p.iter()))
            .filter(|&&c| !is_wildcard(c))
            .map(u8::to_ascii_lowercase)
            .collect();
        alphabet.push(b':');
        alphabet.sort_unstable();
        alphabet.dedup();
        // Stands for every character no pattern names literally: only wildcards match it.
        alphabet.push(0);
        Product {
            sets,
            offsets,
            words: next_bit.div_ceil(64) + 1,
            alphabet,
        }
    }

    fn has_common_member(&self) -> bool {
        let mut start = vec![0u64; self.words];
        for (s, set) in self.sets.iter().enumerate() {
            for (k, pattern) in set.patterns.iter().enumerate() {
                self.enter(&mut start, self.offsets[s][k], pattern, 0);
            }
        }
        let mut seen: HashSet<State> = HashSet::new();
        let mut queue = VecDeque::from([start]);
        while let Some(state) = queue.pop_front() {
            if !seen.insert(state.clone()) {
                continue;
            }
            if self.accepts(&state) {
                return true;
            }
            for &c in &self.alphabet {
                let next = self.step(&state, c);
                if !self.is_dead(&next) && !seen.contains(&next) {
                    queue.push_back(next);
                }
            }
        }
        false
    }

    /// Adds position `pos` of `pattern` to the state, and the positions after any `*` run there
    /// (a star may match nothing).
    fn enter(&self, state: &mut State, offset: usize, pattern: &[u8], mut pos: usize) {
        loop {
            let bit = offset + pos;
            state[bit / 64] |= 1 << (bit % 64);
            if pattern.get(pos) != Some(&b'*') {
                return;
            }
            pos += 1;
        }
    }

    fn has(&self, state: &State, bit: usize) -> bool {
        state[bit / 64] & (1 << (bit % 64)) != 0
    }

    fn colons(&self, state: &State) -> u64 {
        state[self.words - 1] & COLONS
    }

    fn step(&self, state: &State, c: u8) -> State {
        let mut next = vec![0u64; self.words];
        let shape = state[self.words - 1];
        next[self.words - 1] = match (c, shape & COLONS) {
            (b':', colons) => (shape & !COLONS) | (colons + 1).min(2),
            (_, 0) => shape | HAS_SERVICE,
            _ => shape | HAS_NAME,
        };
        for (s, set) in self.sets.iter().enumerate() {
            for (k, pattern) in set.patterns.iter().enumerate() {
                let offset = self.offsets[s][k];
                for (pos, &p) in pattern.iter().enumerate() {
                    if !self.has(state, offset + pos) {
                        continue;
                    }
                    if p == b'*' {
                        self.enter(&mut next, offset, pattern, pos);
                    } else if p == b'?' || p.eq_ignore_ascii_case(&c) {
                        self.enter(&mut next, offset, pattern, pos + 1);
                    }
                }
            }
        }
        next
    }

    fn set_matches(&self, state: &State, s: usize) -> bool {
        let set = &self.sets[s];
        let any = set
            .patterns
            .iter()
            .enumerate()
            .any(|(k, p)| self.has(state, self.offsets[s][k] + p.len()));
        any != set.complement
    }

    fn accepts(&self, state: &State) -> bool {
        let shape = state[self.words - 1];
        shape == 1 | HAS_SERVICE | HAS_NAME
            && (0..self.sets.len()).all(|s| self.set_matches(state, s))
    }

    /// A state from which no action can be in the intersection: some positive set has no live
    /// pattern left.
    fn is_dead(&self, state: &State) -> bool {
        self.colons(state) > 1
            || self.sets.iter().enumerate().any(|(s, set)| {
                !set.complement
                    && set.patterns.iter().enumerate().all(|(k, p)| {
                        let offset = self.offsets[s][k];
                        (0..=p.len()).all(|pos| !self.has(state, offset + pos))
                    })
            })
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    #[test]
    fn matching_ignores_case() {
        assert!(matches("S3:deletebucket", "s3:DeleteBucket"));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(matches("s3:Delete*", "s3:Delete"));
        assert!(matches("s3:Delete*", "s3:DeleteObjectVersion"));
        assert!(matches("*", "iam:PassRole"));
        assert!(matches("iam:*User", "iam:CreateUser"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(matches("s3:Get?bject", "s3:GetObject"));
        assert!(!matches("s3:Get?bject", "s3:Getbject"));
    }

    #[test]
    fn a_literal_is_no_prefix_or_substring_match() {
        assert!(!matches("s3:DeleteObject", "s3:DeleteObjectVersion"));
        assert!(!matches("s3:DeleteObject", "s3:Delete"));
    }

    #[test]
    fn star_backtracks() {
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn wildcards_overlap_in_both_directions() {
        assert!(overlaps("iam:Create*", "iam:*User"));
        assert!(overlaps("iam:*User", "iam:Create*"));
    }

    #[test]
    fn the_fast_overlap_paths_agree_with_the_automaton() {
        let patterns = [
            "s3:DeleteBucket",
            "s3:deletebucket",
            "s3:Delete*",
            "s3:*",
            "S3:*Bucket",
            "iam:*",
            "iam:Get*",
            "*",
            "s3:",
            "s3:Get:Object",
            "ec2:Describe*",
            "*:DeleteBucket",
        ];
        for a in patterns {
            for b in patterns {
                let exact = literal_ends_agree(a.as_bytes(), b.as_bytes())
                    && Language::all(&[PatternSet::any_of([a]), PatternSet::any_of([b])]);
                assert_eq!(overlaps(a, b), exact, "{a} and {b}");
            }
        }
    }

    /// Action patterns made of the pieces that tell them apart: services, colons, wildcards,
    /// names in either case.
    fn pattern_text() -> impl proptest::strategy::Strategy<Value = String> {
        let piece = proptest::sample::select(vec![
            "s3", "S3", "iam", ":", ":", "*", "*", "?", "Get", "get", "Delete", "a", "",
        ]);
        proptest::collection::vec(piece, 0..7).prop_map(|pieces| pieces.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Two patterns' overlap, decided by the pair search and its fast paths, is what the
        /// product automaton decides.
        #[test]
        fn overlapping_agrees_with_the_automaton(a in pattern_text(), b in pattern_text()) {
            let by_automaton = Language::all(&[PatternSet::any_of([a.as_str()]), PatternSet::any_of([b.as_str()])]);
            proptest::prop_assert_eq!(overlaps(&a, &b), by_automaton);
            proptest::prop_assert_eq!(pair_overlaps(a.as_bytes(), b.as_bytes()), by_automaton);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// The cheap answers (a witness, a set excluded whole) are the automaton's answers.
        #[test]
        fn intersections_agree_with_the_automaton(
            sets in proptest::collection::vec(
                (proptest::collection::vec(pattern_text(), 1..4), proptest::bool::ANY),
                1..4,
            ),
        ) {
            let sets: Vec<PatternSet> = sets
                .iter()
                .map(|(patterns, complement)| PatternSet {
                    patterns: patterns.iter().map(|p| p.as_bytes()).collect(),
                    complement: *complement,
                })
                .collect();
            proptest::prop_assert_eq!(Language::all(&sets), Product::new(&sets).has_common_member());
        }
    }

    #[test]
    fn unrelated_patterns_do_not_overlap() {
        assert!(!overlaps("s3:DeleteObject", "s3:DeleteObjectVersion"));
        assert!(!overlaps("iam:Create*", "iam:Delete*"));
        assert!(!overlaps("s3:*", "ec2:*"));
        assert!(!overlaps("iam:*User", "iam:*Role"));
    }

    #[test]
    fn question_marks_overlap_by_length() {
        assert!(overlaps("s3:Get???", "s3:*Acl"));
        assert!(!overlaps("s3:Get??", "s3:*Acl"));
    }

    #[test]
    fn a_star_never_spans_a_second_colon() {
        assert!(!overlaps("ec2:A*", "*:DeleteBucket"));
        assert!(overlaps("ec2:*", "*:DeleteBucket"));
    }

    #[test]
    fn an_empty_service_or_name_is_no_action() {
        // `s3:?*` leaves out of `s3:*` only `s3:`, which is no action.
        assert!(!Language::all(&[
            PatternSet::any_of(["s3:*"]),
            PatternSet::none_of(["s3:?*"])
        ]));
        assert!(!Language::all(&[
            PatternSet::any_of(["*:Get"]),
            PatternSet::none_of(["?*:Get"])
        ]));
        assert!(!Language::all(&[PatternSet::any_of(["s3:", ":Get"])]));
    }

    #[test]
    fn a_star_alone_covers_every_action() {
        assert!(Language::all(&[PatternSet::any_of(["*"])]));
        assert!(!Language::all(&[PatternSet::none_of(["*"])]));
    }

    #[test]
    fn subset_is_exact_on_patterns() {
        let inner = [PatternSet::any_of(["s3:DeleteBucket*"])];
        assert!(Language::is_subset(
            &inner,
            &PatternSet::any_of(["s3:Delete*"])
        ));
        assert!(!Language::is_subset(
            &inner,
            &PatternSet::any_of(["s3:DeleteBucket"])
        ));
    }

    #[test]
    fn complement_removes_what_it_names() {
        // s3:* minus s3:Delete* still has s3:Get*, but s3:Delete* minus s3:* has nothing.
        assert!(Language::all(&[
            PatternSet::any_of(["s3:*"]),
            PatternSet::none_of(["s3:Delete*"])
        ]));
        assert!(!Language::all(&[
            PatternSet::any_of(["s3:Delete*"]),
            PatternSet::none_of(["s3:*"])
        ]));
    }

    #[test]
    fn a_union_can_cover_what_no_single_pattern_covers() {
        // Neither `s3:Delete` nor `s3:Delete?*` covers `s3:Delete*`; together they do.
        let granted = PatternSet::any_of(["s3:Delete*"]);
        let denied = PatternSet::none_of(["s3:Delete", "s3:Delete?*"]);
        assert!(!Language::all(&[granted, denied]));
    }
}
