//! Duplicate-key detection for the bundle's JSON members.
//!
//! serde_json keeps the last of two equal keys silently; in a params snapshot that would make
//! `{"N": 64, "N": 128}` mean whatever the last writer intended. The loader refuses such files.

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// Parses `bytes` as a JSON object only to find the first top-level key that occurs twice.
pub fn duplicate_key(bytes: &[u8]) -> Result<Option<String>, serde_json::Error> {
    serde_json::from_slice::<FirstDuplicate>(bytes).map(|found| found.0)
}

struct FirstDuplicate(Option<String>);

impl<'de> Deserialize<'de> for FirstDuplicate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = FirstDuplicate;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstDuplicate, A::Error> {
        let mut seen = std::collections::HashSet::new();
        let mut first = None;
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            if !seen.insert(key.clone()) && first.is_none() {
                first = Some(key);
            }
        }
        Ok(FirstDuplicate(first))
    }
}

impl std::fmt::Debug for FirstDuplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FirstDuplicate").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_repeated_key() {
        assert_eq!(duplicate_key(br#"{"a": 1, "b": [1, 2]}"#).unwrap(), None);
        assert_eq!(
            duplicate_key(br#"{"N": 64, "b": {"x": 1}, "N": 128, "b": 2}"#).unwrap(),
            Some("N".to_owned())
        );
        assert!(duplicate_key(b"[1, 2]").is_err());
    }
}
