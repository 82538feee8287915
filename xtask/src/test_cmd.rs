//! `cargo xtask test <category>[::<selector>] [-k FILTER] [--features ...]`: one selector of the
//! selector map, run with the environment overrides, printing the exact command it ran.
//!
//! `cargo xtask test config_bridge::mvp` is the seed's
//! `pytest tests/torch/test_config_bridge.py -k mvp -vv`.

use anyhow::{Result, bail};

use crate::project::Project;
use crate::runner::{self, Output, Selection};
use crate::selector_map::{Filter, SelectorMap, check_user_filter};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `category[::selector]`, by category or test-target name (see `cargo xtask selectors`)
    selector: String,
    /// Also require this substring of the test path (pytest's `-k`)
    #[arg(short = 'k', value_name = "FILTER")]
    filter: Option<String>,
    /// Extra cargo features (the category's own features are always on)
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// Verbose overrides (backtraces, debug logging) and test output shown as it happens
    #[arg(short, long)]
    verbose: bool,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let map = SelectorMap::load(&project.root)?;
    let selection = selection(&map, &args)?;
    let metadata = project.metadata()?;
    for target in &selection.targets {
        if metadata.target(target).is_none() {
            bail!(
                "test target `{target}` does not exist yet: declare it in the root Cargo.toml as \
                 [[test]] name = \"{target}\", path = \"tests/{target}/main.rs\""
            );
        }
    }
    let outcome = runner::run(project, &selection, Output::Terminal)?;
    eprintln!("ran: {}", outcome.command);
    if !outcome.success {
        bail!("`{}` failed", args.selector);
    }
    Ok(())
}

fn selection(map: &SelectorMap, args: &Args) -> Result<Selection> {
    let (category, selector) = map.resolve(&args.selector)?;
    let mut filters = vec![selector.map_or(Filter::All, |s| s.filter())];
    if let Some(text) = &args.filter {
        check_user_filter(text)?;
        filters.push(Filter::Contains(text.clone()));
    }
    filters.retain(|f| *f != Filter::All);
    let mut features = category.features.clone();
    features.extend(args.features.iter().cloned());
    features.dedup();
    Ok(Selection {
        targets: vec![category.target.clone()],
        // Without features, the same shared workspace build as CI and `phase` (see there).
        whole_workspace: features.is_empty(),
        features,
        filters,
        env: map.env(args.verbose),
        no_capture: args.verbose,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn args(selector: &str, k: Option<&str>) -> Args {
        Args {
            selector: selector.into(),
            filter: k.map(Into::into),
            features: vec![],
            verbose: false,
        }
    }

    #[test]
    fn selector_and_k_filter_combine() {
        let map =
            SelectorMap::load(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()).unwrap();
        let sel = selection(&map, &args("config_bridge::parity", Some("nphotons"))).unwrap();
        assert_eq!(sel.targets, ["config_bridge"]);
        assert_eq!(
            sel.filters,
            [
                Filter::Prefix("parity::".into()),
                Filter::Contains("nphotons".into())
            ]
        );
        assert!(
            sel.env
                .contains(&("MLFLOW_TRACKING_URI".into(), "memory".into()))
        );
        assert!(
            sel.env
                .contains(&("CUDA_VISIBLE_DEVICES".into(), String::new()))
        );
        let whole = selection(&map, &args("cross_backend_parity", None)).unwrap();
        assert!(whole.filters.is_empty());
        assert_eq!(whole.features, ["wgpu"]);
    }
}
