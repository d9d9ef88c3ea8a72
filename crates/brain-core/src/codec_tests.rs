//! Tests of the codec: the byte-for-byte round trip, frontmatter parsing, tags and titles.

use super::*;
use proptest::prelude::*;

#[test]
fn yaml_frontmatter_keeps_order_and_raw_text() {
    let text = "---\ntitle: Plan\ntags:\n  - a\n  - B\nnested:\n  z: 1\n  a: [x, y]\ncreated: 2024-01-02\n---\n# Heading\nbody #inline and #123\n";
    let d = Document::parse(text).unwrap();
    assert_eq!(d.kind, FrontmatterKind::Yaml);
    assert_eq!(d.text(), text);
    let keys: Vec<_> = d.metadata.keys().cloned().collect();
    assert_eq!(keys, ["title", "tags", "nested", "created"]);
    let nested: Vec<_> = d.metadata["nested"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(nested, ["z", "a"]);
    assert_eq!(d.metadata["created"], "2024-01-02");
    assert_eq!(d.title("file"), "Plan");
    assert_eq!(d.tags(), ["a", "b", "inline"]);
    assert_eq!(d.body, "# Heading\nbody #inline and #123\n");
}

#[test]
fn bom_and_crlf_survive() {
    let text = "\u{feff}---\r\ntitle: BOM and CRLF\r\ntags: [crlf]\r\n---\r\n\r\n# BOM\r\n";
    let d = Document::parse(text).unwrap();
    assert_eq!(d.text(), text);
    assert_eq!(d.title("x"), "BOM and CRLF");
    let plain = Document::parse("\u{feff}# Only body\r\n").unwrap();
    assert_eq!(plain.kind, FrontmatterKind::None);
    assert_eq!(plain.title("x"), "Only body");
    assert_eq!(plain.frontmatter, "\u{feff}");
}

#[test]
fn title_falls_back_to_heading_then_file_name() {
    assert_eq!(
        Document::parse("```\n# not\n```\n# Real\n")
            .unwrap()
            .title("f"),
        "Real"
    );
    assert_eq!(
        Document::parse("## Second level\n").unwrap().title("f"),
        "f"
    );
    assert_eq!(
        Document::parse("---\ntitle: 12345\n---\n")
            .unwrap()
            .title("f"),
        "12345"
    );
    assert_eq!(
        Document::parse("---\ntitle: ''\n---\n# H\n")
            .unwrap()
            .title("f"),
        "H"
    );
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    assert_eq!(decode(b""), Err(CodecError::Empty));
    assert_eq!(decode(b"ab\0c"), Err(CodecError::Binary(2)));
    assert_eq!(decode(b"ok \xff"), Err(CodecError::InvalidUtf8(3)));
    assert_eq!(
        Document::parse("---\ntitle: x\n\nbody\n"),
        Err(CodecError::UnterminatedFrontmatter)
    );
    let e = Document::parse("---\ntitle: [unclosed\ntags: : : nope\n---\nx").unwrap_err();
    assert!(matches!(e, CodecError::InvalidYaml(_)), "{e:?}");
    assert_eq!(
        Document::parse("---\n- a\n---\n"),
        Err(CodecError::NotAMap("a list"))
    );
}

/// A NUL written as a YAML escape passes the byte checks but no PostgreSQL text can hold it:
/// the note is refused, naming the property, on every backend alike.
#[test]
fn a_nul_escape_in_frontmatter_is_refused_naming_the_property() {
    assert_eq!(
        Document::parse("---\ntitle: \"evil\\0title\"\n---\nbody\n"),
        Err(CodecError::NulInFrontmatter("title".into()))
    );
    assert_eq!(
        Document::parse("---\nok: 1\ntags: [\"a\\u0000b\"]\n---\nbody\n"),
        Err(CodecError::NulInFrontmatter("tags".into()))
    );
    assert_eq!(
        Document::parse("---\nnested: {inner: \"x\\0\"}\n---\n"),
        Err(CodecError::NulInFrontmatter("nested".into()))
    );
    let e = Document::parse("---\nnested: {inner: \"x\\0\"}\n---\n").unwrap_err();
    assert!(e.to_string().contains("'nested' holds a NUL"), "{e}");
    // Text that only spells a backslash and a zero is not a NUL.
    assert!(Document::parse("---\ntitle: 'a\\0b'\n---\n").is_ok());
}

/// A "tag" longer than MAX_TAG_BYTES is not kept as a tag (its words stay in the text); one of
/// exactly that length is.
#[test]
fn an_overlong_tag_is_left_out_of_the_tags() {
    let long = "a".repeat(MAX_TAG_BYTES + 1);
    let edge = "b".repeat(MAX_TAG_BYTES);
    let doc = Document::parse(&format!(
        "---\ntags: [{long}, {edge}, ok]\n---\nx #{long}2 #fine\n"
    ))
    .unwrap();
    assert_eq!(doc.tags(), vec![edge, "fine".to_string(), "ok".to_string()]);
}

#[test]
fn horizontal_rule_later_is_body() {
    let d = Document::parse("text\n---\nmore\n").unwrap();
    assert_eq!(d.kind, FrontmatterKind::None);
    let empty_fm = Document::parse("---\n---\nbody").unwrap();
    assert!(empty_fm.metadata.is_empty());
    assert_eq!(empty_fm.body, "body");
}

// Generated notes. Each generator writes the note's text from a model (the metadata as the
// codec must read it, the exact frontmatter block and body), so a property can check the
// parse against the model rather than against the codec's own output.

/// One metadata value: how it is written after `key:` (`inline`, then indented `block`
/// lines) and the JSON the codec must read from it.
#[derive(Clone, Debug)]
struct YamlValue {
    inline: String,
    block: Vec<String>,
    json: Value,
}

/// A line of a YAML frontmatter block.
#[derive(Clone, Debug)]
enum YamlLine {
    Pair(String, YamlValue),
    Comment(String),
    Blank,
}

/// One Logseq page property: the raw text after `key::` and the value the codec must read.
#[derive(Clone, Debug)]
struct Property {
    key: String,
    raw: String,
    json: Value,
}

#[derive(Clone, Debug)]
enum Meta {
    None,
    Yaml {
        open: &'static str,
        close: &'static str,
        lines: Vec<YamlLine>,
        /// Whether the closing `---` line ends with a line break (not when the body is empty
        /// and the file ends right there).
        close_eol: bool,
    },
    Logseq(Vec<Property>),
}

#[derive(Clone, Debug)]
struct Note {
    bom: bool,
    eol: &'static str,
    meta: Meta,
    body: String,
}

impl Note {
    /// The metadata block exactly as written, BOM included.
    fn frontmatter(&self) -> String {
        let mut s = String::from(if self.bom { "\u{feff}" } else { "" });
        let eol = self.eol;
        match &self.meta {
            Meta::None => {}
            Meta::Yaml {
                open,
                close,
                lines,
                close_eol,
            } => {
                s.push_str(open);
                s.push_str(eol);
                for line in lines {
                    match line {
                        YamlLine::Pair(k, v) => {
                            s.push_str(&format!("{k}:{}{eol}", v.inline));
                            for b in &v.block {
                                s.push_str(&format!("{b}{eol}"));
                            }
                        }
                        YamlLine::Comment(c) => s.push_str(&format!("#{c}{eol}")),
                        YamlLine::Blank => s.push_str(eol),
                    }
                }
                s.push_str(close);
                if *close_eol {
                    s.push_str(eol);
                }
            }
            Meta::Logseq(props) => {
                for p in props {
                    s.push_str(&format!("{}::{}{eol}", p.key, p.raw));
                }
            }
        }
        s
    }

    fn text(&self) -> String {
        format!("{}{}", self.frontmatter(), self.body)
    }

    fn kind(&self) -> FrontmatterKind {
        match self.meta {
            Meta::None => FrontmatterKind::None,
            Meta::Yaml { .. } => FrontmatterKind::Yaml,
            Meta::Logseq(_) => FrontmatterKind::LogseqProperties,
        }
    }

    /// The metadata the codec must read, in file order.
    fn metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match &self.meta {
            Meta::None => {}
            Meta::Yaml { lines, .. } => {
                for line in lines {
                    if let YamlLine::Pair(k, v) = line {
                        m.insert(k.clone(), v.json.clone());
                    }
                }
            }
            Meta::Logseq(props) => {
                for p in props {
                    m.insert(p.key.to_ascii_lowercase(), p.json.clone());
                }
            }
        }
        m
    }

    /// Keys whose value [`Note::with_value`] can replace.
    fn value_count(&self) -> usize {
        match &self.meta {
            Meta::None => 0,
            Meta::Yaml { lines, .. } => lines
                .iter()
                .filter(|l| matches!(l, YamlLine::Pair(..)))
                .count(),
            Meta::Logseq(props) => props.len(),
        }
    }

    /// The same note with the value of its `i`-th key (modulo their number) written anew:
    /// as `yaml` in a YAML block; as `list` or `plain` for a Logseq list key or other key.
    /// Returns the note, the key and the value the codec must now read for it.
    fn with_value(
        &self,
        i: usize,
        yaml: &YamlValue,
        plain: &(String, Value),
        list: &(String, Value),
    ) -> (Note, String, Value) {
        let mut out = self.clone();
        let n = self.value_count();
        let (key, json) = match &mut out.meta {
            Meta::None => unreachable!("only notes with metadata are edited"),
            Meta::Yaml { lines, .. } => {
                let Some(YamlLine::Pair(k, v)) = lines
                    .iter_mut()
                    .filter(|l| matches!(l, YamlLine::Pair(..)))
                    .nth(i % n)
                else {
                    unreachable!("i % n is below the number of pairs")
                };
                *v = yaml.clone();
                (k.clone(), yaml.json.clone())
            }
            Meta::Logseq(props) => {
                let p = &mut props[i % n];
                let key = p.key.to_ascii_lowercase();
                let (raw, json) = if ["tags", "alias"].contains(&key.as_str()) {
                    list
                } else {
                    plain
                };
                p.raw = raw.clone();
                p.json = json.clone();
                (key, json.clone())
            }
        };
        (out, key, json)
    }
}

