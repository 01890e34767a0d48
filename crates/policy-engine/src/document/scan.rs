//! Byte scans over a document's text, sixteen bytes at a time with SIMD compares (the `wide`
//! crate: SSE2 on x86-64, NEON on arm64), then eight at a time: a large policy is thousands of
//! short strings, and these scans were most of its parsing time done a byte at a time.
//!
//! A block's compares give a mask with bit i set for byte i. Each word is tested with the
//! usual bit tricks: a byte's high bit in a mask says it is one of the bytes looked for.
//! Borrows may set bits *above* a true match, never below one, so the lowest set bit of a mask
//! (or of several masks or-ed together) is always exact.

use wide::i8x16;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit of each byte of `word` that is below `n` (`n` at most 128).
fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
}

/// High bit of each byte of `word` equal to `b`.
fn equal(word: u64, b: u8) -> u64 {
    below(word ^ (ONES * u64::from(b)), 1)
}

/// High bit of each byte of `word` at or above 0x7F (DEL, or not ASCII).
fn above_graphic(word: u64) -> u64 {
    (word | word.wrapping_add(ONES)) & HIGHS
}

fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at + 8)?;
    Some(u64::from_le_bytes(chunk.try_into().ok()?))
}

fn lowest_byte(mask: u64) -> usize {
    mask.trailing_zeros() as usize / 8
}

fn block_at(bytes: &[u8], at: usize) -> Option<i8x16> {
    let chunk = bytes.get(at..at + 16)?;
    Some(i8x16::from_ne_bytes(chunk.try_into().ok()?))
}

/// [`string_stops`] of a block, a bit per byte. Compared as signed bytes, those at or above
/// 0x80 (not ASCII) are below 0x20 too.
fn block_stops(block: i8x16) -> u32 {
    let is = |b: u8| block.simd_eq(i8x16::splat(b as i8));
    (is(b'"') | is(b'\\') | block.simd_lt(i8x16::splat(0x20))).to_bitmask()
}

/// Where, from `from`, the first `"`, `\`, control character (below U+0020) or byte of a
/// character outside ASCII is: the end of a JSON string in ASCII without escapes, or what stops
/// one. `bytes.len()` when there is none.
pub(super) fn string_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(block) = block_at(bytes, at) {
        let stops = block_stops(block);
        if stops != 0 {
            return at + stops.trailing_zeros() as usize;
        }
        at += 16;
    }
    while let Some(word) = word_at(bytes, at) {
        let stops = string_stops(word);
        if stops != 0 {
            return at + lowest_byte(stops);
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20 || !b.is_ascii())
        .unwrap_or(bytes.len() - at)
}

fn string_stops(word: u64) -> u64 {
    equal(word, b'"') | equal(word, b'\\') | below(word, 0x20) | (word & HIGHS)
}

/// [`string_end`] of a string that should be an action, with the [`action_shape`] of the
/// bytes before its end, in one pass.
pub(super) fn action_end(bytes: &[u8], from: usize) -> (usize, ActionShape) {
    let mut shape = ActionShape {
        printable: true,
        first_colon: None,
    };
    let mut at = from;
    while let Some(block) = block_at(bytes, at) {
        let stops = block_stops(block);
        // Below U+0021, DEL, or not ASCII (negative).
        let not_graphic =
            (block.simd_lt(i8x16::splat(0x21)) | block.simd_eq(i8x16::splat(0x7f))).to_bitmask();
        let colons = block.simd_eq(i8x16::splat(b':' as i8)).to_bitmask();
        let before_stop = if stops == 0 {
            u32::MAX
        } else {
            (stops & stops.wrapping_neg()) - 1
        };
        shape.printable &= not_graphic & before_stop == 0;
        let colons = colons & before_stop;
        if shape.first_colon.is_none() && colons != 0 {
            shape.first_colon = Some(at - from + colons.trailing_zeros() as usize);
        }
        if stops != 0 {
            return (at + stops.trailing_zeros() as usize, shape);
        }
        at += 16;
    }
    while let Some(word) = word_at(bytes, at) {
        let stops = string_stops(word);
        // Only the bytes before the first stop are the string's.
        let before_stop = if stops == 0 {
            u64::MAX
        } else {
            (stops & stops.wrapping_neg()) - 1
        };
        shape.printable &= (below(word, 0x21) | above_graphic(word)) & before_stop == 0;
        let colons = equal(word, b':') & before_stop;
        if shape.first_colon.is_none() && colons != 0 {
            shape.first_colon = Some(at - from + lowest_byte(colons));
        }
        if stops != 0 {
            return (at + lowest_byte(stops), shape);
        }
        at += 8;
    }
    let end = string_end(bytes, at);
    let tail = action_shape(&bytes[at..end]);
    shape.printable &= tail.printable;
    shape.first_colon = shape
        .first_colon
        .or(tail.first_colon.map(|colon| at - from + colon));
    (end, shape)
}

/// What an action entry is made of: whether every byte is printable ASCII (U+0021 to U+007E),
/// and where its first colon is.
pub(super) struct ActionShape {
    pub(super) printable: bool,
    pub(super) first_colon: Option<usize>,
}

pub(super) fn action_shape(bytes: &[u8]) -> ActionShape {
    let mut printable = true;
    let mut first_colon = None;
    let mut at = 0;
    while let Some(word) = word_at(bytes, at) {
        printable &= (below(word, 0x21) | above_graphic(word)) == 0;
        let colons = equal(word, b':');
        if first_colon.is_none() && colons != 0 {
            first_colon = Some(at + lowest_byte(colons));
        }
        at += 8;
    }
    for (i, &b) in bytes.iter().enumerate().skip(at) {
        printable &= b.is_ascii_graphic();
        if first_colon.is_none() && b == b':' {
            first_colon = Some(i);
        }
    }
    ActionShape {
        printable,
        first_colon,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        // Mostly the bytes that matter, at every offset within a word.
        let byte = prop_oneof![
            4 => prop::sample::select(b"\"\\:* aZ09/\x00\x1f\x20\x21\x7e\x7f\x80\xff".to_vec()),
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..40)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn a_string_ends_where_a_byte_at_a_time_says(bytes in bytes(), from in 0usize..8) {
            let from = from.min(bytes.len());
            let by_byte = bytes[from..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20 || !b.is_ascii())
                .map_or(bytes.len(), |i| from + i);
            prop_assert_eq!(string_end(&bytes, from), by_byte);
        }

        #[test]
        fn an_action_ends_and_is_shaped_as_its_two_scans_say(bytes in bytes(), from in 0usize..8) {
            let from = from.min(bytes.len());
            let end = string_end(&bytes, from);
            let (fused_end, shape) = action_end(&bytes, from);
            let apart = action_shape(&bytes[from..end]);
            prop_assert_eq!(fused_end, end);
            prop_assert_eq!(shape.printable, apart.printable);
            prop_assert_eq!(shape.first_colon, apart.first_colon);
        }

        #[test]
        fn an_action_shape_is_what_a_byte_at_a_time_says(bytes in bytes()) {
            let shape = action_shape(&bytes);
            prop_assert_eq!(shape.printable, bytes.iter().all(u8::is_ascii_graphic));
            prop_assert_eq!(shape.first_colon, bytes.iter().position(|&b| b == b':'));
        }
    }
}
