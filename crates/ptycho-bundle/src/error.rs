//! Errors of saving and loading a bundle.
//!
//! Every refusal names the archive and, inside it, the member (and tensor) concerned, with what
//! was expected and what was found, so a user can tell a truncated download from a bundle of a
//! different model or a hostile file.

use std::path::PathBuf;

/// Why a bundle could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// No archive at the given path (or no `wts.h5.zip` in the given directory).
    #[error("model archive not found: {} ({hint})", path.display())]
    NotFound { path: PathBuf, hint: String },

    /// The archive exists but cannot be read.
    #[error("cannot read model archive {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The archive (or its temporary file) cannot be written.
    #[error("cannot write model archive {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The contents handed to the writer are not a valid bundle; nothing was written.
    #[error("refusing to save the bundle: {what}: {reason}")]
    InvalidContents { what: String, reason: String },

    /// The archive was read, and is not a valid bundle.
    #[error("{}: {problem}", path.display())]
    Malformed { path: PathBuf, problem: Malformed },

    /// The caller's schema function could not describe the model of the restored config.
    #[error("cannot build the expected weight schema from the bundle's config: {reason}")]
    Schema { reason: String },
}

impl BundleError {
    /// The archive defect, when the error is one.
    pub fn malformed(&self) -> Option<&Malformed> {
        match self {
            BundleError::Malformed { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// What is wrong inside an archive.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Malformed {
    #[error("not a readable zip archive (empty, truncated or corrupt): {reason}")]
    NotZip { reason: String },

    #[error(
        "{bytes} unexpected bytes precede the zip archive (a bundle starts with its first member)"
    )]
    PrefixedData { bytes: u64 },

    #[error("two or more members share one name (a later copy would shadow an earlier one)")]
    DuplicateMembers,

    #[error("member {member:?} escapes the bundle folder ({reason})")]
    UnsafePath {
        member: String,
        reason: &'static str,
    },

    #[error(
        "member {member:?} is an upstream python pickle; pickled members are never loaded because \
         loading one can execute code (retrain or re-save the model with this program)"
    )]
    UpstreamPickle { member: String },

    #[error("missing required member {member:?}")]
    MissingMember { member: String },

    #[error("unexpected member {member:?} (expected exactly: {expected})")]
    UnexpectedMember { member: String, expected: String },

    #[error(
        "member {member:?} is {size} bytes ({which} size), over the cap of {cap} bytes \
         (a zip bomb or a wrong file; raise LoadOptions caps only for a trusted bundle)"
    )]
    TooLarge {
        member: String,
        size: u64,
        which: &'static str,
        cap: u64,
    },

    #[error("member {member:?} declares {declared} bytes but holds {actual}")]
    SizeMismatch {
        member: String,
        declared: u64,
        actual: u64,
    },

    #[error("member {member:?} cannot be read (corrupt, encrypted or unsupported): {reason}")]
    Unreadable { member: String, reason: String },

    #[error("member {member:?} is not valid JSON: {reason}")]
    Json { member: String, reason: String },

    #[error("member {member:?} holds the key `{key}` twice (which one is meant is ambiguous)")]
    DuplicateKey { member: String, key: String },

    #[error("member {member:?}, field `{field}`: expected {expected}, found {found}")]
    Field {
        member: String,
        field: String,
        expected: String,
        found: String,
    },

    #[error("member {member:?}: params lack required keys: {}", keys.join(", "))]
    MissingParams { member: String, keys: Vec<String> },

    #[error("member {member:?}: params hold unknown keys: {}", keys.join(", "))]
    UnknownParams { member: String, keys: Vec<String> },

    #[error("member {member:?}: params do not form a valid training config: {reason}")]
    InvalidConfig { member: String, reason: String },

    #[error(
        "members {first:?} and {second:?} hold different params snapshots (they must be identical)"
    )]
    ParamsDiffer { first: String, second: String },

    #[error("member {member:?} is not a valid safetensors file: {reason}")]
    Safetensors { member: String, reason: String },

    #[error("member {member:?}, tensor `{tensor}`: {reason}")]
    Tensor {
        member: String,
        tensor: String,
        reason: String,
    },

    #[error("member {member:?} does not match the model: {}", problems.join("; "))]
    WeightsMismatch {
        member: String,
        problems: Vec<String>,
    },
}

/// Errors of building tensors and tensor maps.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    #[error("tensor of dtype {dtype} and shape {shape:?} needs {expected} bytes, found {found}")]
    ByteLength {
        dtype: &'static str,
        shape: Vec<usize>,
        expected: usize,
        found: usize,
    },

    #[error("shape {shape:?} has {expected} elements, found {found} values")]
    ValueCount {
        shape: Vec<usize>,
        expected: usize,
        found: usize,
    },

    #[error("shape {shape:?} is too large to address")]
    Overflow { shape: Vec<usize> },

    #[error("tensor name {name:?} is invalid: {reason}")]
    BadName { name: String, reason: &'static str },

    #[error("tensor `{name}` is already in the map")]
    Duplicate { name: String },
}

/// Shorthand for results of this crate.
pub type Result<T, E = BundleError> = std::result::Result<T, E>;