/// JSON text of a map, order included (`Map`'s `==` ignores key order).
fn ordered(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).expect("a JSON map serializes")
}

/// A scalar as YAML text and the JSON it means. Plain strings always hold a space so none
/// is ever a YAML keyword (`true`, `null`, `No`); the text is never empty.
fn yaml_scalar() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        "[a-z]{2,6} [a-z0-9é日 ]{0,8}[a-z0-9é]".prop_map(|s| (s.clone(), Value::String(s))),
        "[ -~é日🚀]{0,12}".prop_map(|s| {
            let quoted = format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            (quoted, Value::String(s))
        }),
        "[ -~é日🚀]{0,12}".prop_map(|s| (format!("'{}'", s.replace('\'', "''")), Value::String(s))),
        any::<i64>().prop_map(|i| (i.to_string(), Value::from(i))),
        (-1000i32..1000, 0u8..100).prop_map(|(a, b)| {
            let text = format!("{a}.{b:02}");
            let f: f64 = text.parse().expect("a decimal");
            (text, Value::from(f))
        }),
        any::<bool>().prop_map(|b| (b.to_string(), Value::Bool(b))),
        prop_oneof![Just("~"), Just("null")].prop_map(|s| (s.to_string(), Value::Null)),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]".prop_map(|d| (d.clone(), Value::String(d))),
    ]
}

