//! `cargo xtask preflight`: probes every requirement of the build and the test harness and
//! prints one table.
//!
//! Hard failures (a toolchain older than `rust-version`, a missing rustfmt or clippy, changed or
//! missing fixtures, an invalid selector map, an unwritable report folder, a nearly full disk)
//! make it exit non-zero, each with the exact command that fixes it. Optional pieces (nextest, a
//! GPU runtime, a Vulkan adapter) are reported as present or absent and never fail it.

use anyhow::{Result, bail};
use xshell::cmd;

use crate::project::Project;

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Fail,
    Present,
    Absent,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Present => "present",
            Status::Absent => "absent",
        }
    }
}

#[derive(Debug)]
struct Row {
    check: &'static str,
    status: Status,
    detail: String,
    fix: String,
}

fn row(
    check: &'static str,
    status: Status,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Row {
    Row {
        check,
        status,
        detail: detail.into(),
        fix: fix.into(),
    }
}

pub fn run(project: &Project, _args: Args) -> Result<()> {
    let rows = vec![
        toolchain(project),
        component(project, "rustfmt", "fmt"),
        component(project, "clippy", "clippy"),
        nextest(project),
        selector_map(project),
        fixtures(project),
        datasets(project),
        reports_writable(project),
        disk(project),
        gpu(project),
        vulkan(project),
    ];
    print!("{}", render(&rows));
    let failed: Vec<&Row> = rows.iter().filter(|r| r.status == Status::Fail).collect();
    if !failed.is_empty() {
        eprintln!("\nto fix:");
        for r in &failed {
            eprintln!("  {}: {}", r.check, r.fix);
        }
        bail!("{} preflight check(s) failed", failed.len());
    }
    println!("\npreflight passed ({} checks)", rows.len());
    Ok(())
}

fn render(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.check.len()).max().unwrap_or(0);
    let mut out = format!("{:<width$}  {:<8}  detail\n", "check", "status");
    for r in rows {
        out += &format!(
            "{:<width$}  {:<8}  {}\n",
            r.check,
            r.status.label(),
            r.detail
        );
    }
    out
}

/// `rust-version` from the root manifest.
fn required_rust(project: &Project) -> Result<String> {
    let text = std::fs::read_to_string(project.path("Cargo.toml"))?;
    let manifest: toml::Table = toml::from_str(&text)?;
    let version = manifest
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("rust-version"))
        .or_else(|| manifest.get("package").and_then(|p| p.get("rust-version")))
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow::format_err!("Cargo.toml sets no rust-version"))?;
    Ok(version.to_owned())
}

fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.trim().split(['.', '-']).map(|p| p.parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().and_then(Result::ok).unwrap_or(0);
    let patch = parts.next().and_then(Result::ok).unwrap_or(0);
    Some((major, minor, patch))
}

fn toolchain(project: &Project) -> Row {
    let required = match required_rust(project) {
        Ok(v) => v,
        Err(e) => {
            return row(
                "toolchain",
                Status::Fail,
                format!("{e:#}"),
                "add rust-version to [workspace.package]",
            );
        }
    };
    let found = cmd!(project.sh, "rustc --version").quiet().read();
    match found {
        Err(_) => row(
            "toolchain",
            Status::Fail,
            "rustc not found",
            "install a Rust toolchain with rustup, then `rustup default stable`",
        ),
        Ok(line) => {
            let have = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            match (parse_version(&have), parse_version(&required)) {
                (Some(h), Some(r)) if h >= r => row(
                    "toolchain",
                    Status::Ok,
                    format!("{line} (rust-version {required})"),
                    "",
                ),
                _ => row(
                    "toolchain",
                    Status::Fail,
                    format!("rustc {have} is older than rust-version {required}"),
                    format!("rustup toolchain install {required} && rustup default {required}"),
                ),
            }
        }
    }
}

fn component(project: &Project, name: &'static str, subcommand: &str) -> Row {
    let cargo = &project.cargo;
    match cmd!(project.sh, "{cargo} {subcommand} --version")
        .quiet()
        .ignore_stderr()
        .read()
    {
        Ok(v) => row(name, Status::Ok, v.trim().to_owned(), ""),
        Err(_) => row(
            name,
            Status::Fail,
            format!("`cargo {subcommand}` is not installed"),
            format!("rustup component add {name}"),
        ),
    }
}

