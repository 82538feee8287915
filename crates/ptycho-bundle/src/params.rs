//! `params.json`: the legacy-key params snapshot of the training config, and the way back.
//!
//! Writing: upstream's `dataclass_to_legacy_dict` snapshot (every field, unset values as null,
//! legacy key names such as `object.big`), plus the trained `intensity_scale` and `_version`.
//! Reading (the CONFIG-001 analog): the snapshot is mapped back to the exact
//! [`TrainingConfig`], so inference needs no model flags. Reading is strict: every snapshot key
//! must be present and no other key may be, so a bundle cannot silently fall back to defaults.

use ptycho_config::format::typed;
use ptycho_config::model::MODEL_FIELDS;
use ptycho_config::training::TRAINING_FIELDS;
use ptycho_config::{KEY_MAPPINGS, LegacyParams, LegacyValue, TrainingConfig};
use serde_json::{Map, Value};

use crate::error::Malformed;
use crate::manifest::FORMAT_VERSION;

/// Params key of the trained intensity scale (`exp(log_scale)` at save time).
pub const INTENSITY_SCALE_KEY: &str = "intensity_scale";
/// Params key of the format version.
pub const VERSION_KEY: &str = "_version";

/// The snapshot written into each model folder.
pub fn snapshot(config: &TrainingConfig, intensity_scale: f64) -> LegacyParams {
    let mut params = LegacyParams::snapshot_of(config);
    params.set(INTENSITY_SCALE_KEY, intensity_scale);
    params.set(VERSION_KEY, FORMAT_VERSION);
    params
}

/// Pretty JSON in snapshot order with a trailing newline.
pub fn to_json(params: &LegacyParams) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(params).unwrap_or_default();
    text.push(b'\n');
    text
}

/// A params value as it appears in the file (`null`, `"1.0"`, ...).
fn as_json(value: &LegacyValue) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
}

/// Legacy key → canonical field name.
fn canonical_name(key: &str) -> &str {
    KEY_MAPPINGS
        .iter()
        .find(|(_, legacy)| *legacy == key)
        .map_or(key, |(field, _)| field)
}

/// The keys every snapshot has, in snapshot order (without the two extras).
pub fn config_keys() -> Vec<String> {
    LegacyParams::snapshot_of(&TrainingConfig::default())
        .keys()
        .map(str::to_owned)
        .collect()
}

/// A snapshot read back from a bundle: the full params, the training config, the scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub params: LegacyParams,
    pub config: TrainingConfig,
    pub intensity_scale: f64,
}

/// Parses and checks `params.json` bytes of `member`, and restores the training config.
pub fn restore(bytes: &[u8], member: &str) -> Result<Restored, Malformed> {
    let field = |field: &str, expected: &str, found: String| Malformed::Field {
        member: member.to_owned(),
        field: field.to_owned(),
        expected: expected.to_owned(),
        found,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| Malformed::Json {
        member: member.to_owned(),
        reason: e.to_string(),
    })?;
    let params = LegacyParams::from_json(text).map_err(|e| Malformed::Json {
        member: member.to_owned(),
        reason: e.to_string(),
    })?;
    if let Ok(Some(key)) = crate::strict_json::duplicate_key(bytes) {
        return Err(Malformed::DuplicateKey {
            member: member.to_owned(),
            key,
        });
    }

    match params.get(VERSION_KEY) {
        Some(LegacyValue::Str(v)) if v == FORMAT_VERSION => {}
        other => {
            return Err(field(
                VERSION_KEY,
                &format!("{FORMAT_VERSION:?} (the manifest's version)"),
                other.map_or("nothing".to_owned(), as_json),
            ));
        }
    }
    let intensity_scale = match params
        .get(INTENSITY_SCALE_KEY)
        .and_then(LegacyValue::as_f64)
    {
        Some(scale) if scale.is_finite() && scale > 0.0 => scale,
        other => {
            return Err(field(
                INTENSITY_SCALE_KEY,
                "a finite positive number (the trained exp(log_scale))",
                match (other, params.get(INTENSITY_SCALE_KEY)) {
                    (Some(scale), _) => scale.to_string(),
                    (None, Some(value)) => as_json(value),
                    (None, None) => "nothing".to_owned(),
                },
            ));
        }
    };

    let expected = config_keys();
    let missing: Vec<String> = expected
        .iter()
        .filter(|key| params.get(key).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Malformed::MissingParams {
            member: member.to_owned(),
            keys: missing,
        });
    }
    let unknown: Vec<String> = params
        .keys()
        .filter(|key| {
            *key != INTENSITY_SCALE_KEY && *key != VERSION_KEY && !expected.iter().any(|e| e == key)
        })
        .map(str::to_owned)
        .collect();
    if !unknown.is_empty() {
        return Err(Malformed::UnknownParams {
            member: member.to_owned(),
            keys: unknown,
        });
    }

    let config = to_config(&params).map_err(|reason| Malformed::InvalidConfig {
        member: member.to_owned(),
        reason,
    })?;
    Ok(Restored {
        params,
        config,
        intensity_scale,
    })
}

