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

impl DamagedVersion {
    /// The store error for version `number` of `entity` (0: one of its versions) being damaged.
    pub fn of(self, entity: &brain_core::EntityRef, number: u64) -> crate::StoreError {
        crate::StoreError::DamagedVersion {
            entity: entity.to_string(),
            number,
            reason: self.0.to_string(),
        }
    }
}

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

/// [`decode`], and the text checked against the content hash the version was kept with: a
/// damaged row that still decodes (another version's bytes, say) is an error, never another
/// text passed off as this version's.
pub fn decode_checked(stored: &[u8], newer: &str, hash: &str) -> Result<String, DamagedVersion> {
    let text = decode(stored, newer)?;
    if brain_core::content_hash(text.as_bytes()) == hash {
        Ok(text)
    } else {
        Err(DamagedVersion(
            "its text does not match the hash it was kept with",
        ))
    }
}

/// The text of the oldest of `kept` (newest first: number, stored bytes, content hash), walked
/// back from `current`, the entity's text. A version stored whole needs no newer text, so one
/// is read even when a version after it is damaged; the error is that of the first damaged
/// version on the way when the oldest could not be read.
pub fn walk_back(
    current: String,
    kept: impl IntoIterator<Item = (u64, Vec<u8>, String)>,
) -> Result<String, (u64, DamagedVersion)> {
    let mut text = Some(current);
    let mut first_damage = None;
    for (number, stored, hash) in kept {
        let newer = match (&text, stored.first()) {
            (_, Some(&WHOLE)) => "",
            (Some(t), _) => t.as_str(),
            (None, _) => continue,
        };
        match decode_checked(&stored, newer, &hash) {
            Ok(t) => text = Some(t),
            Err(e) => {
                text = None;
                first_damage.get_or_insert((number, e));
            }
        }
    }
    text.ok_or_else(|| first_damage.unwrap_or((0, DamagedVersion("no version to read"))))
}

/// How long versions are kept (`[history]`): every one for `keep_all_days`, then the last of
/// each day until `daily_days`, then the last of each month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    /// Days during which every version is kept.
    pub keep_all_days: u32,
    /// Days during which the last version of each day is kept.
    pub daily_days: u32,
}

impl Retention {
    /// The rules that keep every version either of `self` and `other` keeps: on a store several
    /// folders share, a prune never drops what one folder's `[history]` promised to keep.
    pub fn keeping_most(self, other: Retention) -> Retention {
        Retention {
            keep_all_days: self.keep_all_days.max(other.keep_all_days),
            daily_days: self.daily_days.max(other.daily_days),
        }
    }
}

/// The runtime-state key under which a folder of a shared store publishes its `[history]`
/// retention ([`Retention`] as JSON), read back for every folder by
/// [`crate::Store::replicas`].
pub const RETENTION_KEY: &str = "history";

/// One kept version as a store holds it, for [`prune`].
#[derive(Clone, Debug)]
pub struct Stored {
    /// Its number.
    pub number: u64,
    /// When it was made, ms since the epoch.
    pub made_ms: i64,
    /// Its text against the version after it.
    pub stored: Vec<u8>,
}

/// What [`prune`] decided for one entity: the versions to delete, and the new stored bytes
/// of those kept whose next version is now another one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Numbers of the versions to delete.
    pub dropped: Vec<u64>,
    /// `(number, stored)` to write for versions kept.
    pub rewritten: Vec<(u64, Vec<u8>)>,
}

