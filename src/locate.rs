//! Where each statement of a policy file is, as written: SARIF locates a finding by line and
//! column, and the engine's parser keeps no positions. serde_json's `RawValue` borrows each
//! statement's text from the document, so its span is exact, with no second JSON reader.

use std::borrow::Cow;
use std::ops::Range;

use serde::Deserialize;
use serde_json::value::RawValue;

/// A span of the file as SARIF counts it: lines from 1, ended by "\r\n" or "\n" (SARIF's
/// default `newlineSequences`); columns from 1 in UTF-16 code units (`columnKind`
/// `utf16CodeUnits`); the end is the position just past the span's last character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start_line: usize,
    pub start_column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// The region of each statement of `file` (the whole text read: raw JSON, or percent-encoded
/// JSON as IAM's API returns it, white space around either), in the order of the `Statement`
/// list (a single `Statement` object is one). In percent-encoded text a region covers the
/// encoded characters. `None` when there is no `Statement` to find: the engine refuses such a
/// document before anything needs locating.
pub fn statement_regions(file: &str) -> Option<Vec<Region>> {
    let leading = file.len() - file.trim_start().len();
    let trimmed = file.trim();
    let (json, to_file): (Cow<str>, Box<dyn Fn(usize) -> usize>) = if trimmed.starts_with('{') {
        (Cow::Borrowed(trimmed), Box::new(move |at| leading + at))
    } else {
        let decoded = percent_encoding::percent_decode_str(trimmed)
            .decode_utf8()
            .ok()?;
        let decoded_leading = decoded.len() - decoded.trim_start().len();
        let json = decoded.trim().to_owned();
        let to_file = move |at| leading + encoded_offset(trimmed, decoded_leading + at);
        (Cow::Owned(json), Box::new(to_file))
    };
    let regions = statement_spans(&json)?
        .into_iter()
        .map(|span| Region::of(file, to_file(span.start)..to_file(span.end)))
        .collect();
    Some(regions)
}

/// The byte span of each statement in `json`.
fn statement_spans(json: &str) -> Option<Vec<Range<usize>>> {
    #[derive(Deserialize)]
    struct Document<'a> {
        #[serde(rename = "Statement", borrow)]
        statement: &'a RawValue,
    }
    let document: Document = serde_json::from_str(json).ok()?;
    let statements: Vec<&RawValue> = if document.statement.get().starts_with('[') {
        serde_json::from_str(document.statement.get()).ok()?
    } else {
        vec![document.statement]
    };
    // Every RawValue borrows from `json`, so its address says where it is.
    let base = json.as_ptr() as usize;
    let spans = statements
        .into_iter()
        .map(|statement| {
            let start = statement.get().as_ptr() as usize - base;
            start..start + statement.get().len()
        })
        .collect();
    Some(spans)
}

/// The offset in percent-encoded `encoded` of the byte at `decoded` in its decoding: `%XX`
/// (two hex digits) is one decoded byte, anything else (a lone `%` too) stands for itself, as
/// `percent_decode_str` reads it.
fn encoded_offset(encoded: &str, decoded: usize) -> usize {
    let bytes = encoded.as_bytes();
    let escape = |at: usize| {
        bytes[at] == b'%'
            && bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    };
    let mut at = 0;
    for _ in 0..decoded {
        at += if escape(at) { 3 } else { 1 };
    }
    at
}

impl Region {
    fn of(text: &str, span: Range<usize>) -> Region {
        let (start_line, start_column) = position(text, span.start);
        let (end_line, end_column) = position(text, span.end);
        Region {
            start_line,
            start_column,
            end_line,
            end_column,
        }
    }
}

/// Line and column of the byte at `offset`. A "\r" belongs to the line it ends only as part
/// of "\r\n"; so counting the "\n"s counts the lines.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].encode_utf16().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text a region covers, read back as a SARIF viewer would: by lines, and UTF-16
    /// columns within them.
    fn covered(file: &str, region: &Region) -> String {
        let lines: Vec<Vec<u16>> = file
            .split('\n')
            .map(|l| l.encode_utf16().collect())
            .collect();
        let mut units = Vec::new();
        for line in region.start_line..=region.end_line {
            let text = &lines[line - 1];
            let from = if line == region.start_line {
                region.start_column - 1
            } else {
                0
            };
            let to = if line == region.end_line {
                region.end_column - 1
            } else {
                text.len()
            };
            units.extend_from_slice(&text[from..to]);
            if line != region.end_line {
                units.push(u16::from(b'\n'));
            }
        }
        String::from_utf16(&units).expect("a region ends between characters")
    }

    fn covered_all(file: &str) -> Vec<String> {
        statement_regions(file)
            .expect("regions")
            .iter()
            .map(|region| covered(file, region))
            .collect()
    }

    #[test]
    fn each_statement_of_a_list_spans_its_braces() {
        let file = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\",\n     \"Action\": \"s3:*\", \"Resource\": \"*\"},\n    { \"Effect\": \"Deny\", \"Action\": \"s3:DeleteBucket\", \"Resource\": \"*\" }\n  ]\n}\n";
        let regions = statement_regions(file).expect("regions");
        assert_eq!(
            regions[0],
            Region {
                start_line: 4,
                start_column: 5,
                end_line: 5,
                end_column: 40
            }
        );
        assert_eq!(
            covered_all(file),
            [
                "{\"Effect\": \"Allow\",\n     \"Action\": \"s3:*\", \"Resource\": \"*\"}",
                "{ \"Effect\": \"Deny\", \"Action\": \"s3:DeleteBucket\", \"Resource\": \"*\" }",
            ]
        );
    }

    #[test]
    fn a_single_statement_object_is_one_region() {
        let file = r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}"#;
        assert_eq!(
            covered_all(file),
            [r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#]
        );
    }

    #[test]
    fn crlf_ends_a_line_and_white_space_before_the_document_counts() {
        let file = "\r\n\r\n  {\"Statement\": [\r\n\t{\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}]}";
        let regions = statement_regions(file).expect("regions");
        assert_eq!((regions[0].start_line, regions[0].start_column), (4, 2));
        assert_eq!(
            covered_all(file),
            [r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#]
        );
    }

    #[test]
    fn columns_count_utf16_code_units_not_bytes() {
        // "é": two bytes, one code unit; "😀": four bytes, two code units (a surrogate pair),
        // one code point. IAM refuses the latter, but a column is a column.
        let file = r#"{"Id": "café😀", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;
        let regions = statement_regions(file).expect("regions");
        assert_eq!(regions[0].start_column, 32);
        assert_eq!(
            covered_all(file),
            [r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#]
        );
    }

    #[test]
    fn in_percent_encoded_text_a_region_covers_the_encoded_characters() {
        // An encoded new line and spaces before the document, a raw one before that; a lone
        // `%` in a value stands for itself.
        let file = "\n%0A%20%20%7B%22Statement%22%3A%5B%7B%22Sid%22%3A%22A%zz%22%2C%22Effect%22%3A%22Allow%22%7D%2C%7B%22Effect%22%3A%22Deny%22%7D%5D%7D";
        assert_eq!(
            covered_all(file),
            [
                "%7B%22Sid%22%3A%22A%zz%22%2C%22Effect%22%3A%22Allow%22%7D",
                "%7B%22Effect%22%3A%22Deny%22%7D",
            ]
        );
    }

    #[test]
    fn no_statement_no_regions() {
        assert_eq!(statement_regions(r#"{"Version": "2012-10-17"}"#), None);
        assert_eq!(statement_regions("not json"), None);
    }
}
