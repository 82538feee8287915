//! The selector map (`tests/selector_map.toml`): categories, selectors, phases, the
//! backend-optional whitelist and the environment overrides, loaded and validated.
//!
//! Everything else in the harness reads this one file, so a typo in it is reported here, with
//! the name of the entry at fault, before any test runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

pub const SELECTOR_MAP: &str = "tests/selector_map.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorMap {
    pub env: EnvOverrides,
    pub whitelist: Whitelist,
    #[serde(rename = "category")]
    pub categories: Vec<Category>,
    #[serde(rename = "phase")]
    pub phases: Vec<Phase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvOverrides {
    pub required: BTreeMap<String, String>,
    pub verbose: BTreeMap<String, String>,
    /// Setting this variable to a non-empty value other than `0` turns the verbose overrides on.
    pub verbose_switch: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Whitelist {
    pub targets: Vec<String>,
    pub recorded: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub name: String,
    pub title: String,
    pub seed_module: String,
    pub seed_category: u32,
    pub phase: String,
    pub status: String,
    pub target: String,
    pub log: String,
    pub budget_s: u64,
    #[serde(default)]
    pub features: Vec<String>,
    pub selectors: Vec<Selector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    pub name: String,
    pub k: Option<String>,
    pub prefix: Option<String>,
    pub exact: Option<String>,
    pub seed: String,
    pub about: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub id: String,
    pub title: String,
    pub log_prefix: String,
    pub summary: String,
    pub handoff: Option<String>,
    pub runs: Vec<PhaseRun>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseRun {
    pub category: String,
    pub selector: Option<String>,
    pub log: Option<String>,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// Which tests of a target a selector picks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    /// pytest's `-k`: the test path contains the text.
    Contains(String),
    /// A pytest class: every test under a module.
    Prefix(String),
    /// A pytest node id: one test.
    Exact(String),
}

impl Filter {
    pub fn matches(&self, test: &str) -> bool {
        match self {
            Filter::All => true,
            Filter::Contains(text) => test.contains(text.as_str()),
            Filter::Prefix(prefix) => test.starts_with(prefix.as_str()),
            Filter::Exact(name) => test == name,
        }
    }

    /// The same filter as a nextest filterset, or `None` for "everything".
    pub fn nextest_expr(&self) -> Option<String> {
        match self {
            Filter::All => None,
            Filter::Contains(text) => Some(format!("test(~{text})")),
            Filter::Prefix(prefix) => Some(format!("test(/^{prefix}/)")),
            Filter::Exact(name) => Some(format!("test(={name})")),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Filter::All => "all tests".to_owned(),
            Filter::Contains(text) => format!("-k {text}"),
            Filter::Prefix(prefix) => format!("{prefix}*"),
            Filter::Exact(name) => name.clone(),
        }
    }
}

/// Text a user filter may contain: it is spliced into a nextest filterset.
pub fn check_user_filter(text: &str) -> Result<()> {
    if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        bail!("filter `{text}` must be non-empty and use only letters, digits, `_` and `::`");
    }
    Ok(())
}

impl Selector {
    pub fn filter(&self) -> Filter {
        match (&self.k, &self.prefix, &self.exact) {
            (Some(k), _, _) => Filter::Contains(k.clone()),
            (_, Some(p), _) => Filter::Prefix(p.clone()),
            (_, _, Some(e)) => Filter::Exact(e.clone()),
            _ => Filter::All,
        }
    }
}

impl Category {
    pub fn selector(&self, name: &str) -> Result<&Selector> {
        self.selectors
            .iter()
            .find(|s| s.name == name)
            .with_context(|| {
                let known: Vec<&str> = self.selectors.iter().map(|s| s.name.as_str()).collect();
                format!(
                    "category `{}` has no selector `{name}`; its selectors are: {}",
                    self.name,
                    known.join(", ")
                )
            })
    }
}

impl SelectorMap {
    pub fn load(root: &Path) -> Result<SelectorMap> {
        let path = root.join(SELECTOR_MAP);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the selector map {}", path.display()))?;
        SelectorMap::parse(&text)
            .with_context(|| format!("invalid selector map {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<SelectorMap> {
        let map: SelectorMap = toml::from_str(text)?;
        map.validate()?;
        Ok(map)
    }

    fn validate(&self) -> Result<()> {
        let mut names = BTreeSet::new();
        for category in &self.categories {
            if !names.insert(category.name.as_str()) {
                bail!("category `{}` is declared twice", category.name);
            }
            let mut selectors = BTreeSet::new();
            for selector in &category.selectors {
                if !selectors.insert(selector.name.as_str()) {
                    bail!(
                        "category `{}` declares selector `{}` twice",
                        category.name,
                        selector.name
                    );
                }
                let kinds = [&selector.k, &selector.prefix, &selector.exact];
                if kinds.iter().filter(|k| k.is_some()).count() > 1 {
                    bail!(
                        "selector `{}::{}` sets more than one of `k`, `prefix`, `exact`",
                        category.name,
                        selector.name
                    );
                }
            }
        }
        for target in &self.whitelist.targets {
            if !self.categories.iter().any(|c| &c.target == target) {
                bail!("whitelisted target `{target}` belongs to no category");
            }
        }
        let mut ids = BTreeSet::new();
        for phase in &self.phases {
            if !ids.insert(phase.id.as_str()) {
                bail!("phase `{}` is declared twice", phase.id);
            }
            for run in &phase.runs {
                let category = self
                    .category(&run.category)
                    .with_context(|| format!("phase `{}` runs an unknown category", phase.id))?;
                if let Some(selector) = &run.selector {
                    category.selector(selector)?;
                }
            }
        }
        Ok(())
    }

    /// A category by its name or by its test target's name.
    pub fn category(&self, name: &str) -> Result<&Category> {
        self.categories
            .iter()
            .find(|c| c.name == name || c.target == name)
            .with_context(|| {
                let known: Vec<&str> = self.categories.iter().map(|c| c.name.as_str()).collect();
                format!(
                    "unknown category `{name}`; the categories are: {}",
                    known.join(", ")
                )
            })
    }

    pub fn phase(&self, id: &str) -> Result<&Phase> {
        self.phases.iter().find(|p| p.id == id).with_context(|| {
            let known: Vec<&str> = self.phases.iter().map(|p| p.id.as_str()).collect();
            format!("unknown phase `{id}`; the phases are: {}", known.join(", "))
        })
    }

    /// Resolves `category[::selector]` as typed on the command line.
    pub fn resolve(&self, spec: &str) -> Result<(&Category, Option<&Selector>)> {
        match spec.split_once("::") {
            Some((category, selector)) => {
                let category = self.category(category)?;
                Ok((category, Some(category.selector(selector)?)))
            }
            None => Ok((self.category(spec)?, None)),
        }
    }

    /// The environment every harness-started test run gets.
    pub fn env(&self, verbose: bool) -> Vec<(String, String)> {
        let switch = std::env::var(&self.env.verbose_switch).unwrap_or_default();
        let verbose = verbose || !(switch.is_empty() || switch == "0");
        let mut env: BTreeMap<String, String> = self.env.required.clone();
        if verbose {
            env.extend(self.env.verbose.clone());
        }
        env.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked_in() -> SelectorMap {
        SelectorMap::load(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()).unwrap()
    }

    #[test]
    fn checked_in_map_is_valid_and_covers_the_seed() {
        let map = checked_in();
        let targets: Vec<&str> = map.categories.iter().map(|c| c.target.as_str()).collect();
        for target in [
            "config_bridge",
            "data_pipeline",
            "workflows_components",
            "model_manager",
            "cross_backend_parity",
            "integration_workflow",
        ] {
            assert!(targets.contains(&target), "missing target {target}");
        }
        for phase in ["d4b", "d4c", "smoke", "full"] {
            map.phase(phase).unwrap();
        }
        let (category, selector) = map.resolve("model_manager::archive_structure").unwrap();
        assert_eq!(category.name, "persistence");
        assert_eq!(
            selector.unwrap().filter(),
            Filter::Exact("save_bundle::archive_structure".into())
        );
    }

    #[test]
    fn unknown_selector_lists_the_known_ones() {
        let map = checked_in();
        let err = map.resolve("config_bridge::mvq").unwrap_err().to_string();
        assert!(err.contains("has no selector `mvq`"), "{err}");
        assert!(err.contains("mvp"), "{err}");
    }

    #[test]
    fn filters_match_like_pytest() {
        assert!(Filter::Contains("mvp".into()).matches("mvp::mvp_populates"));
        assert!(Filter::Prefix("parity::".into()).matches("parity::x"));
        assert!(!Filter::Prefix("parity::".into()).matches("x_parity::x"));
        assert!(Filter::Exact("a::b".into()).matches("a::b"));
        assert!(!Filter::Exact("a::b".into()).matches("a::bc"));
        assert_eq!(
            Filter::Prefix("a::".into()).nextest_expr().unwrap(),
            "test(/^a::/)"
        );
    }

    #[test]
    fn user_filters_cannot_break_the_filterset() {
        assert!(check_user_filter("parity_direct").is_ok());
        assert!(check_user_filter("a) | all(").is_err());
    }
}
