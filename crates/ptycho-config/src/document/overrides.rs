//! Command-line overrides on a loaded canonical document: `--set KEY=VALUE` wins over the file,
//! the file wins over the defaults.
//!
//! Upstream's TF command line gives every flag the dataclass default and lets any non-None flag
//! overwrite the YAML, so YAML values were silently replaced by defaults (reference §7.14a);
//! here only the keys actually given on the command line change.

use serde_json::{Map, Value};

use super::parse::from_sections;
use super::{ConfigDocument, Loaded};
use crate::error::{ConfigError, Result, nearest};
use crate::execution::EXECUTION_FIELDS;
use crate::inference::INFERENCE_FIELDS;
use crate::model::MODEL_FIELDS;
use crate::overrides::Overrides;
use crate::training::TRAINING_FIELDS;

const SECTIONS: [(&str, &[&str]); 4] = [
    ("model", MODEL_FIELDS),
    ("training", TRAINING_FIELDS),
    ("inference", INFERENCE_FIELDS),
    ("execution", EXECUTION_FIELDS),
];

/// The sections a key is meant for: the prefix's section, or every section with such a field
/// (execution only when no model/training/inference field has the name).
fn targets(key: &str) -> Result<(Vec<&'static str>, &str)> {
    if let Some((prefix, field)) = key.split_once('.') {
        let Some((section, fields)) = SECTIONS.iter().find(|(name, _)| *name == prefix) else {
            let names: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
            return Err(ConfigError::UnknownKey {
                key: key.to_owned(),
                hint: format!(" (prefix must be one of {})", names.join(", ")),
            });
        };
        if !fields.contains(&field) {
            let hint = match nearest(field, fields.iter().copied()) {
                Some(best) => format!(" (did you mean `{prefix}.{best}`?)"),
                None => format!(" (not a field of [{prefix}])"),
            };
            return Err(ConfigError::UnknownKey {
                key: key.to_owned(),
                hint,
            });
        }
        return Ok((vec![section], field));
    }
    let mut found: Vec<&'static str> = SECTIONS[..3]
        .iter()
        .filter(|(_, fields)| fields.contains(&key))
        .map(|(name, _)| *name)
        .collect();
    if found.is_empty() && EXECUTION_FIELDS.contains(&key) {
        found.push("execution");
    }
    if found.is_empty() {
        let all: Vec<&str> = SECTIONS
            .iter()
            .flat_map(|(_, f)| f.iter().copied())
            .collect();
        let hint = match nearest(key, all.iter().copied()) {
            Some(best) => format!(" (did you mean `{best}`?)"),
            None => " (not a model, training, inference or execution field)".to_owned(),
        };
        return Err(ConfigError::UnknownKey {
            key: key.to_owned(),
            hint,
        });
    }
    Ok((found, key))
}

impl ConfigDocument {
    /// The document with `overrides` laid over it, re-validated and checked against what this
    /// implementation runs with ([`crate::support`]). A key applies to every section of this
    /// document that has such a field (`training.X` / `inference.X` / ... pick one); a key whose
    /// sections the document lacks is an error naming the section.
    pub fn with_overrides(&self, overrides: &Overrides) -> Result<Loaded<ConfigDocument>> {
        let loaded = self.with_overrides_upstream(overrides)?;
        loaded.value.check_supported()?;
        Ok(loaded)
    }

    /// [`ConfigDocument::with_overrides`] with upstream's rules only (see
    /// [`ConfigDocument::load_upstream`]).
    pub fn with_overrides_upstream(&self, overrides: &Overrides) -> Result<Loaded<ConfigDocument>> {
        let mut root = match self.to_value() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        root.entry("execution")
            .or_insert_with(|| Value::Object(Map::new()));
        for (key, value) in overrides.iter() {
            let (sections, field) = targets(key)?;
            let mut applied = false;
            for section in &sections {
                if let Some(Value::Object(map)) = root.get_mut(*section) {
                    // A deprecated n_images given alone must reach n_groups (upstream's alias).
                    if field == "n_images" && !overrides.contains("n_groups") {
                        map.remove("n_groups");
                    }
                    map.insert(field.to_owned(), value.clone());
                    applied = true;
                }
            }
            if !applied {
                return Err(ConfigError::invalid(
                    format!("--set {key}"),
                    value,
                    format!(
                        "applies to [{}], which this file does not have; add that section to the file",
                        sections.join("] / [")
                    ),
                ));
            }
        }
        let mut warnings = Vec::new();
        let document = from_sections(root, &mut warnings)?;
        document.validate()?;
        Ok(Loaded {
            value: document,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{ConfigDocument, Format, Overrides};

    fn doc(text: &str) -> ConfigDocument {
        ConfigDocument::parse(text, Format::Yaml).unwrap().value
    }

    #[test]
    fn only_given_keys_change() {
        let base = doc("nepochs: 7\nN: 128\nbatch_size: 8\n");
        let mut o = Overrides::new();
        o.insert_assignment("batch_size=32").unwrap();
        o.insert_assignment("gridsize=2").unwrap();
        let result = base.with_overrides(&o).unwrap().value;
        let training = result.training.unwrap();
        assert_eq!((training.nepochs, training.batch_size), (7, 32));
        assert_eq!((training.model.N, training.model.gridsize), (128, 2));
        assert_eq!(result.model.gridsize, 2);
    }

    #[test]
    fn n_images_override_becomes_n_groups_with_warning() {
        let base = doc("nepochs: 7\n");
        let loaded = base
            .with_overrides(&Overrides::new().with("n_images", 40))
            .unwrap();
        assert_eq!(loaded.value.training.unwrap().n_groups, 40);
        assert_eq!(loaded.warnings.len(), 1);
    }

    #[test]
    fn missing_section_and_invalid_values_are_reported() {
        let base = doc("nepochs: 7\n");
        let err = base
            .with_overrides(&Overrides::new().with("model_path", "m"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`--set model_path` = \"m\" is invalid: applies to [inference], which this file does not have; add that section to the file"
        );
        let err = base
            .with_overrides(&Overrides::new().with("batch_size", 12))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`training.batch_size` = 12 is invalid"),
            "{err}"
        );
        let err = base
            .with_overrides(&Overrides::new().with("training.nepoch", 1))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown key `training.nepoch` (did you mean `training.nepochs`?)"
        );
    }
}
