//! Keys of the settings file that no program reads: typos such as
//! `downlaod_dir`, which serde would ignore silently and leave the user with a
//! default they did not choose. They are warned about, never refused (an older
//! or newer gocart may know them), and only inside the sections the programs
//! own (filter criteria included: an unknown one fails its filter, so a typo
//! there blocks every alert) and the entries of `sites:`: every other
//! top-level section belongs to the plugins.
//!
//! The known keys come from the settings structs themselves (the fields serde
//! would fill), so a field added there is known here without a second list.
//! Lines come from the YAML parser's spans, right for block and flow style.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{Aitoff, AsciiMap, GcnKafka, Lvk, Site, Trigger, CRITERIA};

/// Keys read by parts of the programs that do not go through the structs above.
const EXTRA_KEYS: &[(&str, &[&str])] = &[
    ("gcn-kafka", &["group_instance_id"]),
    ("trigger", &["plugins"]),
];

/// The keys of one plugin's entry under `trigger.plugins`.
const PLUGIN_KEYS: &[&str] = &["timeout", "after", "kinds", "filters", "concurrency"];

/// The section whose keys are plugin file names, each holding [`PLUGIN_KEYS`].
const PLUGINS_SECTION: &str = "trigger.plugins";

/// A key inside a section the programs own that none of them reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    pub path: PathBuf,
    /// 1-based line of the key in the file.
    pub line: usize,
    /// The dotted key, e.g. `lvk.downlaod_dir`.
    pub key: String,
    /// The closest known key of the same section, if one is close.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} is not a setting",
            self.path.display(),
            self.line,
            self.key
        )?;
        match &self.suggestion {
            Some(known) => write!(f, "; did you mean {known}?"),
            None => Ok(()),
        }
    }
}

/// The unknown keys of `text`, in file order. Text that does not parse has
/// none: the settings loader reports it as an error of its own.
pub fn unknown_keys(text: &str, path: &Path) -> Vec<UnknownKey> {
    let Ok(Node::Map(top)) = serde_saphyr::from_str::<Node>(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in &top {
        if let Some(name) = &entry.key {
            walk(&entry.value, name, name, path, &mut found);
        }
    }
    found.sort_by_key(|u| u.line);
    found
}

/// The schema of one entry of a filter list.
const FILTER: &str = "filter";

/// The schema of one entry of `sites:`.
const SITE: &str = "site";

/// Checks the mapping at `dotted` (as written) whose schema is `section`.
fn walk(node: &Node, dotted: &str, section: &str, path: &Path, found: &mut Vec<UnknownKey>) {
    let entries = match node {
        Node::Map(entries) => entries,
        Node::Seq(items) => {
            if let Some(schema) = entry_schema(section) {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{dotted}[{i}]"), schema, path, found);
                }
            }
            return;
        }
        _ => return,
    };
    let known = known_keys(section);
    if known.is_empty() && section != PLUGINS_SECTION {
        // Not a section of ours (a plugin's), or a value such as `config`.
        return;
    }
    for entry in entries {
        let Some(key) = &entry.key else { continue };
        let child_dotted = format!("{dotted}.{key}");
        if section == PLUGINS_SECTION {
            walk(
                &entry.value,
                &child_dotted,
                "trigger.plugins.*",
                path,
                found,
            );
        } else if known.contains(&key.as_str()) {
            walk(
                &entry.value,
                &child_dotted,
                &format!("{section}.{key}"),
                path,
                found,
            );
        } else {
            found.push(UnknownKey {
                path: path.to_path_buf(),
                line: entry.line,
                key: child_dotted,
                suggestion: closest(key, &known).map(str::to_string),
            });
        }
    }
}

/// The keys a section may hold; empty for a section that is not ours.
pub fn known_keys(section: &str) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = match section {
        "lvk" => fields_of::<Lvk>().to_vec(),
        "lvk.aitoff" => fields_of::<Aitoff>().to_vec(),
        "lvk.ascii_map" => fields_of::<AsciiMap>().to_vec(),
        "gcn-kafka" => fields_of::<GcnKafka>().to_vec(),
        "trigger" => fields_of::<Trigger>().to_vec(),
        "trigger.plugins.*" => PLUGIN_KEYS.to_vec(),
        SITE => fields_of::<Site>().to_vec(),
        FILTER => std::iter::once("name")
            .chain(CRITERIA.iter().copied())
            .collect(),
        _ => Vec::new(),
    };
    for (extra_section, extra) in EXTRA_KEYS {
        if *extra_section == section {
            keys.extend(
                extra
                    .iter()
                    .filter(|k| !keys.contains(k))
                    .collect::<Vec<_>>(),
            );
        }
    }
    keys
}

/// The schema of each entry of the list at `section`, for the lists we own:
/// `lvk.filters` and each plugin's `filters` (the filter language), `sites`.
fn entry_schema(section: &str) -> Option<&'static str> {
    match section {
        "lvk.filters" | "trigger.plugins.*.filters" => Some(FILTER),
        "sites" => Some(SITE),
        _ => None,
    }
}

/// The known key closest to `key` by edit distance, when it is close enough
/// to be a typo of it (a third of the longer name at most); case is ignored.
/// Also the trigger's suggestion for a mistyped `replay --plugin` name.
pub fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let key = key.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&key, k), *k))
        .filter(|(d, k)| *d <= (key.chars().count().max(k.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and swaps of two neighbours (`downlaod` is one step from `download`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// The field names serde fills in `T` (as written in the file, renames
/// applied), read from its derived `Deserialize` by a deserializer that only
/// listens to what the struct asks for.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldSpy(&mut fields));
    fields
}

struct FieldSpy<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldSpy<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("only the field names were wanted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The shape of the file as far as keys go: mappings with each key's line.
enum Node {
    Map(Vec<Entry>),
    Seq(Vec<Node>),
    Other,
}

struct Entry {
    /// `None` for a key that is not a scalar (YAML allows `? [a, b]`).
    key: Option<String>,
    line: usize,
    value: Node,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            entries.push(Entry {
                key: key.value.0,
                line: key.referenced.line() as usize,
                value: map.next_value()?,
            });
        }
        Ok(Node::Map(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Node, D::Error> {
        Node::deserialize(de)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<Node, D::Error> {
        Node::deserialize(de)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
}

/// A mapping key as text; `None` for a key that is a mapping or a list.
struct KeyText(Option<String>);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = KeyText;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
        Ok(KeyText(Some(v.to_string())))
    }
    fn visit_unit<E>(self) -> Result<KeyText, E> {
        Ok(KeyText(None))
    }
    fn visit_none<E>(self) -> Result<KeyText, E> {
        Ok(KeyText(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyText, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(KeyText(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyText, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(KeyText(None))
    }
}