/// Applies `rules` at `now_ms` to one entity's kept versions (`kept`, oldest first; its
/// current text is `current`, always kept): in each day past `keep_all_days`, and each month
/// past `daily_days`, only the last version stays. A version whose next one is dropped is
/// stored again against the one now after it, so every version left reads back exactly.
pub fn prune(
    current: &str,
    kept: &[Stored],
    now_ms: i64,
    rules: Retention,
) -> Result<Pruned, DamagedVersion> {
    const DAY_MS: i64 = 86_400_000;
    let all_until = now_ms - i64::from(rules.keep_all_days) * DAY_MS;
    let daily_until = now_ms - i64::from(rules.daily_days) * DAY_MS;
    // The bucket a version falls in, or None when every version of its age is kept.
    let bucket = |made: i64| -> Option<(u8, i64)> {
        if made >= all_until {
            None
        } else if made >= daily_until {
            Some((0, made.div_euclid(DAY_MS)))
        } else {
            let (y, m, ..) = brain_core::time::parts(made);
            Some((1, y * 12 + i64::from(m)))
        }
    };
    let mut keep = vec![true; kept.len()];
    for i in 0..kept.len() {
        if let Some(b) = bucket(kept[i].made_ms)
            && kept
                .get(i + 1)
                .is_some_and(|next| bucket(next.made_ms) == Some(b))
        {
            keep[i] = false;
        }
    }
    if keep.iter().all(|k| *k) {
        return Ok(Pruned::default());
    }
    // Every text, newest first, from the current one back.
    let mut texts = vec![String::new(); kept.len()];
    let mut next = current.to_string();
    for i in (0..kept.len()).rev() {
        texts[i] = decode(&kept[i].stored, &next)?;
        next.clone_from(&texts[i]);
    }
    let mut out = Pruned::default();
    for i in 0..kept.len() {
        if !keep[i] {
            out.dropped.push(kept[i].number);
            continue;
        }
        let successor = (i + 1..kept.len()).find(|&j| keep[j]);
        if successor != Some(i + 1) && !(successor.is_none() && i + 1 == kept.len()) {
            let newer = successor.map_or(current, |j| texts[j].as_str());
            out.rewritten
                .push((kept[i].number, encode(&texts[i], newer)));
        }
    }
    Ok(out)
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
    fn a_whole_version_reads_past_a_damaged_newer_one() {
        let hash = |t: &str| brain_core::content_hash(t.as_bytes());
        let (v1, v2, v3) = ("short", "# Two\nline\n", "# Three\nline\n");
        let whole = {
            let mut w = vec![WHOLE];
            w.extend_from_slice(v1.as_bytes());
            w
        };
        let damaged_v2 = vec![DELTA, 9, 9, 9];
        let kept = vec![(2, damaged_v2, hash(v2)), (1, whole.clone(), hash(v1))];
        assert_eq!(walk_back(v3.to_string(), kept).expect("v1"), v1);
        let kept = vec![(2, encode(v2, v3), hash(v2)), (1, whole, hash("other"))];
        let (number, _) = walk_back(v3.to_string(), kept).expect_err("wrong hash");
        assert_eq!(number, 1);
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

    #[test]
    fn retention_keeps_every_recent_version_and_the_last_of_each_older_day_and_month() {
        const DAY: i64 = 86_400_000;
        let now = 1_800_000_000_000;
        // Versions 1..=8: two on one day 400 days ago and one 390 days ago (one month?), two
        // on one day 100 days ago, one 99 days ago, two 3 days ago.
        let made = [
            now - 400 * DAY,
            now - 400 * DAY + 1000,
            now - 100 * DAY,
            now - 100 * DAY + 1000,
            now - 99 * DAY,
            now - 3 * DAY,
            now - 3 * DAY + 1000,
        ];
        let texts: Vec<String> = (1..=made.len())
            .map(|n| format!("# N\n\nversion {n}\n"))
            .collect();
        let current = "# N\n\nnow\n";
        let mut kept = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let newer = texts.get(i + 1).map_or(current, String::as_str);
            kept.push(Stored {
                number: i as u64 + 1,
                made_ms: made[i],
                stored: encode(t, newer),
            });
        }
        let rules = Retention {
            keep_all_days: 30,
            daily_days: 365,
        };
        let pruned = prune(current, &kept, now, rules).unwrap();
        assert_eq!(
            pruned.dropped,
            [1, 3],
            "the earlier of each same-day pair past 30 days"
        );
        // What is left reads back exactly, through the rewritten versions.
        let mut left: Vec<Stored> = kept
            .into_iter()
            .filter(|k| !pruned.dropped.contains(&k.number))
            .collect();
        for (n, stored) in pruned.rewritten {
            left.iter_mut().find(|k| k.number == n).unwrap().stored = stored;
        }
        let mut next = current.to_string();
        for k in left.iter().rev() {
            next = decode(&k.stored, &next).unwrap();
            assert_eq!(next, texts[k.number as usize - 1]);
        }
        assert!(
            prune(current, &left, now, rules)
                .unwrap()
                .dropped
                .is_empty(),
            "stable"
        );
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
