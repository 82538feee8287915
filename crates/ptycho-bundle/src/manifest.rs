//! `manifest.json`: which models the bundle holds, its format version, the backend that wrote
//! it, when, and with which crate versions.
//!
//! The version is checked before any other field, so a future format is reported as such rather
//! than as a pile of field errors. Upstream's versions (`1.0`, `2.0-pytorch`) name pickle-based
//! formats; they are recognised and refused with an explanation.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Malformed;
use crate::layout::{MANIFEST_MEMBER, ModelRole};

/// Format version of the bundles this crate writes and reads (`X.Y`; upstream used `1.0` for
/// TensorFlow and `2.0-pytorch` for PyTorch pickles; safetensors + JSON is a new payload, hence
/// a new major version).
pub const FORMAT_VERSION: &str = "3.0";

/// Backend names a bundle may record. The weights are little-endian safetensors whatever the
/// backend, so a bundle written under any of them loads under any other.
pub const KNOWN_BACKENDS: &[&str] = &[
    "flex", "ndarray", "wgpu", "vulkan", "metal", "cuda", "rocm", "candle", "tch",
];

/// The parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Model folders in the archive, inference graph first.
    pub models: Vec<String>,
    /// Bundle format version ([`FORMAT_VERSION`]).
    pub version: String,
    /// burn backend the model was trained on (informational; see [`KNOWN_BACKENDS`]).
    pub backend: String,
    /// Creation time, RFC 3339 in UTC (`2026-11-29T17:00:00Z`).
    pub created_at: String,
    /// Versions of the crates that wrote the bundle (`ptycho-bundle` always present).
    pub crate_versions: BTreeMap<String, String>,
}

/// RFC 3339 UTC text of a time, whole seconds.
pub fn rfc3339_utc(time: SystemTime) -> Result<String, String> {
    let time = OffsetDateTime::from(time);
    let time = time.replace_nanosecond(0).map_err(|e| e.to_string())?;
    time.format(&Rfc3339).map_err(|e| e.to_string())
}

/// The creation time to record: `SOURCE_DATE_EPOCH` (the reproducible-builds convention) when
/// set, else now.
pub fn default_creation_time() -> Result<SystemTime, String> {
    creation_time_from(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())
}

