//! `ptycho config validate|show|bridge`: check a configuration file, print the effective
//! configuration (or the legacy params it produces), and convert an upstream PyTorch-side
//! configuration into a canonical one.
//!
//! `validate` also refuses values this implementation does not run with
//! (`ptycho_config::support`); `show` and `bridge` print such a configuration (to convert it or
//! produce its legacy params) with a warning naming the first such value.
//!
//! A file is treated as PyTorch-side when its top-level keys are upstream's section names
//! (`data_config`, `model_config`, ...); otherwise it is a canonical configuration.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use ptycho_config::torch::TorchConfigSet;
use ptycho_config::{
    ConfigDocument, ConfigError, Format, LegacyParams, Overrides, bridge_document,
};

/// Subcommands of `ptycho config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a config file (canonical or PyTorch-side) and report the first problem
    Validate {
        /// Config file (.toml, .yaml, .yml or .json)
        file: PathBuf,
        /// Also check that the data files and the model archive it names exist
        #[arg(long)]
        check_paths: bool,
        /// Override a field before checking (command line > file > defaults), e.g. --set nepochs=5
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Print the effective configuration with every default filled in
    Show {
        /// Config file (.toml, .yaml, .yml or .json)
        file: PathBuf,
        /// Override a field (command line > file > defaults); prefix with model. / training. /
        /// inference. / execution. to target one section
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Convert a PyTorch-side config into a canonical config (and its legacy params)
    Bridge {
        /// PyTorch-side config file with data_config / model_config / training_config sections
        file: PathBuf,
        /// Override a canonical field, e.g. --set train_data_file=train.npz --set n_groups=512;
        /// prefix with model. / training. / inference. / execution. to target one stage
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// How to print the result.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print the legacy params (flat upstream keys, sorted JSON) instead of the config
    #[arg(long)]
    legacy: bool,
    /// With --legacy: print only the keys present in this params JSON file (e.g. a baseline)
    #[arg(long, value_name = "JSON", requires = "legacy")]
    keys_from: Option<PathBuf>,
    /// Output format of the configuration
    #[arg(long, value_enum, default_value_t = OutputFormat::Toml)]
    format: OutputFormat,
    /// Write to this file (atomically) instead of standard output; the format follows --format
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Toml,
    Yaml,
    Json,
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Format {
        match format {
            OutputFormat::Toml => Format::Toml,
            OutputFormat::Yaml => Format::Yaml,
            OutputFormat::Json => Format::Json,
        }
    }
}

/// Runs one `ptycho config` subcommand.
pub fn run(command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Validate {
            file,
            check_paths,
            set,
        } => validate(&file, check_paths, &set),
        ConfigCommand::Show { file, set, output } => show(&file, &set, &output),
        ConfigCommand::Bridge { file, set, output } => bridge(&file, &set, &output),
    }
}

const TORCH_SECTIONS: [&str; 5] = [
    "data_config",
    "model_config",
    "training_config",
    "inference_config",
    "datagen_config",
];

/// True when the file's top-level keys are upstream's PyTorch-side section names.
fn is_torch_file(path: &Path) -> Result<bool> {
    let format = Format::from_path(path)?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let value = format.parse(&text).map_err(|e| e.in_file(path))?;
    Ok(value
        .as_object()
        .is_some_and(|map| map.keys().any(|key| TORCH_SECTIONS.contains(&key.as_str()))))
}

fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

fn parse_overrides(set: &[String]) -> Result<Overrides> {
    let mut overrides = Overrides::new();
    for assignment in set {
        overrides.insert_assignment(assignment)?;
    }
    Ok(overrides)
}

/// Loads a canonical file and lays the command-line overrides over it, with upstream's rules
/// only: the callers decide how to treat values this implementation does not run with.
fn load_document(file: &Path, set: &[String]) -> Result<ConfigDocument> {
    let overrides = parse_overrides(set)?;
    let loaded = ConfigDocument::load_upstream(file)?;
    print_warnings(&loaded.warnings);
    if overrides.is_empty() {
        return Ok(loaded.value);
    }
    let overridden = loaded
        .value
        .with_overrides_upstream(&overrides)
        .map_err(|e| e.in_file(file))?;
    print_warnings(&overridden.warnings);
    Ok(overridden.value)
}

/// `--set` on a PyTorch-side file belongs to `ptycho config bridge`.
fn refuse_torch_overrides(file: &Path, set: &[String]) -> Result<()> {
    if !set.is_empty() {
        bail!(
            "{} is a PyTorch-side config: --set applies to canonical fields, use `ptycho config bridge {} --set ...`",
            file.display(),
            file.display()
        );
    }
    Ok(())
}

fn validate(file: &Path, check_paths: bool, set: &[String]) -> Result<()> {
    if is_torch_file(file)? {
        refuse_torch_overrides(file, set)?;
        TorchConfigSet::load(file)?;
        println!("ok: {} is a valid PyTorch-side config", file.display());
        return Ok(());
    }
    let document = load_document(file, set)?;
    document.check_supported().map_err(|e| e.in_file(file))?;
    if check_paths {
        check_document_paths(file, &document)?;
    }
    let mut parts = Vec::new();
    if document.training.is_some() {
        parts.push("training");
    }
    if document.inference.is_some() {
        parts.push("inference");
    }
    if parts.is_empty() {
        parts.push("execution");
    }
    println!(
        "ok: {} is a valid canonical config ({})",
        file.display(),
        parts.join(" + ")
    );
    Ok(())
}

fn check_document_paths(file: &Path, document: &ConfigDocument) -> Result<()> {
    let mut files: Vec<(&str, &Path)> = Vec::new();
    if let Some(training) = &document.training {
        if let Some(path) = &training.train_data_file {
            files.push(("training.train_data_file", path));
        }
        if let Some(path) = &training.test_data_file {
            files.push(("training.test_data_file", path));
        }
    }
    if let Some(inference) = &document.inference {
        files.push(("inference.test_data_file", &inference.test_data_file));
        inference.model_archive().map_err(|e| e.in_file(file))?;
    }
    for (field, path) in files {
        if !path.is_file() {
            bail!(
                "{}: `{field}` = {} does not exist (fix the path or create the file)",
                file.display(),
                path.display()
            );
        }
    }
    Ok(())
}

fn show(file: &Path, set: &[String], output: &OutputArgs) -> Result<()> {
    if is_torch_file(file)? {
        refuse_torch_overrides(file, set)?;
        if output.legacy {
            bail!(
                "{} is a PyTorch-side config: its legacy params come from `ptycho config bridge {} --legacy --set ...`",
                file.display(),
                file.display()
            );
        }
        let set = TorchConfigSet::load(file)?.value;
        let text = Format::from(output.format).render(&set.to_value())?;
        return emit(&text, output);
    }
    let document = load_document(file, set)?;
    if let Err(unsupported) = document.check_supported() {
        eprintln!(
            "warning: {}: `ptycho train` refuses this config: {unsupported}",
            file.display()
        );
    }
    render_document(&document, output)
}

fn bridge(file: &Path, set: &[String], output: &OutputArgs) -> Result<()> {
    let overrides = parse_overrides(set)?;
    let torch = TorchConfigSet::load(file)?.value;
    let bridged =
        bridge_document(&torch, &overrides).map_err(|e| with_set_hint(e.in_file(file)))?;
    print_warnings(&bridged.warnings);
    if let Err(unsupported) = bridged.value.check_supported() {
        eprintln!("warning: `ptycho train` refuses this config: {unsupported}");
    }
    render_document(&bridged.value, output)
}

/// Bridge errors about missing overrides end with how to give one on this command line.
fn with_set_hint(error: ConfigError) -> anyhow::Error {
    match error.root() {
        ConfigError::Bridge { message } if message.contains("overrides") => {
            anyhow::anyhow!("{error} (on the command line: --set KEY=VALUE)")
        }
        _ => error.into(),
    }
}

fn render_document(document: &ConfigDocument, output: &OutputArgs) -> Result<()> {
    if output.legacy {
        let mut params = document.legacy_params();
        if let Some(keys_file) = &output.keys_from {
            params = restrict_to_keys_of(&params, keys_file)?;
        }
        return emit(&params.to_sorted_json(), output);
    }
    emit(&document.to_string(output.format.into())?, output)
}

fn restrict_to_keys_of(params: &LegacyParams, keys_file: &Path) -> Result<LegacyParams> {
    let text = std::fs::read_to_string(keys_file)
        .with_context(|| format!("cannot read key list {}", keys_file.display()))?;
    let reference = LegacyParams::from_json(&text).map_err(|e| e.in_file(keys_file))?;
    Ok(params.restricted_to(reference.keys()))
}

fn emit(text: &str, output: &OutputArgs) -> Result<()> {
    match &output.output {
        Some(path) => {
            ptycho_config::document::write_atomically(path, ensure_newline(text).as_bytes())
                .map_err(anyhow::Error::from)
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(ensure_newline(text).as_bytes())?;
            Ok(())
        }
    }
}

fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}
