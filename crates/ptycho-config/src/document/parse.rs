//! Parsing a generic value into a [`ConfigDocument`]: the sectioned and the flat (upstream YAML)
//! layouts, key checks with suggestions, and upstream's `n_images` alias.

use serde_json::{Map, Value};

use super::{ConfigDocument, to_json};
use crate::error::{ConfigError, Result, nearest};
use crate::execution::{EXECUTION_FIELDS, ExecutionConfig};
use crate::format::typed;
use crate::inference::{INFERENCE_FIELDS, InferenceConfig};
use crate::model::{MODEL_FIELDS, ModelConfig};
use crate::training::{TRAINING_FIELDS, TrainingConfig, n_images_deprecation};

const SECTIONS: [&str; 4] = ["model", "training", "inference", "execution"];

/// Keys found in upstream's flat YAML files that belong to upstream scripts, not to the
/// configuration (e.g. `configs/comparison_config.yaml`): accepted with a warning so such files
/// load unchanged, never silently.
pub const UPSTREAM_SCRIPT_KEYS: [(&str, &str); 1] = [(
    "stitch_crop_size",
    "read by upstream's comparison script, not by the configuration",
)];

/// Plain-words name of a value's kind, for type errors.
pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn table(section: &str, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(ConfigError::WrongType {
            key: section.to_owned(),
            message: format!("expected a table of keys, found {}", kind_of(&other)),
        }),
    }
}

/// Rejects keys outside `valid`, naming the nearest valid key (or the section it belongs to).
fn check_keys(map: &Map<String, Value>, valid: &[&str], section: &str) -> Result<()> {
    for key in map.keys() {
        if valid.contains(&key.as_str()) {
            continue;
        }
        let hint = match nearest(key, valid.iter().copied()) {
            Some(best) => format!(" in [{section}] (did you mean `{best}`?)"),
            None => match home_section(key) {
                Some(home) => format!(" in [{section}] (it belongs in [{home}])"),
                None => format!(" in [{section}] (valid keys: {})", valid.join(", ")),
            },
        };
        return Err(ConfigError::UnknownKey {
            key: key.clone(),
            hint,
        });
    }
    Ok(())
}

fn home_section(key: &str) -> Option<&'static str> {
    if MODEL_FIELDS.contains(&key) {
        Some("model")
    } else if TRAINING_FIELDS.contains(&key) {
        Some("training")
    } else if INFERENCE_FIELDS.contains(&key) {
        Some("inference")
    } else if EXECUTION_FIELDS.contains(&key) {
        Some("execution")
    } else {
        None
    }
}

/// Upstream's `__post_init__` alias: a lone `n_images` becomes `n_groups`, with a warning.
fn resolve_n_images(section: &str, map: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    let has_groups = map.get("n_groups").is_some_and(|v| !v.is_null());
    if let Some(images) = map.get("n_images").filter(|v| !v.is_null()).cloned()
        && !has_groups
    {
        warnings.push(n_images_deprecation(section));
        map.insert("n_groups".into(), images);
    }
}

fn training_from(
    mut map: Map<String, Value>,
    model: &ModelConfig,
    warnings: &mut Vec<String>,
) -> Result<TrainingConfig> {
    resolve_n_images("training", &mut map, warnings);
    map.insert("model".into(), to_json(model));
    typed("training", Value::Object(map))
}

fn inference_from(
    mut map: Map<String, Value>,
    model: &ModelConfig,
    warnings: &mut Vec<String>,
) -> Result<InferenceConfig> {
    resolve_n_images("inference", &mut map, warnings);
    map.insert("model".into(), to_json(model));
    typed("inference", Value::Object(map))
}

pub(super) fn from_sections(
    mut root: Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Result<ConfigDocument> {
    for key in root.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            let hint = match home_section(key) {
                Some(home) => format!(" at the top level (move it into [{home}])"),
                None => match nearest(key, SECTIONS) {
                    Some(best) => format!(" at the top level (did you mean `{best}`?)"),
                    None => format!(" at the top level (sections: {})", SECTIONS.join(", ")),
                },
            };
            return Err(ConfigError::UnknownKey {
                key: key.clone(),
                hint,
            });
        }
    }
    let model_map = table("model", root.remove("model").unwrap_or(Value::Null))?;
    check_keys(&model_map, MODEL_FIELDS, "model")?;
    let model: ModelConfig = typed("model", Value::Object(model_map))?;
    let training = match root.remove("training") {
        Some(value) => {
            let map = table("training", value)?;
            check_keys(&map, TRAINING_FIELDS, "training")?;
            Some(training_from(map, &model, warnings)?)
        }
        None => None,
    };
    let inference = match root.remove("inference") {
        Some(value) => {
            let map = table("inference", value)?;
            check_keys(&map, INFERENCE_FIELDS, "inference")?;
            Some(inference_from(map, &model, warnings)?)
        }
        None => None,
    };
    let execution = match root.remove("execution") {
        Some(value) => {
            let map = table("execution", value)?;
            check_keys(&map, EXECUTION_FIELDS, "execution")?;
            typed("execution", Value::Object(map))?
        }
        None => ExecutionConfig::default(),
    };
    Ok(ConfigDocument {
        model,
        training,
        inference,
        execution,
    })
}

pub(super) fn from_flat(
    root: Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Result<ConfigDocument> {
    let is_inference = root.contains_key("model_path");
    let (own_fields, section) = if is_inference {
        (INFERENCE_FIELDS, "inference")
    } else {
        (TRAINING_FIELDS, "training")
    };
    let mut own = Map::new();
    let mut model_map = Map::new();
    let mut nested_model = None;
    let mut execution = Map::new();
    for (key, value) in root {
        if key == "model" {
            nested_model = Some(table("model", value)?);
        } else if own_fields.contains(&key.as_str()) {
            own.insert(key, value);
        } else if MODEL_FIELDS.contains(&key.as_str()) {
            model_map.insert(key, value);
        } else if EXECUTION_FIELDS.contains(&key.as_str()) {
            execution.insert(key, value);
        } else if let Some((_, why)) = UPSTREAM_SCRIPT_KEYS.iter().find(|(name, _)| *name == key) {
            warnings.push(format!("ignored `{key}`: {why}"));
        } else {
            let valid: Vec<&str> = own_fields
                .iter()
                .chain(MODEL_FIELDS)
                .chain(EXECUTION_FIELDS)
                .copied()
                .chain(["model"])
                .collect();
            let hint = match nearest(&key, valid.iter().copied()) {
                Some(best) => format!(" (did you mean `{best}`?)"),
                None if home_section(&key).is_some() => {
                    let (article, with) = if is_inference {
                        ("an", "with")
                    } else {
                        ("a", "without")
                    };
                    format!(
                        " (`{key}` is not {article} {section} setting; a flat file {with} `model_path` is {article} {section} config)"
                    )
                }
                None => " (not a model, training, inference or execution setting)".to_owned(),
            };
            return Err(ConfigError::UnknownKey { key, hint });
        }
    }
    if let Some(nested) = nested_model {
        check_keys(&nested, MODEL_FIELDS, "model")?;
        model_map.extend(nested);
    }
    let model: ModelConfig = typed("model", Value::Object(model_map))?;
    let execution: ExecutionConfig = typed("execution", Value::Object(execution))?;
    let mut document = ConfigDocument {
        model: model.clone(),
        execution,
        ..Default::default()
    };
    if is_inference {
        document.inference = Some(inference_from(own, &model, warnings)?);
    } else {
        document.training = Some(training_from(own, &model, warnings)?);
    }
    Ok(document)
}
