//! The common document read by hand: ASCII, strings without escapes, each key once, no
//! Principal. serde_json's typed reading was most of a large policy's time; this reader is
//! several times faster. It gives up (None) on anything else, valid or not (an escape, a
//! character outside ASCII, a number outside a Condition, an unknown or repeated key, invalid
//! JSON), and serde's reading then accepts or refuses the document and says why: whatever it
//! accepts, this reader gives what serde's would have given.

use std::borrow::Cow;

use super::condition::{Condition, WrittenCondition};
use super::scan;
use super::{Actions, OneOrMany, RawPolicy, RawStatement, Str, check_action_shape};

pub(super) fn policy(json: &str) -> Option<RawPolicy<'_>> {
    let mut reader = Reader {
        text: json,
        bytes: json.as_bytes(),
        pos: 0,
        strs: Vec::new(),
    };
    let mut policy = RawPolicy::default();
    reader.object(|r, key| match key {
        "Version" => once(&mut policy.version, r.str()),
        "Id" => once(&mut policy.id, r.str()),
        "Statement" => once(&mut policy.statement, r.one_or_many(Reader::statement)),
        _ => None,
    })?;
    reader.skip_white_space();
    (reader.pos == reader.bytes.len()).then_some(policy)
}

/// Sets a key's value, which must be the first: a repeated key is serde's to refuse.
fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// The entries of the string list being read.
    strs: Vec<Str<'a>>,
}

impl<'a> Reader<'a> {
    fn statement(&mut self) -> Option<RawStatement<'a>> {
        let mut s = RawStatement::default();
        self.object(|r, key| match key {
            "Sid" => once(&mut s.sid, r.str()),
            "Effect" => once(&mut s.effect, r.str()),
            "Action" => once(&mut s.action, r.actions()),
            "NotAction" => once(&mut s.not_action, r.actions()),
            "Resource" => once(&mut s.resource, r.strs()),
            "NotResource" => once(&mut s.not_resource, r.strs()),
            "Condition" => once(
                &mut s.condition,
                r.condition()
                    .map(|text| WrittenCondition(Condition::checked_text(text))),
            ),
            _ => None,
        })?;
        Some(s)
    }

    /// JSON's white space (what serde_json skips).
    fn skip_white_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_white_space();
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.pos += 1)
    }

    /// A string without escapes or control characters, borrowed from the text.
    fn string(&mut self) -> Option<&'a str> {
        self.quoted(|bytes, start| (scan::string_end(bytes, start), ()))
            .map(|(s, ())| s)
    }

    /// A string whose end `end` finds (with what else it learnt on the way), borrowed from the
    /// text.
    fn quoted<T>(&mut self, end: impl FnOnce(&[u8], usize) -> (usize, T)) -> Option<(&'a str, T)> {
        self.eat(b'"')?;
        let start = self.pos;
        let (end, learnt) = end(self.bytes, start);
        if self.bytes.get(end) != Some(&b'"') {
            return None;
        }
        // Both ends are at a `"`, so on character boundaries.
        self.pos = end + 1;
        Some((&self.text[start..end], learnt))
    }

    /// An `Action` or `NotAction` value whose every entry is a valid action: otherwise
    /// serde's reading decides, and validation says what is wrong.
    fn actions(&mut self) -> Option<Actions<'a>> {
        let entries = self.strs_of(Reader::action)?;
        Some(Actions {
            entries,
            checked: true,
        })
    }

    fn action(&mut self) -> Option<Str<'a>> {
        let (action, shape) = self.quoted(scan::action_end)?;
        check_action_shape(action, &shape).ok()?;
        Some(Str(Cow::Borrowed(action)))
    }

    fn str(&mut self) -> Option<Str<'a>> {
        self.string().map(|s| Str(Cow::Borrowed(s)))
    }

    fn strs(&mut self) -> Option<OneOrMany<Str<'a>>> {
        self.strs_of(Reader::str)
    }

    /// `{ "key": value, ... }`, `value` reading the value of each key.
    fn object(&mut self, mut value: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            value(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// One value, or an array of them.
    fn one_or_many<T>(&mut self, item: impl FnMut(&mut Self) -> Option<T>) -> Option<OneOrMany<T>> {
        let mut items = Vec::new();
        let is_list = self.items_into(&mut items, item)?;
        Some(OneOrMany { items, is_list })
    }

    /// One string, or an array of them. The entries are gathered in a buffer the reader keeps
    /// and copied out once, at their number: a list of a thousand actions is not grown by
    /// doubling (string lists never nest, so one buffer serves them all).
    fn strs_of(
        &mut self,
        item: impl FnMut(&mut Self) -> Option<Str<'a>>,
    ) -> Option<OneOrMany<Str<'a>>> {
        // Left empty by the last list (`append`), its capacity kept.
        let mut buffer = std::mem::take(&mut self.strs);
        let is_list = self.items_into(&mut buffer, item)?;
        let mut items = Vec::with_capacity(buffer.len());
        items.append(&mut buffer);
        self.strs = buffer;
        Some(OneOrMany { items, is_list })
    }

    /// Reads one value, or an array of them, into `items`: whether it was an array.
    fn items_into<T>(
        &mut self,
        items: &mut Vec<T>,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<bool> {
        if self.peek()? != b'[' {
            items.push(item(self)?);
            return Some(false);
        }
        self.pos += 1;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(true);
        }
        loop {
            items.push(item(self)?);
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(true);
                }
                _ => return None,
            }
        }
    }

    /// A Condition block as `condition::Condition`'s reading accepts it, its text: operators,
    /// each an object of condition keys, each with a string or Boolean or a non-empty list of
    /// them, no key twice. None for anything else (numbers and escapes included): serde's
    /// reading then decides, and says what is wrong.
    fn condition(&mut self) -> Option<&'a str> {
        self.peek()?;
        let start = self.pos;
        let mut operators = Distinct::default();
        self.object(|r, operator| {
            operators.insert(operator)?;
            let mut keys = Distinct::default();
            r.object(|r, key| {
                keys.insert(key)?;
                let values = r.one_or_many(Reader::condition_value)?;
                (!values.items.is_empty()).then_some(())
            })
        })?;
        Some(&self.text[start..self.pos])
    }

    fn condition_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word.as_bytes()).then(|| self.pos = end)
    }
}

/// The keys of one object, to refuse one twice; a larger object than this holds is left to
/// serde.
#[derive(Default)]
struct Distinct<'a> {
    keys: [&'a str; 16],
    len: usize,
}

impl<'a> Distinct<'a> {
    fn insert(&mut self, key: &'a str) -> Option<()> {
        if self.len == self.keys.len() || self.keys[..self.len].contains(&key) {
            return None;
        }
        self.keys[self.len] = key;
        self.len += 1;
        Some(())
    }
}