/// A value after `key:`: a scalar (maybe with a trailing comment), nothing (null), a flow
/// list, a block list or a nested map.
fn yaml_value() -> impl Strategy<Value = YamlValue> {
    let comment = proptest::option::of("[ -~é]{0,10}");
    let item = prop_oneof![
        "w[a-z0-9]{0,5}".prop_map(|s| (s.clone(), Value::String(s))),
        any::<i32>().prop_map(|i| (i.to_string(), Value::from(i))),
    ];
    prop_oneof![
        4 => (yaml_scalar(), comment.clone()).prop_map(|((text, json), c)| YamlValue {
            inline: match c {
                Some(c) => format!(" {text} #{c}"),
                None => format!(" {text}"),
            },
            block: vec![],
            json,
        }),
        1 => comment.prop_map(|c| YamlValue {
            inline: c.map(|c| format!(" #{c}")).unwrap_or_default(),
            block: vec![],
            json: Value::Null,
        }),
        1 => proptest::collection::vec(item, 0..4).prop_map(|items| YamlValue {
            inline: format!(
                " [{}]",
                items.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ")
            ),
            block: vec![],
            json: Value::Array(items.into_iter().map(|(_, j)| j).collect()),
        }),
        1 => proptest::collection::vec(yaml_scalar(), 1..4).prop_map(|items| YamlValue {
            inline: String::new(),
            block: items.iter().map(|(t, _)| format!("  - {t}")).collect(),
            json: Value::Array(items.into_iter().map(|(_, j)| j).collect()),
        }),
        1 => proptest::collection::vec(yaml_scalar(), 1..4).prop_map(|items| {
            let mut m = Map::new();
            let block = items
                .into_iter()
                .enumerate()
                .map(|(i, (t, j))| {
                    m.insert(format!("k{i}"), j);
                    format!("  k{i}: {t}")
                })
                .collect();
            YamlValue {
                inline: String::new(),
                block,
                json: Value::Object(m),
            }
        }),
    ]
}