fn nextest(project: &Project) -> Row {
    let cargo = &project.cargo;
    match cmd!(project.sh, "{cargo} nextest --version")
        .quiet()
        .ignore_stderr()
        .read()
    {
        Ok(v) => row(
            "cargo-nextest",
            Status::Present,
            v.lines().next().unwrap_or_default().to_owned(),
            "",
        ),
        Err(_) => row(
            "cargo-nextest",
            Status::Absent,
            "optional: falling back to `cargo test` (install: cargo install cargo-nextest --locked)",
            "",
        ),
    }
}

fn selector_map(project: &Project) -> Row {
    match crate::selector_map::SelectorMap::load(&project.root) {
        Ok(map) => {
            let selectors: usize = map.categories.iter().map(|c| c.selectors.len()).sum();
            row(
                "selector map",
                Status::Ok,
                format!(
                    "{} categories, {selectors} selectors, {} phases",
                    map.categories.len(),
                    map.phases.len()
                ),
                "",
            )
        }
        Err(e) => row(
            "selector map",
            Status::Fail,
            format!("{e:#}"),
            "correct tests/selector_map.toml as the error says",
        ),
    }
}

fn fixtures(project: &Project) -> Row {
    match crate::fixtures::check(&project.root) {
        Ok(problems) if problems.is_empty() => row(
            "fixtures",
            Status::Ok,
            format!("every file matches {}", crate::fixtures::MANIFEST),
            "",
        ),
        Ok(problems) => row(
            "fixtures",
            Status::Fail,
            format!("{} problem(s): {}", problems.len(), problems[0]),
            "git checkout -- fixtures/ (or, for an intended change, cargo xtask fixtures update)",
        ),
        Err(e) => row(
            "fixtures",
            Status::Fail,
            format!("{e:#}"),
            "git checkout -- fixtures/SHA256SUMS",
        ),
    }
}

fn datasets(project: &Project) -> Row {
    match crate::fixtures::check_dataset_manifests(&project.root) {
        Ok((checked, problems)) if problems.is_empty() => row(
            "datasets",
            Status::Ok,
            format!("{checked} dataset manifest(s) match their data"),
            "",
        ),
        Ok((_, problems)) => row(
            "datasets",
            Status::Fail,
            format!("{} problem(s): {}", problems.len(), problems[0]),
            "git checkout -- fixtures/datasets/",
        ),
        Err(e) => row(
            "datasets",
            Status::Fail,
            format!("{e:#}"),
            "git checkout -- fixtures/datasets/",
        ),
    }
}

fn reports_writable(project: &Project) -> Row {
    let dir = project.path("target/reports");
    let probe = std::fs::create_dir_all(&dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(&dir).map(drop));
    match probe {
        Ok(()) => row(
            "report folder",
            Status::Ok,
            format!("{} is writable", dir.display()),
            "",
        ),
        Err(e) => row(
            "report folder",
            Status::Fail,
            format!("cannot write {}: {e}", dir.display()),
            format!("mkdir -p {0} && chmod u+w {0}", dir.display()),
        ),
    }
}

/// Free space where the build goes; a cold build with burn needs several GiB.
fn disk(project: &Project) -> Row {
    const NEED_GIB: f64 = 4.0;
    let root = project.root.display().to_string();
    let free_kib = cmd!(project.sh, "df -Pk {root}")
        .quiet()
        .read()
        .ok()
        .and_then(|out| {
            out.lines()
                .nth(1)
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
        });
    match free_kib {
        Some(kib) => {
            let gib = kib / (1024.0 * 1024.0);
            if gib >= NEED_GIB {
                row("free disk", Status::Ok, format!("{gib:.1} GiB free"), "")
            } else {
                row(
                    "free disk",
                    Status::Fail,
                    format!("{gib:.1} GiB free, need {NEED_GIB} GiB"),
                    "cargo clean",
                )
            }
        }
        None => row(
            "free disk",
            Status::Absent,
            "could not run `df` to measure free space",
            "",
        ),
    }
}

fn gpu(project: &Project) -> Row {
    match cmd!(
        project.sh,
        "nvidia-smi --query-gpu=name --format=csv,noheader"
    )
    .quiet()
    .ignore_stderr()
    .read()
    {
        Ok(names) if !names.trim().is_empty() => row(
            "GPU runtime",
            Status::Present,
            format!(
                "optional backend: {}",
                names.lines().next().unwrap_or_default()
            ),
            "",
        ),
        _ => row(
            "GPU runtime",
            Status::Absent,
            "optional: no NVIDIA GPU runtime; tests run on the CPU backend",
            "",
        ),
    }
}