/// The creation time for a `SOURCE_DATE_EPOCH` value (`None`: now).
fn creation_time_from(source_date_epoch: Option<&str>) -> Result<SystemTime, String> {
    match source_date_epoch {
        Some(text) => {
            let seconds: u64 = text.trim().parse().map_err(|_| {
                format!("SOURCE_DATE_EPOCH must be whole seconds since 1970, found {text:?}")
            })?;
            Ok(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
        }
        None => Ok(SystemTime::now()),
    }
}

fn field(field: &str, expected: impl Into<String>, found: impl Into<String>) -> Malformed {
    Malformed::Field {
        member: MANIFEST_MEMBER.to_owned(),
        field: field.to_owned(),
        expected: expected.into(),
        found: found.into(),
    }
}

impl Manifest {
    /// A manifest for a new bundle.
    pub fn new(
        backend: &str,
        created_at: String,
        crate_versions: BTreeMap<String, String>,
    ) -> Self {
        Manifest {
            models: ModelRole::ALL.iter().map(|r| r.name().to_owned()).collect(),
            version: FORMAT_VERSION.to_owned(),
            backend: backend.to_owned(),
            created_at,
            crate_versions,
        }
    }

    /// Pretty JSON, fields in declaration order, trailing newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut text = serde_json::to_vec_pretty(self).unwrap_or_default();
        text.push(b'\n');
        text
    }

    /// The backend, checked against [`KNOWN_BACKENDS`].
    pub fn check_backend(backend: &str) -> Result<(), String> {
        if KNOWN_BACKENDS.contains(&backend) {
            Ok(())
        } else {
            Err(format!("one of {}", KNOWN_BACKENDS.join(", ")))
        }
    }

    /// Parses and validates manifest bytes: version first, then every field.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, Malformed> {
        let json = |reason: String| Malformed::Json {
            member: MANIFEST_MEMBER.to_owned(),
            reason,
        };
        let value: Value = serde_json::from_slice(bytes).map_err(|e| json(e.to_string()))?;
        if let Ok(Some(key)) = crate::strict_json::duplicate_key(bytes) {
            return Err(Malformed::DuplicateKey {
                member: MANIFEST_MEMBER.to_owned(),
                key,
            });
        }
        let Value::Object(map) = &value else {
            return Err(json(format!("expected an object, found {value}")));
        };
        match map.get("version") {
            Some(Value::String(v)) if v == FORMAT_VERSION => {}
            Some(Value::String(v)) if v == "1.0" || v == "2.0-pytorch" => {
                return Err(field(
                    "version",
                    format!("{FORMAT_VERSION:?} (safetensors bundles)"),
                    format!(
                        "{v:?}, upstream's python format whose members are pickles; they are never \
                         loaded because loading one can execute code (retrain or re-save the model \
                         with this program)"
                    ),
                ));
            }
            Some(other) => {
                return Err(field(
                    "version",
                    format!("{FORMAT_VERSION:?} (the only format this program reads)"),
                    other.to_string(),
                ));
            }
            None => return Err(field("version", format!("{FORMAT_VERSION:?}"), "nothing")),
        }
        let manifest: Manifest = serde_json::from_value(value).map_err(|e| json(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks models, backend and creation time.
    pub fn validate(&self) -> Result<(), Malformed> {
        let expected: Vec<&str> = ModelRole::ALL.iter().map(|r| r.name()).collect();
        if self.models != expected {
            return Err(field(
                "models",
                format!("{expected:?} (both the inference and the training graph)"),
                format!("{:?}", self.models),
            ));
        }
        if let Err(expected) = Manifest::check_backend(&self.backend) {
            return Err(field("backend", expected, format!("{:?}", self.backend)));
        }
        let parsed = OffsetDateTime::parse(&self.created_at, &Rfc3339).map_err(|_| {
            field(
                "created_at",
                "an RFC 3339 UTC time such as \"2026-11-29T17:00:00Z\"",
                format!("{:?}", self.created_at),
            )
        })?;
        if !parsed.offset().is_utc() {
            return Err(field(
                "created_at",
                "a UTC time (ending in Z)",
                format!("{:?}", self.created_at),
            ));
        }
        if !self.crate_versions.contains_key(env!("CARGO_PKG_NAME")) {
            return Err(field(
                "crate_versions",
                format!("an entry for {}", env!("CARGO_PKG_NAME")),
                format!("{:?}", self.crate_versions),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Manifest {
        let versions = BTreeMap::from([("ptycho-bundle".to_owned(), "0.1.0".to_owned())]);
        Manifest::new("flex", "2026-11-29T17:00:00Z".to_owned(), versions)
    }

    #[test]
    fn round_trip_and_field_order() {
        let m = valid();
        let text = String::from_utf8(m.to_json()).unwrap();
        let order: Vec<usize> = ["\"models\"", "\"version\"", "\"backend\"", "\"created_at\""]
            .iter()
            .map(|k| text.find(k).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn rfc3339_is_utc_whole_seconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_123);
        assert_eq!(rfc3339_utc(t).unwrap(), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn source_date_epoch_fixes_the_time() {
        let fixed = creation_time_from(Some("1767225600")).unwrap();
        assert_eq!(rfc3339_utc(fixed).unwrap(), "2026-01-01T00:00:00Z");
        assert_eq!(
            creation_time_from(Some("yesterday")).unwrap_err(),
            "SOURCE_DATE_EPOCH must be whole seconds since 1970, found \"yesterday\""
        );
        let now = creation_time_from(None).unwrap();
        assert!(now.duration_since(fixed).is_ok());
    }

    #[test]
    fn bad_fields_are_named() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|v| v["version"] = "9.9".into()),
                "field `version`: expected \"3.0\"",
            ),
            (Box::new(|v| v["version"] = "2.0-pytorch".into()), "pickles"),
            (
                Box::new(|v| v["backend"] = "pytorch".into()),
                "field `backend`: expected one of flex",
            ),
            (
                Box::new(|v| v["models"] = serde_json::json!(["autoencoder"])),
                "field `models`",
            ),
            (
                Box::new(|v| v["created_at"] = "yesterday".into()),
                "field `created_at`",
            ),
            (
                Box::new(|v| v["created_at"] = "2026-11-29T17:00:00+02:00".into()),
                "a UTC time",
            ),
            (Box::new(|v| v["extra"] = 1.into()), "unknown field `extra`"),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("backend");
                }),
                "missing field `backend`",
            ),
        ];
        for (edit, expected) in cases {
            let mut value = serde_json::to_value(valid()).unwrap();
            edit(&mut value);
            let err = Manifest::parse(value.to_string().as_bytes()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("manifest.json"), "{text}");
            assert!(text.contains(expected), "{text} lacks {expected}");
        }
    }
}