/// A YAML block: pairs with distinct keys (the index makes them so), comment lines, and the
/// empty blocks (`---` straight after `---`, a blank line, only a comment).
fn yaml_meta() -> impl Strategy<Value = Meta> {
    let line = prop_oneof![
        5 => ("[a-zé日][a-z0-9_é]{0,6}", yaml_value())
            .prop_map(|(k, v)| YamlLine::Pair(k, v)),
        1 => "[ -~é]{0,12}".prop_map(YamlLine::Comment),
        1 => Just(YamlLine::Blank),
    ];
    let delimiter = prop_oneof![Just("---"), Just("--- ")];
    (
        delimiter.clone(),
        delimiter,
        proptest::collection::vec(line, 0..6),
    )
        .prop_map(|(open, close, lines)| {
            let lines = lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| match l {
                    YamlLine::Pair(k, v) => YamlLine::Pair(format!("{k}{i}"), v),
                    c => c,
                })
                .collect();
            Meta::Yaml {
                open,
                close,
                lines,
                close_eol: true,
            }
        })
}

/// A Logseq property as written after `key::` (empty, or a space and the value; list keys
/// hold comma-separated page references) and the value it means.
fn logseq_value(list: bool) -> BoxedStrategy<(String, Value)> {
    if list {
        let item = prop_oneof![
            "[a-z][a-z0-9]{0,5}".prop_map(|s| (s.clone(), s)),
            "[a-z][a-z0-9 ]{0,5}[a-z]".prop_map(|s| (format!("[[{s}]]"), s)),
            "[a-z][a-z0-9]{0,5}".prop_map(|s| (format!("#{s}"), s)),
        ];
        proptest::collection::vec(item, 1..4)
            .prop_map(|items| {
                let raw = items.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>();
                let raw = format!(" {}", raw.join(", "));
                let json = items.into_iter().map(|(_, v)| Value::String(v)).collect();
                (raw, Value::Array(json))
            })
            .boxed()
    } else {
        prop_oneof![
            Just((String::new(), Value::String(String::new()))),
            "[a-zA-Z0-9é日#,:\\[\\]]([a-zA-Z0-9é日#,:\\[\\] ]{0,12}[a-zA-Z0-9é日#,:\\[\\]])?"
                .prop_map(|v| (format!(" {v}"), Value::String(v))),
        ]
        .boxed()
    }
}

fn logseq_property(i: usize) -> impl Strategy<Value = Property> {
    prop_oneof![
        4 => "[a-zA-Z][a-zA-Z0-9_-]{0,6}".prop_flat_map(move |stem| {
            // The index keeps keys distinct after lower-casing and never a list key.
            let key = format!("{stem}{i}");
            logseq_value(false).prop_map(move |(raw, json)| Property {
                key: key.clone(),
                raw,
                json,
            })
        }),
        1 => prop_oneof![Just("tags"), Just("Tags"), Just("alias")].prop_flat_map(|key| {
            logseq_value(true).prop_map(move |(raw, json)| Property {
                key: key.to_string(),
                raw,
                json,
            })
        }),
    ]
}

fn logseq_meta() -> impl Strategy<Value = Meta> {
    (1..5usize)
        .prop_flat_map(|n| (0..n).map(logseq_property).collect::<Vec<_>>())
        .prop_map(|mut props| {
            // A list key appears once (a repeated key would keep only its last value).
            let mut seen = std::collections::HashSet::new();
            props.retain(|p| seen.insert(p.key.to_ascii_lowercase()));
            Meta::Logseq(props)
        })
}

/// Body lines, including ones that look like metadata (`---`, `key:: value`), which only
/// count as such at the top of the file.
fn body_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~é日🚀#]{0,30}",
        1 => Just("---".to_string()),
        1 => Just("key:: value".to_string()),
        1 => Just("- a block".to_string()),
        1 => Just("```".to_string()),
        1 => Just(String::new()),
    ]
}

/// Empty, or a body starting with `first`, then any lines, with or without a final line
/// break.
fn body(first: BoxedStrategy<String>, eol: &'static str) -> impl Strategy<Value = String> {
    proptest::option::of((
        first,
        proptest::collection::vec(body_line(), 0..6),
        any::<bool>(),
    ))
    .prop_map(move |body| {
        let Some((first, rest, trailing)) = body else {
            return String::new();
        };
        let mut s = std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join(eol);
        if trailing {
            s.push_str(eol);
        }
        s
    })
}

