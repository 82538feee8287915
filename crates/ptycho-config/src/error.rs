//! Error type of the configuration crate.
//!
//! Every message is a single line that names the file (when there is one), the key or field,
//! the offending value and what would be accepted, so a user can fix the input without reading
//! source code.

use std::path::PathBuf;

/// Everything that can go wrong while loading, validating, bridging or saving a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        path: PathBuf,
        reason: std::io::Error,
    },
    /// The file could not be written.
    #[error("cannot write config file {path}: {reason}")]
    Write {
        path: PathBuf,
        reason: std::io::Error,
    },
    /// The file extension does not name a supported format.
    #[error("{path}: unsupported config format {extension:?} (use .toml, .yaml, .yml or .json)")]
    UnknownFormat { path: PathBuf, extension: String },
    /// The text is not valid TOML / YAML / JSON.
    #[error("{format} syntax error: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    /// A key that no configuration section defines.
    #[error("unknown key `{key}`{hint}")]
    UnknownKey { key: String, hint: String },
    /// A value of the wrong type or an unknown choice.
    #[error("`{key}`: {message}")]
    WrongType { key: String, message: String },
    /// A required field is absent.
    #[error("missing required `{field}`: {fix}")]
    Missing { field: String, fix: String },
    /// A value that parses but breaks a rule (range, power of two, allowed set, ...).
    #[error("`{field}` = {value} is invalid: {expected}")]
    Invalid {
        field: String,
        value: String,
        expected: String,
    },
    /// A valid value this implementation does not run with (see [`crate::support`]).
    #[error("`{field}` = {value}: {supported}")]
    Unsupported {
        field: String,
        value: String,
        supported: String,
    },
    /// A bridge rule rejected the PyTorch-side configuration.
    #[error("{message}")]
    Bridge { message: String },
    /// A `--set KEY=VALUE` argument without `=`.
    #[error("override {text:?} is not of the form KEY=VALUE (e.g. n_groups=512)")]
    OverrideSyntax { text: String },
    /// Any of the above, located in a file. The inner error is part of the message (not a
    /// separate `source`), so chained printers show it once.
    #[error("{path}: {error}")]
    InFile {
        path: PathBuf,
        error: Box<ConfigError>,
    },
}

impl ConfigError {
    /// Shorthand for [`ConfigError::Invalid`].
    pub fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// Attaches the file the error was found in.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            already @ ConfigError::InFile { .. } => already,
            already @ ConfigError::Read { .. } => already,
            already @ ConfigError::Write { .. } => already,
            already @ ConfigError::UnknownFormat { .. } => already,
            other => ConfigError::InFile {
                path: path.into(),
                error: Box::new(other),
            },
        }
    }

    /// The innermost error (without the file wrapper), for matching in callers and tests.
    pub fn root(&self) -> &ConfigError {
        match self {
            ConfigError::InFile { error, .. } => error.root(),
            other => other,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// The closest candidate to `word` (Jaro-Winkler similarity of at least 0.8), for "did you mean"
/// hints.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// The hint appended to an unknown key: the nearest valid key, or the list of valid keys.
pub fn unknown_key_hint(key: &str, valid: &[&str], section: &str) -> String {
    match nearest(key, valid.iter().copied()) {
        Some(best) => format!(" in {section} (did you mean `{best}`?)"),
        None => format!(" in {section} (valid keys: {})", valid.join(", ")),
    }
}
