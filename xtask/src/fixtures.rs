//! `cargo xtask fixtures check|update`: the sha256 manifest of the checked-in fixtures,
//! `fixtures/SHA256SUMS` (the format of `sha256sum`, so `cd fixtures && sha256sum -c SHA256SUMS`
//! works too). `preflight` runs the check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::project::Project;

pub const MANIFEST: &str = "fixtures/SHA256SUMS";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Verify every listed fixture exists with its recorded sha256, and nothing is unlisted
    Check,
    /// Rewrite the manifest from the files under fixtures/ (never in CI)
    Update,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    match args.action {
        Action::Check => {
            let problems = check(&project.root)?;
            for problem in &problems {
                eprintln!("{problem}");
            }
            if !problems.is_empty() {
                bail!("{} fixture problem(s); see above", problems.len());
            }
            println!("{MANIFEST}: every fixture matches");
            Ok(())
        }
        Action::Update => {
            if crate::snapshot::in_ci() {
                bail!("`fixtures update` never rewrites the manifest in CI (CI is set)");
            }
            let files = scan(&project.root)?;
            let text: String = files
                .iter()
                .map(|(path, sum)| format!("{sum}  {path}\n"))
                .collect();
            crate::snapshot::write_atomically(&project.path(MANIFEST), &text)?;
            println!("{MANIFEST}: {} files recorded", files.len());
            Ok(())
        }
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("{:x}", Sha256::digest(bytes)))
}

/// Every fixture file (relative to fixtures/) with its sha256, sorted.
fn scan(root: &Path) -> Result<BTreeMap<String, String>> {
    let base = root.join("fixtures");
    let mut files = BTreeMap::new();
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(&base)?
                .to_string_lossy()
                .replace('\\', "/");
            // Pending snapshot proposals are not fixtures until accepted.
            if relative == "SHA256SUMS" || relative.ends_with(".new") {
                continue;
            }
            files.insert(relative, sha256_file(&path)?);
        }
    }
    Ok(files)
}

fn parse_manifest(root: &Path) -> Result<Vec<(String, String)>> {
    let path: PathBuf = root.join(MANIFEST);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let (sum, file) = line.split_once("  ").with_context(|| {
                format!(
                    "{MANIFEST} line {}: expected `<sha256>  <path>`, found `{line}`",
                    i + 1
                )
            })?;
            if sum.len() != 64 || !sum.chars().all(|c| c.is_ascii_hexdigit()) {
                bail!(
                    "{MANIFEST} line {}: `{sum}` is not a sha256 hex digest",
                    i + 1
                );
            }
            Ok((
                file.trim_start_matches('*').to_owned(),
                sum.to_ascii_lowercase(),
            ))
        })
        .collect()
}

/// Problems with the dataset manifests `fixtures/datasets/*.json`: each names its data `file`
/// (beside it) and that file's `sha256`, as written by the simulator's fixture generator.
pub fn check_dataset_manifests(root: &Path) -> Result<(usize, Vec<String>)> {
    let dir = root.join("fixtures/datasets");
    let mut checked = 0;
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok((0, problems));
    };
    let mut manifests: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    manifests.sort();
    for manifest in manifests {
        let shown = manifest
            .strip_prefix(root)
            .unwrap_or(&manifest)
            .display()
            .to_string();
        let text =
            std::fs::read_to_string(&manifest).with_context(|| format!("reading {shown}"))?;
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!(
                    "{shown} is not valid JSON ({e}); restore it with `git checkout -- {shown}`"
                ));
                continue;
            }
        };
        let (Some(file), Some(sum)) = (value["file"].as_str(), value["sha256"].as_str()) else {
            problems.push(format!(
                "{shown} must name its data `file` and that file's `sha256`"
            ));
            continue;
        };
        let data = dir.join(file);
        match sha256_file(&data) {
            Ok(found) if found == sum => checked += 1,
            Ok(found) => problems.push(format!(
                "fixtures/datasets/{file} has sha256 {found}, but {shown} records {sum}; restore it with `git checkout -- fixtures/datasets/`"
            )),
            Err(_) => problems.push(format!("{shown} names fixtures/datasets/{file}, which is missing; restore it with `git checkout -- fixtures/datasets/`")),
        }
    }
    Ok((checked, problems))
}

/// Every problem with the fixtures, each with the command that fixes it.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let recorded = parse_manifest(root)?;
    let actual = scan(root)?;
    let mut problems = Vec::new();
    for (file, sum) in &recorded {
        match actual.get(file) {
            None => problems.push(format!(
                "fixtures/{file} is listed in {MANIFEST} but missing; restore it with `git checkout -- fixtures/{file}`"
            )),
            Some(found) if found != sum => problems.push(format!(
                "fixtures/{file} has sha256 {found}, expected {sum}; restore it with `git checkout -- fixtures/{file}` or, if the change is intended, `cargo xtask fixtures update`"
            )),
            Some(_) => {}
        }
    }
    for file in actual.keys() {
        if !recorded.iter().any(|(f, _)| f == file) {
            problems.push(format!(
                "fixtures/{file} is not listed in {MANIFEST}; record it with `cargo xtask fixtures update`"
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_fixtures_match_their_manifest() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        assert_eq!(check(root).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn dataset_manifests_are_checked_against_their_data() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let (checked, problems) = check_dataset_manifests(root).unwrap();
        assert!(
            checked >= 1 && problems.is_empty(),
            "{checked} {problems:?}"
        );

        let dir = tempfile::tempdir().unwrap();
        let datasets = dir.path().join("fixtures/datasets");
        std::fs::create_dir_all(&datasets).unwrap();
        std::fs::write(datasets.join("a.npz"), "changed").unwrap();
        let recorded = format!("{:x}", Sha256::digest(b"original"));
        std::fs::write(
            datasets.join("a.json"),
            format!(r#"{{"file": "a.npz", "sha256": "{recorded}"}}"#),
        )
        .unwrap();
        std::fs::write(
            datasets.join("b.json"),
            r#"{"file": "gone.npz", "sha256": "00"}"#,
        )
        .unwrap();
        let (checked, problems) = check_dataset_manifests(dir.path()).unwrap();
        assert_eq!(checked, 0);
        assert!(
            problems[0].contains("fixtures/datasets/a.npz has sha256")
                && problems[0].contains(&recorded),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].contains("gone.npz, which is missing"),
            "{}",
            problems[1]
        );
    }

    #[test]
    fn reports_changed_missing_and_unlisted_files() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = dir.path().join("fixtures");
        std::fs::create_dir_all(fixtures.join("sub")).unwrap();
        std::fs::write(fixtures.join("a.json"), "{}").unwrap();
        std::fs::write(fixtures.join("sub/b.bin"), "b").unwrap();
        let good = format!("{:x}", Sha256::digest(b"{}"));
        let manifest = format!("{good}  a.json\n{good}  sub/b.bin\n{good}  gone.txt\n");
        std::fs::write(fixtures.join("SHA256SUMS"), manifest).unwrap();
        std::fs::write(fixtures.join("extra.txt"), "x").unwrap();
        let problems = check(dir.path()).unwrap();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].contains("fixtures/sub/b.bin has sha256"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].contains("fixtures/gone.txt is listed")
                && problems[1].contains("git checkout")
        );
        assert!(problems[2].contains("fixtures/extra.txt is not listed"));
    }
}
