//! Vault path ⇄ (type, id).
//!
//! A top-level folder named after a configured type holds entities of that type
//! (`topic/rust.md` ⇄ `topic/rust`); every other `.md` file is a `note` whose id is its path
//! without `.md`. The mapping must round-trip exactly, so anything that could not come back the
//! same way (an id that escapes the vault, a hidden segment the scanner skips, a note id that
//! would land in a type's folder) is refused here, before any file is written.

use std::collections::BTreeSet;

use unicode_normalization::UnicodeNormalization;

use crate::entity::EntityRef;

/// The built-in type of every file outside a type folder.
pub const NOTE_TYPE: &str = "note";

/// Longest file-name component most file systems accept, in bytes.
const MAX_SEGMENT_BYTES: usize = 255;

/// The longest id, in bytes. Linux allows paths of 4,096 bytes, but a key longer than about
/// 2,700 bytes cannot be indexed by PostgreSQL (a btree row's limit), and its case-folded form
/// can be half as long again; 1,024 (macOS's PATH_MAX) keeps every backend able to hold every
/// note another one holds.
pub const MAX_ID_BYTES: usize = 1024;

/// Why a path or an id cannot be mapped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// The path is not a Markdown file.
    #[error("'{0}' is not a Markdown file: only files ending in .md are notes")]
    NotMarkdown(String),
    /// The id would leave the vault or could never be read back.
    #[error("id '{id}' is refused: {reason}")]
    BadId {
        /// The offending id.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The type is neither `note` nor configured.
    #[error(
        "unknown note type '{0}': use 'note' or add it to vault.entity_types in .brain/config.toml"
    )]
    UnknownType(String),
    /// A configured type name is not usable as a folder name.
    #[error(
        "note type '{0}' in vault.entity_types is invalid: use lower-case letters, digits, '-' or '_', and not 'note'"
    )]
    BadTypeName(String),
    /// A note id whose first folder is a type folder would be read back as that type.
    #[error(
        "note id '{id}' starts with the folder of type '{folder}', so its file would be read back as a {folder}: write it as {folder}/{rest}"
    )]
    NoteInTypeFolder {
        /// The note id.
        id: String,
        /// The type folder it starts with.
        folder: String,
        /// The id below that folder.
        rest: String,
    },
}

/// Maps vault-relative paths to entity references and back, for one set of configured types.
#[derive(Clone, Debug, Default)]
pub struct PathMapper {
    types: BTreeSet<String>,
}

impl PathMapper {
    /// A mapper for the given type folders (`note` is always there and must not be listed).
    pub fn new<I, S>(types: I) -> Result<Self, PathError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for t in types {
            let t = t.into();
            let ok = !t.is_empty()
                && t != NOTE_TYPE
                && t.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !ok {
                return Err(PathError::BadTypeName(t));
            }
            set.insert(t);
        }
        Ok(Self { types: set })
    }

    /// The configured types, without `note`.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.types.iter().map(String::as_str)
    }

    /// Whether `t` is `note` or a configured type.
    pub fn is_known_type(&self, t: &str) -> bool {
        t == NOTE_TYPE || self.types.contains(t)
    }

    /// The entity a vault-relative path (with `/` separators) holds.
    pub fn to_ref(&self, rel_path: &str) -> Result<EntityRef, PathError> {
        let stem = rel_path
            .strip_suffix(".md")
            .filter(|s| !s.is_empty() && !s.ends_with('/'))
            .ok_or_else(|| PathError::NotMarkdown(rel_path.to_string()))?;
        validate_id(stem)?;
        if let Some((first, rest)) = stem.split_once('/')
            && self.types.contains(first)
        {
            return Ok(EntityRef::new(first, rest));
        }
        Ok(EntityRef::new(NOTE_TYPE, stem))
    }

    /// The vault-relative path of an entity's file.
    pub fn to_path(&self, r: &EntityRef) -> Result<String, PathError> {
        validate_id(&r.id)?;
        if r.entity_type == NOTE_TYPE {
            if let Some((first, rest)) = r.id.split_once('/')
                && self.types.contains(first)
            {
                return Err(PathError::NoteInTypeFolder {
                    id: r.id.clone(),
                    folder: first.to_string(),
                    rest: rest.to_string(),
                });
            }
            Ok(format!("{}.md", r.id))
        } else if self.types.contains(&r.entity_type) {
            Ok(format!("{}/{}.md", r.entity_type, r.id))
        } else {
            Err(PathError::UnknownType(r.entity_type.clone()))
        }
    }
}