/// The Vulkan adapter of the optional wgpu backend: the loader (`libvulkan.so.1`) and the
/// driver manifests (ICDs) it would load, named by driver. `vulkaninfo`, when installed, names
/// the devices themselves.
fn vulkan(project: &Project) -> Row {
    let icds = vulkan_icds();
    let loader = vulkan_loader_present(project);
    let fix = "optional: .ci/setup-vulkan (installs mesa-vulkan-drivers, software Vulkan)";
    if icds.is_empty() || !loader {
        let missing = match (icds.is_empty(), loader) {
            (true, false) => "no Vulkan loader and no driver (ICD)",
            (true, true) => "no Vulkan driver (ICD json)",
            _ => "no Vulkan loader (libvulkan.so.1)",
        };
        return row(
            "Vulkan adapter",
            Status::Absent,
            format!("{missing}; the wgpu tests (cross_backend_parity) cannot run; {fix}"),
            "",
        );
    }
    let devices = cmd!(project.sh, "vulkaninfo --summary")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .map(|info| {
            info.lines()
                .filter(|l| l.trim_start().starts_with("deviceName"))
                .filter_map(|l| l.split('=').nth(1))
                .map(|d| d.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|d| !d.is_empty());
    let drivers: Vec<String> = icds.iter().map(|p| describe_icd(p)).collect();
    let detail = match devices {
        Some(devices) => format!("optional wgpu backend: {}", devices.join(", ")),
        None => format!("optional wgpu backend: drivers {}", drivers.join(", ")),
    };
    row("Vulkan adapter", Status::Present, detail, "")
}

/// Driver manifests the Vulkan loader would read: `VK_DRIVER_FILES` / `VK_ICD_FILENAMES` when
/// set, else the standard search folders.
fn vulkan_icds() -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let listed = std::env::var("VK_DRIVER_FILES").or_else(|_| std::env::var("VK_ICD_FILENAMES"));
    if let Ok(list) = listed {
        return std::env::split_paths(&list)
            .filter(|p| p.is_file())
            .collect();
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".local/share/vulkan/icd.d"));
    }
    dirs.extend(
        [
            "/etc/vulkan/icd.d",
            "/usr/local/share/vulkan/icd.d",
            "/usr/share/vulkan/icd.d",
        ]
        .map(PathBuf::from),
    );
    let mut found: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    found.sort();
    found
}

/// A driver manifest's name, with lavapipe (Mesa's software Vulkan, which works on any CPU)
/// called out: the other ICDs need their hardware.
fn describe_icd(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("lvp_icd") {
        format!("{name} (lavapipe, software)")
    } else {
        name
    }
}

fn vulkan_loader_present(project: &Project) -> bool {
    let cached = cmd!(project.sh, "ldconfig -p")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|out| out.contains("libvulkan.so.1"));
    cached
        || [
            "/usr/lib/x86_64-linux-gnu/libvulkan.so.1",
            "/usr/lib/aarch64-linux-gnu/libvulkan.so.1",
            "/usr/lib64/libvulkan.so.1",
            "/usr/lib/libvulkan.so.1",
        ]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("1.95.0").unwrap() >= parse_version("1.95").unwrap());
        assert!(parse_version("1.100.0").unwrap() > parse_version("1.95").unwrap());
        assert!(parse_version("1.94.1").unwrap() < parse_version("1.95").unwrap());
        assert_eq!(parse_version("1.96.0-nightly"), Some((1, 96, 0)));
    }

    #[test]
    fn table_has_one_line_per_check() {
        let rows = vec![
            row("toolchain", Status::Ok, "rustc 1.95.0", ""),
            row("GPU runtime", Status::Absent, "none", ""),
        ];
        let table = render(&rows);
        assert_eq!(table.lines().count(), 3);
        assert!(table.contains("GPU runtime  absent    none"), "{table}");
    }

    #[test]
    fn lavapipe_is_named_as_software_vulkan() {
        let lvp = std::path::Path::new("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json");
        assert_eq!(
            describe_icd(lvp),
            "lvp_icd.x86_64.json (lavapipe, software)"
        );
        let intel = std::path::Path::new("/etc/vulkan/icd.d/intel_icd.x86_64.json");
        assert_eq!(describe_icd(intel), "intel_icd.x86_64.json");
    }
}
