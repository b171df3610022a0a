//! Borrowed views of JSON text, so decoding reads numbers and strings straight from the record's
//! bytes: a number keeps its exact digits, a string without escapes is not copied, and nothing is
//! parsed twice.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The JSON text of one value, already validated by the parser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Raw<'a>(&'a str);

/// An object's members in order: names and the raw text of their values.
pub(crate) type Fields<'a> = Vec<(Cow<'a, str>, Raw<'a>)>;

impl<'a> Raw<'a> {
    pub(crate) fn from_raw(raw: &'a RawValue) -> Raw<'a> {
        Raw(raw.get().trim())
    }

    /// The value's JSON text.
    pub(crate) fn text(self) -> &'a str {
        self.0
    }

    pub(crate) fn is_null(self) -> bool {
        self.0 == "null"
    }

    pub(crate) fn as_bool(self) -> Option<bool> {
        match self.0 {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// A number's exact text.
    pub(crate) fn number(self) -> Option<&'a str> {
        matches!(self.0.as_bytes().first(), Some(b'-' | b'0'..=b'9')).then_some(self.0)
    }

    /// An integer written without fraction or exponent, within i64.
    pub(crate) fn as_i64(self) -> Option<i64> {
        self.number()?.parse().ok()
    }

    pub(crate) fn as_u64(self) -> Option<u64> {
        self.number()?.parse().ok()
    }

    /// A number as the nearest double (Rust's parser rounds correctly).
    pub(crate) fn as_f64(self) -> Option<f64> {
        self.number()?.parse().ok()
    }

    /// A string's contents, unescaped; borrowed when it has no escapes.
    pub(crate) fn as_str(self) -> Option<Cow<'a, str>> {
        let inner = self.0.strip_prefix('"')?.strip_suffix('"')?;
        if inner.contains('\\') {
            serde_json::from_str::<String>(self.0).ok().map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(inner))
        }
    }

    /// An object's members, if this is an object.
    pub(crate) fn object(self) -> Option<Fields<'a>> {
        if !self.0.starts_with('{') {
            return None;
        }
        serde_json::from_str::<Members<'a>>(self.0).ok().map(|m| m.0)
    }

    /// An array's elements, if this is an array.
    pub(crate) fn array(self) -> Option<Vec<Raw<'a>>> {
        if !self.0.starts_with('[') {
            return None;
        }
        serde_json::from_str::<Elements<'a>>(self.0).ok().map(|e| e.0)
    }

    /// Member `key` of an object.
    pub(crate) fn get(self, key: &str) -> Option<Raw<'a>> {
        self.object()?.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The JSON type's name, for error messages.
    pub(crate) fn kind(self) -> &'static str {
        match self.0.as_bytes().first() {
            Some(b'n') => "null",
            Some(b't' | b'f') => "boolean",
            Some(b'"') => "string",
            Some(b'[') => "array",
            Some(b'{') => "object",
            _ => "number",
        }
    }
}

impl fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Parses one complete JSON value.
pub(crate) fn parse_value(text: &str) -> Result<Raw<'_>, serde_json::Error> {
    serde_json::from_str::<&RawValue>(text).map(Raw::from_raw)
}

struct Members<'a>(Fields<'a>);
struct Elements<'a>(Vec<Raw<'a>>);
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((key, value)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    members.push((key.0, Raw::from_raw(value)));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

impl<'de> Deserialize<'de> for Elements<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementsVisitor;
        impl<'de> Visitor<'de> for ElementsVisitor {
            type Value = Elements<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Elements<'de>, A::Error> {
                let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(8));
                while let Some(value) = seq.next_element::<&'de RawValue>()? {
                    elements.push(Raw::from_raw(value));
                }
                Ok(Elements(elements))
            }
        }
        deserializer.deserialize_seq(ElementsVisitor)
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
