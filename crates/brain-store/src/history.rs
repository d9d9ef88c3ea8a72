//! Earlier versions of a note, kept compactly: each replaced version is stored as the changes
//! that turn the version after it back into it (a reverse delta), or whole when that is not
//! smaller. The newest text is the entity itself, so reading version `k` walks back from it
//! through the versions after `k`. Both backends store what [`encode`] returns and read it with
//! [`decode`]; neither needs to know the format.
//!
//! A delta is a list of operations over lines: copy a run of bytes of the newer text, or
//! insert bytes of its own. Notes are edited a line or a paragraph at a time, so a version that
//! differs by one line costs that line and a few bytes of offsets.

use std::ops::Range;

use similar::{Algorithm, DiffTag, capture_diff_slices_deadline};

/// The first byte of a stored version: the text itself follows.
const WHOLE: u8 = b'W';
/// The first byte of a stored version: operations over the newer version follow.
const DELTA: u8 = b'D';
/// An operation: copy `varint start, varint len` bytes of the newer text.
const COPY: u8 = 0;
/// An operation: `varint len` bytes of its own follow.
const INSERT: u8 = 1;

/// A line diff that runs longer than this (a huge note rewritten throughout) stops and settles
/// for a coarser delta, which is still exact, only larger.
const DIFF_DEADLINE: std::time::Duration = std::time::Duration::from_millis(200);

/// Why a stored version could not be read back: the bytes are not what [`encode`] writes
/// (damaged), or were encoded against another text than the one given.
#[derive(Debug, thiserror::Error)]
#[error("a stored version of the note is damaged ({0}): it cannot be read back")]
pub struct DamagedVersion(pub &'static str);

/// `old` stored against `newer`, the version that replaced it: a delta, or the whole text when
/// the delta would not be smaller.
pub fn encode(old: &str, newer: &str) -> Vec<u8> {
    let delta = delta(old, newer);
    if delta.len() < old.len() + 1 {
        delta
    } else {
        let mut whole = Vec::with_capacity(old.len() + 1);
        whole.push(WHOLE);
        whole.extend_from_slice(old.as_bytes());
        whole
    }
}

/// The text [`encode`] stored, given the same `newer` text it was encoded against.
pub fn decode(stored: &[u8], newer: &str) -> Result<String, DamagedVersion> {
    let (&tag, rest) = stored.split_first().ok_or(DamagedVersion("empty"))?;
    let bytes = match tag {
        WHOLE => rest.to_vec(),
        DELTA => apply(rest, newer.as_bytes())?,
        _ => return Err(DamagedVersion("unknown kind")),
    };
    String::from_utf8(bytes).map_err(|_| DamagedVersion("not UTF-8"))
}

/// A unified diff from `old` to `new` (three lines of context), headed `--- old_name` and
/// `+++ new_name`; empty when the texts are equal.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// Byte ranges of each line of `text`, its newline included.
fn lines(text: &str) -> (Vec<&str>, Vec<usize>) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut starts = Vec::with_capacity(lines.len() + 1);
    let mut at = 0;
    for l in &lines {
        starts.push(at);
        at += l.len();
    }
    starts.push(at);
    (lines, starts)
}

fn delta(old: &str, newer: &str) -> Vec<u8> {
    let (old_lines, old_starts) = lines(old);
    let (new_lines, new_starts) = lines(newer);
    let deadline = std::time::Instant::now().checked_add(DIFF_DEADLINE);
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &new_lines, &old_lines, deadline);
    let mut out = vec![DELTA];
    let bytes_of = |starts: &[usize], r: Range<usize>| starts[r.start]..starts[r.end];
    for op in ops {
        // `new_lines` is the diff's old side: equal runs are copied from it, and what the
        // diff's new side (`old`, the version kept) has of its own is inserted.
        let (tag, from_newer, from_old) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => {
                let r = bytes_of(&new_starts, from_newer);
                out.push(COPY);
                put_varint(&mut out, r.start as u64);
                put_varint(&mut out, r.len() as u64);
            }
            DiffTag::Delete => {}
            DiffTag::Insert | DiffTag::Replace => {
                let r = bytes_of(&old_starts, from_old);
                out.push(INSERT);
                put_varint(&mut out, r.len() as u64);
                out.extend_from_slice(&old.as_bytes()[r]);
            }
        }
    }
    out
}

fn apply(mut ops: &[u8], newer: &[u8]) -> Result<Vec<u8>, DamagedVersion> {
    let mut out = Vec::with_capacity(newer.len());
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        match op {
            COPY => {
                let start = take_varint(&mut ops)?;
                let len = take_varint(&mut ops)?;
                let run = usize::try_from(start)
                    .ok()
                    .zip(usize::try_from(len).ok())
                    .and_then(|(s, l)| newer.get(s..s.checked_add(l)?))
                    .ok_or(DamagedVersion("a copy outside the newer version"))?;
                out.extend_from_slice(run);
            }
            INSERT => {
                let len = usize::try_from(take_varint(&mut ops)?)
                    .map_err(|_| DamagedVersion("an insert too long"))?;
                let bytes = ops
                    .get(..len)
                    .ok_or(DamagedVersion("an insert cut short"))?;
                out.extend_from_slice(bytes);
                ops = &ops[len..];
            }
            _ => return Err(DamagedVersion("unknown operation")),
        }
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, DamagedVersion> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes
            .split_first()
            .ok_or(DamagedVersion("a number cut short"))?;
        *bytes = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(DamagedVersion("a number too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_small_edit_costs_about_the_edit() {
        let newer: String = (0..100)
            .map(|i| format!("line {i} of the note\n"))
            .collect();
        let old = newer.replace("line 50 of", "line fifty of");
        let stored = encode(&old, &newer);
        assert!(stored.len() < 60, "{} bytes", stored.len());
        assert_eq!(decode(&stored, &newer).unwrap(), old);
    }

    #[test]
    fn an_unrelated_text_is_kept_whole() {
        let stored = encode("abc", "xyz\n");
        assert_eq!(stored[0], WHOLE);
        assert_eq!(decode(&stored, "anything").unwrap(), "abc");
    }

    #[test]
    fn damaged_bytes_are_refused_not_panicked_on() {
        for bad in [
            &b""[..],
            b"X",
            b"D\x00\xff",
            b"D\x00\x05\x05",
            b"D\x01\x09ab",
            b"D\x07",
        ] {
            assert!(decode(bad, "newer").is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn every_version_reads_back(
            old in "(\\PC{0,12}\n?){0,12}",
            newer in "(\\PC{0,12}\n?){0,12}",
        ) {
            let stored = encode(&old, &newer);
            prop_assert!(stored.len() <= old.len() + 1);
            prop_assert_eq!(decode(&stored, &newer).unwrap(), old);
        }
    }
}