/// Notes as people write them: YAML frontmatter, Logseq page properties or nothing; with
/// or without a BOM; LF or CRLF; bodies that are empty or hold anything.
fn note() -> impl Strategy<Value = Note> {
    let eol = prop_oneof![Just("\n"), Just("\r\n")];
    (eol, any::<bool>(), 0..3u8).prop_flat_map(|(eol, bom, which)| {
        let meta = match which {
            0 => Just(Meta::None).boxed(),
            1 => yaml_meta().boxed(),
            _ => logseq_meta().boxed(),
        };
        // What may open the body: after YAML anything; after page properties or with no
        // metadata, never a line that would itself be read as metadata.
        let first = match which {
            1 => body_line().boxed(),
            2 => prop_oneof![Just(String::new()), "- [ -~é日🚀]{0,20}"].boxed(),
            _ => "[a-zA-Z0-9 é日🚀#.,!?()]{0,30}".boxed(),
        };
        (meta, body(first, eol)).prop_map(move |(meta, body)| Note {
            bom,
            eol,
            meta,
            body,
        })
    })
}

/// Checks that `text` parses into exactly `note`'s parts.
fn parses_as(note: &Note) -> Result<Document, TestCaseError> {
    let text = note.text();
    let d = Document::parse(&text)
        .unwrap_or_else(|e| panic!("a well-formed note was refused ({e}): {text:?}"));
    prop_assert_eq!(&d.text(), &text, "not byte for byte");
    prop_assert_eq!(
        &d.frontmatter,
        &note.frontmatter(),
        "frontmatter of {:?}",
        text
    );
    prop_assert_eq!(&d.body, &note.body, "body of {:?}", text);
    prop_assert_eq!(d.kind, note.kind(), "kind of {:?}", text);
    prop_assert_eq!(
        ordered(&d.metadata),
        ordered(&note.metadata()),
        "metadata of {:?}",
        text
    );
    Ok(d)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every well-formed note parses, into exactly the frontmatter, body, kind and metadata
    /// (values and key order) it was written with, and `text()` gives back every byte.
    #[test]
    fn notes_parse_into_their_parts_byte_for_byte(note in note()) {
        parses_as(&note)?;
    }

    /// The same with the file ending right at the closing `---` (no line break, no body).
    #[test]
    fn frontmatter_may_end_the_file(meta in yaml_meta(), bom in any::<bool>(),
                                    eol in prop_oneof![Just("\n"), Just("\r\n")]) {
        let meta = match meta {
            Meta::Yaml { open, close, lines, .. } =>
                Meta::Yaml { open, close, lines, close_eol: false },
            other => other,
        };
        parses_as(&Note { bom, eol, meta, body: String::new() })?;
    }

    /// Writing another value for one key changes that key's value and nothing else: the
    /// other keys keep their values and order, and the body is untouched.
    #[test]
    fn changing_one_value_changes_only_that_key(
        note in note().prop_filter("has metadata", |n| n.value_count() > 0),
        i in any::<usize>(),
        yaml in yaml_value(),
        plain in logseq_value(false),
        list in logseq_value(true),
    ) {
        let before = parses_as(&note)?;
        let (edited, key, want) = note.with_value(i, &yaml, &plain, &list);
        let after = parses_as(&edited)?;
        prop_assert_eq!(&after.body, &before.body);
        let keys = |d: &Document| d.metadata.keys().cloned().collect::<Vec<_>>();
        prop_assert_eq!(keys(&after), keys(&before));
        for (k, v) in &before.metadata {
            if *k == key {
                prop_assert_eq!(&after.metadata[k], &want, "edited key {}", k);
            } else {
                prop_assert_eq!(&after.metadata[k], v, "key {} changed", k);
            }
        }
    }

    /// Any bytes at all: decoding and parsing never panic; text that does not open with a
    /// `---` line always parses (only a YAML block can be malformed), and whatever parses
    /// loses no byte.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                   text in "\\PC{0,200}") {
        if let Ok(decoded) = decode(&bytes) {
            let _ = Document::parse(decoded);
        }
        let opens_yaml = text
            .strip_prefix('\u{feff}')
            .unwrap_or(&text)
            .split('\n')
            .next()
            .is_some_and(|first| first.trim_end() == "---");
        match Document::parse(&text) {
            Ok(d) => prop_assert_eq!(d.text(), text),
            Err(e) => prop_assert!(opens_yaml, "refused without a '---' block ({e}): {text:?}"),
        }
    }
}