/// Maps a complete snapshot back to the canonical nested config and validates it.
fn to_config(params: &LegacyParams) -> Result<TrainingConfig, String> {
    let mut model = Map::new();
    let mut training = Map::new();
    for (key, value) in params.iter() {
        if key == INTENSITY_SCALE_KEY || key == VERSION_KEY {
            continue;
        }
        let name = canonical_name(key);
        let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
        if MODEL_FIELDS.contains(&name) {
            model.insert(name.to_owned(), json);
        } else if TRAINING_FIELDS.contains(&name) {
            training.insert(name.to_owned(), json);
        }
    }
    training.insert("model".to_owned(), Value::Object(model));
    let config: TrainingConfig = typed("", Value::Object(training)).map_err(|e| e.to_string())?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptycho_config::ModelConfig;

    fn config() -> TrainingConfig {
        TrainingConfig {
            model: ModelConfig {
                N: 128,
                gridsize: 2,
                probe_mask_diameter: Some(40.5),
                ..ModelConfig::default()
            },
            train_data_file: Some("data/train.npz".into()),
            nphotons: 1e6,
            n_subsample: Some(7),
            ..TrainingConfig::default()
        }
    }

    #[test]
    fn snapshot_round_trips_to_the_exact_config() {
        let params = snapshot(&config(), 812.25);
        assert_eq!(params.len(), config_keys().len() + 2);
        let restored = restore(&to_json(&params), "m/params.json").unwrap();
        assert_eq!(restored.config, config());
        assert_eq!(restored.intensity_scale, 812.25);
        assert_eq!(restored.params, params);
        assert_eq!(
            restored.params.get("object.big"),
            Some(&LegacyValue::Bool(true))
        );
    }

    fn broken(edit: impl Fn(&mut Map<String, Value>)) -> String {
        let mut value: Value = serde_json::from_slice(&to_json(&snapshot(&config(), 2.0))).unwrap();
        edit(value.as_object_mut().unwrap());
        restore(value.to_string().as_bytes(), "m/params.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn strict_reading_names_the_problem() {
        let err = broken(|m| {
            m.remove("N");
            m.remove("gridsize");
        });
        assert_eq!(
            err,
            "member \"m/params.json\": params lack required keys: N, gridsize"
        );
        let err = broken(|m| {
            m.insert("learning_rate".into(), 1.0.into());
        });
        assert_eq!(
            err,
            "member \"m/params.json\": params hold unknown keys: learning_rate"
        );
        let err = broken(|m| {
            m.insert("_version".into(), "2.0-pytorch".into());
        });
        assert!(err.contains("field `_version`: expected \"3.0\""), "{err}");
        let err = broken(|m| {
            m.remove("intensity_scale");
        });
        assert!(err.contains("field `intensity_scale`"), "{err}");
        assert!(err.ends_with("found nothing"), "{err}");
        let err = broken(|m| {
            m.insert("intensity_scale".into(), (-1.0).into());
        });
        assert!(err.ends_with("found -1"), "{err}");
        let err = broken(|m| {
            m.insert("N".into(), 65.into());
        });
        assert!(err.contains("model.N"), "{err}");
        let err = broken(|m| {
            m.insert("batch_size".into(), "16".into());
        });
        assert!(err.contains("batch_size"), "{err}");
        let mut text = String::from_utf8(to_json(&snapshot(&config(), 2.0))).unwrap();
        text.insert_str(1, "\"N\": 256,");
        let err = restore(text.as_bytes(), "m/params.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "member \"m/params.json\" holds the key `N` twice (which one is meant is ambiguous)"
        );
        let err = restore(b"{not json", "m/params.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("member \"m/params.json\" is not valid JSON"),
            "{err}"
        );
    }
}