/// Checks that an id names a file inside the vault that the scanner would read back.
pub fn validate_id(id: &str) -> Result<(), PathError> {
    let bad = |reason| {
        Err(PathError::BadId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if id.len() > MAX_ID_BYTES {
        return bad("its path is longer than 1024 bytes; shorten its folder or file names");
    }
    if id.contains('\\') {
        return bad("it contains a backslash; use '/' between folders");
    }
    if id.starts_with('/') {
        return bad("it is an absolute path; ids are relative to the vault");
    }
    let segments: Vec<&str> = id.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            return bad("it has an empty folder name ('//' or a trailing '/')");
        }
        if *seg == "." || *seg == ".." {
            return bad("it contains '.' or '..', which would leave its folder");
        }
        if seg.starts_with('.') {
            return bad("a folder or file name starts with '.', which the scanner ignores");
        }
        if seg.chars().any(char::is_control) {
            return bad("it contains a control character");
        }
        let limit = if i + 1 == segments.len() {
            MAX_SEGMENT_BYTES - 3
        } else {
            MAX_SEGMENT_BYTES
        };
        if seg.len() > limit {
            return bad("a file or folder name is longer than 255 bytes with .md");
        }
    }
    Ok(())
}

/// The id without a trailing `.md` (in any case), if it has one: `Welcome.md` → `Welcome`.
///
/// An id is the note's path without its extension, but people and agents often type the file
/// name (`brain put note/Welcome.md`); taken as given it would name the file `Welcome.md.md`.
/// Interfaces refuse such an id for a new note and suggest this one for a missing one. The
/// mapping itself keeps such ids: a file really named `x.md.md` is the note `x.md`, and must
/// round-trip as one.
pub fn strip_md_extension(id: &str) -> Option<&str> {
    let cut = id.len().checked_sub(3)?;
    let (stem, ext) = (id.get(..cut)?, id.get(cut..)?);
    (ext.eq_ignore_ascii_case(".md") && !stem.is_empty() && !stem.ends_with('/')).then_some(stem)
}

/// The key under which two paths count as the same file on a case-insensitive or
/// normalizing file system (macOS, Windows): NFC, then each character lower-cased on its own.
///
/// Per character, not `str::to_lowercase`: that applies the Greek final-sigma rule, so `ΟΔΟΣ`
/// and `ΟΔΟσ` (one file on such a system) would get different keys. This is lower case, not
/// full Unicode case folding (`ſ` and `s` stay apart), as the file systems we target do.
///
/// Two different paths with one key are a conflict, never two notes: on the next machine they
/// would be one file.
pub fn path_key(rel_path: &str) -> String {
    // Most vault paths are ASCII, and a no-change scan keys every path: skip NFC for them.
    if rel_path.is_ascii() {
        return rel_path.to_ascii_lowercase();
    }
    rel_path.nfc().flat_map(char::to_lowercase).collect()
}

/// Whether `a` and `b` are the same text in different Unicode normalization forms (`café` typed
/// as NFC, a file name macOS wrote as NFD): they print alike, so a message naming one for the
/// other must say how they differ.
pub fn differs_only_in_unicode_form(a: &str, b: &str) -> bool {
    a != b && a.nfc().eq(b.nfc())
}

/// The note `rel` is a conflict copy of, if its name has the form `brain_sync::fsio::conflict_copy_path`
/// (and git sync's merge) gives copies: `dir/name.conflict-YYYYMMDD-HHMMSS.md`, or with `-N` after
/// the time. A name a person could pick by chance (`x.conflict-notes.md`) is not one.
pub fn conflict_copy_source(rel: &str) -> Option<String> {
    let stem = rel.strip_suffix(".md")?;
    let (note, tail) = stem.rsplit_once(".conflict-")?;
    let name = note.rsplit('/').next().unwrap_or(note);
    if name.is_empty() {
        return None;
    }
    let bytes = tail.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        bytes
            .get(r)
            .is_some_and(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
    };
    let stamp = bytes.len() >= 15 && digits(0..8) && bytes[8] == b'-' && digits(9..15);
    let suffix = match bytes.get(15..) {
        Some([]) => true,
        Some([b'-', rest @ ..]) => !rest.is_empty() && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    (stamp && suffix).then(|| format!("{note}.md"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mapper() -> PathMapper {
        PathMapper::new(["topic", "person"]).unwrap()
    }

    /// An id longer than MAX_ID_BYTES is refused (no backend index could hold it on
    /// PostgreSQL); one of exactly that length maps.
    #[test]
    fn an_overlong_id_is_refused() {
        let folder = "f".repeat(200);
        let mut id = [folder.as_str(); 6].join("/");
        id.push_str("/n");
        assert!(id.len() > MAX_ID_BYTES);
        let e = validate_id(&id).unwrap_err();
        assert!(e.to_string().contains("longer than 1024 bytes"), "{e}");
        let fits = &id[..MAX_ID_BYTES];
        assert!(validate_id(fits).is_ok(), "{}", fits.len());
        assert!(mapper().to_ref(&format!("{id}.md")).is_err());
    }

    #[test]
    fn maps_type_folders_and_notes() {
        let m = mapper();
        assert_eq!(
            m.to_ref("topic/rust.md").unwrap(),
            EntityRef::new("topic", "rust")
        );
        assert_eq!(
            m.to_ref("Projects/Work/plan.md").unwrap(),
            EntityRef::new("note", "Projects/Work/plan")
        );
        assert_eq!(
            m.to_ref("Topic/x.md").unwrap(),
            EntityRef::new("note", "Topic/x")
        );
        assert_eq!(
            m.to_ref("topic.md").unwrap(),
            EntityRef::new("note", "topic")
        );
        assert_eq!(
            m.to_path(&EntityRef::new("topic", "a/b")).unwrap(),
            "topic/a/b.md"
        );
    }

    #[test]
    fn refuses_escaping_and_unreadable_ids() {
        let m = mapper();
        for id in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\0b",
            "a//b",
            "a/",
            ".hidden",
            "a/.obsidian/x",
            "a\\b",
            "",
        ] {
            assert!(
                m.to_path(&EntityRef::new("note", id)).is_err(),
                "{id:?} accepted"
            );
        }
        assert!(m.to_path(&EntityRef::new("note", "x".repeat(253))).is_err());
        assert!(m.to_path(&EntityRef::new("note", "x".repeat(252))).is_ok());
        assert_eq!(
            m.to_path(&EntityRef::new("nope", "x")),
            Err(PathError::UnknownType("nope".into()))
        );
        assert!(matches!(
            m.to_path(&EntityRef::new("note", "topic/x")),
            Err(PathError::NoteInTypeFolder { .. })
        ));
        assert!(m.to_ref("a.txt").is_err());
        assert!(m.to_ref(".md").is_err());
        assert!(PathMapper::new(["note"]).is_err());
        assert!(PathMapper::new(["Bad Type"]).is_err());
    }

    #[test]
    fn an_md_extension_is_found_in_any_case() {
        assert_eq!(strip_md_extension("Welcome.md"), Some("Welcome"));
        assert_eq!(strip_md_extension("inbox/x.MD"), Some("inbox/x"));
        assert_eq!(strip_md_extension("a.md.md"), Some("a.md"));
        assert_eq!(strip_md_extension("Welcome"), None);
        assert_eq!(strip_md_extension("notes.mdx"), None);
        assert_eq!(strip_md_extension(".md"), None);
        assert_eq!(strip_md_extension("a/.md"), None);
        assert_eq!(strip_md_extension("日.md"), Some("日"));
        assert_eq!(strip_md_extension("日"), None);
    }

    #[test]
    fn keys_fold_case_and_normalization() {
        assert_eq!(
            path_key("R\u{e9}sum\u{e9}.md"),
            path_key("Re\u{301}sume\u{301}.md")
        );
        assert_eq!(path_key("Notes/A.md"), path_key("notes/a.md"));
        assert_ne!(path_key("a.md"), path_key("b.md"));
    }

    fn segment() -> impl Strategy<Value = String> {
        // Letters of several scripts, spaces and punctuation; never a leading dot.
        "[a-zA-Z0-9é日本🚀 _()&#,-][a-zA-Z0-9é日本🚀 ._()&#,-]{0,20}"
    }

    /// A letter of the generated paths and every way to write it: `lower` and `upper` list its
    /// spellings in each case, the NFC one first, then decomposed (and, for K, Å and Ω, the
    /// compatibility signs NFC maps back), aligned so index `i` is the same form in both cases.
    struct Letter {
        lower: &'static [&'static str],
        upper: &'static [&'static str],
    }

    const LETTERS: &[Letter] = &[
        Letter {
            lower: &["a"],
            upper: &["A"],
        },
        Letter {
            // Sigma: a whole-string lower-casing would make a final Σ into ς, not σ.
            lower: &["\u{3c3}"],
            upper: &["\u{3a3}"],
        },
        Letter {
            lower: &["k"],
            upper: &["K", "\u{212a}"],
        },
        Letter {
            lower: &["\u{e9}", "e\u{301}"],
            upper: &["\u{c9}", "E\u{301}"],
        },
        Letter {
            lower: &["\u{e5}", "a\u{30a}"],
            upper: &["\u{c5}", "A\u{30a}", "\u{212b}"],
        },
        Letter {
            lower: &["\u{1fb}", "a\u{30a}\u{301}", "\u{e5}\u{301}"],
            upper: &[
                "\u{1fa}",
                "A\u{30a}\u{301}",
                "\u{c5}\u{301}",
                "\u{212b}\u{301}",
            ],
        },
        Letter {
            // Two marks, and NFC puts them in canonical order whichever way they were typed.
            lower: &[
                "\u{1ec7}",
                "e\u{323}\u{302}",
                "e\u{302}\u{323}",
                "\u{ea}\u{323}",
            ],
            upper: &[
                "\u{1ec6}",
                "E\u{323}\u{302}",
                "E\u{302}\u{323}",
                "\u{ca}\u{323}",
            ],
        },
        Letter {
            lower: &["\u{fc}", "u\u{308}"],
            upper: &["\u{dc}", "U\u{308}"],
        },
        Letter {
            lower: &["\u{3c9}"],
            upper: &["\u{3a9}", "\u{2126}"],
        },
        Letter {
            lower: &["\u{df}"],
            upper: &["\u{1e9e}"],
        },
        Letter {
            lower: &["\u{1c6}"],
            upper: &["\u{1c4}"],
        },
        Letter {
            lower: &["\u{65e5}"],
            upper: &["\u{65e5}"],
        },
        Letter {
            lower: &["1"],
            upper: &["1"],
        },
        Letter {
            lower: &[" "],
            upper: &[" "],
        },
        Letter {
            lower: &["-"],
            upper: &["-"],
        },
        Letter {
            lower: &["/"],
            upper: &["/"],
        },
    ];

    /// One letter as written: which letter, in upper case or not, in which form.
    #[derive(Clone, Copy, Debug)]
    struct Spelled {
        letter: usize,
        upper: bool,
        form: usize,
    }

    impl Spelled {
        fn text(self) -> &'static str {
            let l = &LETTERS[self.letter];
            let forms = if self.upper { l.upper } else { l.lower };
            forms[self.form % forms.len()]
        }
    }

    fn spelled(letters: &[Spelled]) -> String {
        let mut s: String = letters.iter().map(|l| l.text()).collect();
        s.push_str(".md");
        s
    }

    /// How the second path of a pair is written from the first.
    #[derive(Clone, Copy, Debug)]
    enum Change {
        /// Only the case of some letters.
        Case,
        /// Only the Unicode form of some letters.
        Form,
        /// Both.
        Both,
        /// One letter is another letter (and case and form may change elsewhere too).
        Letter,
    }

    /// A path and another written from it by `Change`: the same letters except for `Letter`.
    fn pair() -> impl Strategy<Value = (Vec<Spelled>, Vec<Spelled>, Change)> {
        let change = prop_oneof![
            Just(Change::Case),
            Just(Change::Form),
            Just(Change::Both),
            Just(Change::Letter),
        ];
        let letter = (
            0..LETTERS.len(),
            any::<bool>(),
            0..4usize,
            any::<bool>(),
            1..4usize,
        );
        (
            proptest::collection::vec(letter, 1..12),
            change,
            any::<prop::sample::Index>(),
            1..LETTERS.len(),
        )
            .prop_map(|(letters, change, at, shift)| {
                let mut a = Vec::new();
                let mut b = Vec::new();
                for (letter, upper, form, touch, form_shift) in letters {
                    let first = Spelled {
                        letter,
                        upper,
                        form,
                    };
                    let mut second = first;
                    if touch {
                        if matches!(change, Change::Case | Change::Both | Change::Letter) {
                            second.upper = !upper;
                        }
                        if matches!(change, Change::Form | Change::Both | Change::Letter) {
                            second.form = form + form_shift;
                        }
                    }
                    a.push(first);
                    b.push(second);
                }
                if let Change::Letter = change {
                    let i = at.index(b.len());
                    b[i].letter = (b[i].letter + shift) % LETTERS.len();
                }
                (a, b, change)
            })
    }

    /// Three spellings of one path (each letter in any case and form); each of them has one
    /// letter changed with probability 1/3, so some triples collide and some do not.
    fn triple() -> impl Strategy<Value = [Vec<Spelled>; 3]> {
        proptest::collection::vec(0..LETTERS.len(), 1..10).prop_flat_map(|letters| {
            let n = letters.len();
            let spelling = move |letters: Vec<usize>| {
                (
                    proptest::collection::vec((any::<bool>(), 0..4usize), n),
                    proptest::option::weighted(1.0 / 3.0, (0..n, 1..LETTERS.len())),
                )
                    .prop_map(move |(how, changed)| {
                        let mut out: Vec<Spelled> = letters
                            .iter()
                            .zip(how)
                            .map(|(&letter, (upper, form))| Spelled {
                                letter,
                                upper,
                                form,
                            })
                            .collect();
                        if let Some((i, shift)) = changed {
                            out[i].letter = (out[i].letter + shift) % LETTERS.len();
                        }
                        out
                    })
            };
            [
                spelling(letters.clone()),
                spelling(letters.clone()),
                spelling(letters),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Two paths collide (one key) exactly when they differ only in case, only in Unicode
        /// form, or in both; a path with one other letter never collides. All-ASCII paths take
        /// the fast path (no NFC) and must agree with the others (`K.md` and the Kelvin sign).
        #[test]
        fn paths_collide_iff_equal_after_case_folding_and_nfc((a, b, change) in pair()) {
            let (pa, pb) = (spelled(&a), spelled(&b));
            let expected = !matches!(change, Change::Letter);
            prop_assert_eq!(
                path_key(&pa) == path_key(&pb),
                expected,
                "{:?} ({:?}) and {:?} ({:?}) after {:?}",
                pa,
                path_key(&pa),
                pb,
                path_key(&pb),
                change
            );
        }

        /// Colliding is an equivalence over generated triples (three spellings of one path, some
        /// with a letter changed): reflexive, symmetric, transitive. That holds for any key
        /// function that is a function; what can fail here is the key naming its class: a
        /// path's key must itself be a path with that same key.
        #[test]
        fn collision_is_an_equivalence(triple in triple()) {
            let [a, b, c] = triple.map(|t| spelled(&t));
            let collide = |x: &str, y: &str| path_key(x) == path_key(y);
            for x in [&a, &b, &c] {
                let key = path_key(x);
                prop_assert_eq!(path_key(&key), key, "the key of {:?} is not its own key", x);
                prop_assert!(collide(x, x));
                for y in [&a, &b, &c] {
                    prop_assert_eq!(collide(x, y), collide(y, x));
                    for z in [&a, &b, &c] {
                        prop_assert!(
                            !(collide(x, y) && collide(y, z)) || collide(x, z),
                            "{:?} ~ {:?} ~ {:?} but not {:?} ~ {:?}", x, y, z, x, z
                        );
                    }
                }
            }
        }

        #[test]
        fn path_round_trips(segs in proptest::collection::vec(segment(), 1..4)) {
            let m = mapper();
            let path = format!("{}.md", segs.join("/"));
            let r = m.to_ref(&path).unwrap();
            prop_assert_eq!(m.to_path(&r).unwrap(), path);
        }

        #[test]
        fn ref_round_trips(t in prop_oneof![Just("note"), Just("topic"), Just("person")],
                           segs in proptest::collection::vec(segment(), 1..4)) {
            let m = mapper();
            let r = EntityRef::new(t, segs.join("/"));
            match m.to_path(&r) {
                Ok(p) => prop_assert_eq!(m.to_ref(&p).unwrap(), r),
                Err(PathError::NoteInTypeFolder { .. }) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }

        #[test]
        fn arbitrary_ids_never_escape(id in "\\PC{0,40}") {
            let m = mapper();
            if let Ok(p) = m.to_path(&EntityRef::new("note", id)) {
                prop_assert!(!p.starts_with('/'));
                prop_assert!(!p.split('/').any(|s| s == ".." || s == "." || s.is_empty()));
            }
        }
    }
}
