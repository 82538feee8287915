//! End-to-end tests of the harness: the xtask binary run against small temporary workspaces
//! and zip files, asserting exit codes, messages and the files it writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CARGO_TOML: &str = r#"[package]
name = "ptychopinn"
version = "0.1.0"
edition = "2024"
rust-version = "1.85"
publish = false
autotests = false

[features]
wgpu = []

[[test]]
name = "alpha"
path = "tests/alpha/main.rs"

[workspace]
"#;

const GATED_BETA: &str = r#"
[[test]]
name = "beta"
path = "tests/beta/main.rs"
required-features = ["wgpu"]
"#;

const ALPHA_TESTS: &str = r#"
#[test]
fn one_adds() { assert_eq!(1 + 1, 2); }

mod group {
    #[test]
    fn single() { assert!(true); }
    #[test]
    fn other_one() { assert_eq!(2 * 2, 4); }
}
"#;

const NEXTEST_TOML: &str = r#"[profile.xtask]
fail-fast = false
[profile.xtask.junit]
path = "junit.xml"
"#;

/// A throwaway workspace shaped like ours: root package `ptychopinn`, test target `alpha`,
/// the golden-test selector map, and its own target directory.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let ws = Workspace {
            dir: tempfile::tempdir().unwrap(),
        };
        ws.write("Cargo.toml", CARGO_TOML);
        ws.write("src/lib.rs", "//! fake\n");
        ws.write("tests/alpha/main.rs", ALPHA_TESTS);
        ws.write(
            "tests/selector_map.toml",
            &std::fs::read_to_string(data("selector_map.toml")).unwrap(),
        );
        ws.write(".config/nextest.toml", NEXTEST_TOML);
        ws.write("fixtures/SHA256SUMS", "");
        ws
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    fn xtask(&self, args: &[&str]) -> Run {
        xtask_in(Some(self.dir.path()), args, &[])
    }

    fn xtask_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        xtask_in(Some(self.dir.path()), args, env)
    }
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(name)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn xtask_in(root: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    if let Some(root) = root {
        cmd.arg("--root").arg(root);
    }
    // The fake workspaces build into their own target directories, never into the real one.
    cmd.args(args)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CI")
        .env_remove("XTASK_ROOT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn only_report_dir(ws: &Workspace) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(ws.path("target/reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

#[test]
fn selectors_list_the_real_map() {
    let run = xtask_in(None, &["selectors"], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    for name in [
        "config_bridge::mvp",
        "data_pipeline::memmap",
        "persistence::archive_structure",
        "phases: d4b, d4c, smoke, full",
    ] {
        assert!(run.stdout.contains(name), "{name} missing:\n{}", run.stdout);
    }
}

#[test]
fn stale_testing_doc_fails_the_check() {
    let ws = Workspace::new();
    ws.write(
        "docs/testing.md",
        "# t\n<!-- BEGIN GENERATED: `cargo xtask selectors --markdown --write`; do not edit by hand -->\nold\n<!-- END GENERATED -->\n",
    );
    let run = ws.xtask(&["selectors", "--markdown", "--check"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("docs/testing.md is stale"),
        "{}",
        run.all()
    );
    assert_eq!(ws.xtask(&["selectors", "--markdown", "--write"]).code, 0);
    let run = ws.xtask(&["selectors", "--markdown", "--check"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        ws.read("docs/testing.md")
            .contains("`cargo xtask test alpha::single`")
    );
}

#[test]
fn phase_writes_the_report_and_marks_missing_targets() {
    let ws = Workspace::new();
    let run = ws.xtask(&["phase", "p1"]);
    // beta is missing but optional in this phase; alpha and alpha::one pass.
    assert_eq!(run.code, 0, "{}", run.all());
    let dir = only_report_dir(&ws);
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.len() == 16 && name.ends_with('Z') && name.as_bytes()[8] == b'T',
        "{name}"
    );
    for file in [
        "phase_one_alpha.log",
        "phase_one_beta.log",
        "phase_one_alpha_one.log",
        "junit.xml",
        "summary.json",
        "summary.md",
        "phase_one_summary.md",
        "phase_one_handoff.md",
    ] {
        assert!(
            dir.join(file).is_file(),
            "{file} missing in {}",
            dir.display()
        );
    }
    assert!(
        run.stdout.contains(&format!("report: {}", dir.display())),
        "{}",
        run.stdout
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs[0]["status"], "passed");
    assert_eq!(runs[0]["passed"], 3);
    assert_eq!(runs[1]["status"], "missing");
    assert_eq!(
        runs[2]["passed"], 2,
        "-k one selects one_adds and group::other_one"
    );
    let beta_log = std::fs::read_to_string(dir.join("phase_one_beta.log")).unwrap();
    assert!(beta_log.contains("test target `beta`"), "{beta_log}");
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("| beta (optional) | all | MISSING |"), "{md}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"<testcase name="group::single" classname="alpha""#),
        "{junit}"
    );
}

#[test]
fn phase_without_nextest_falls_back_to_cargo_test() {
    let ws = Workspace::new();
    let run = ws.xtask_env(&["phase", "p1"], &[("XTASK_NO_NEXTEST", "1")]);
    assert_eq!(run.code, 0, "{}", run.all());
    let dir = only_report_dir(&ws);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"][0]["passed"], 3);
    assert_eq!(summary["runs"][2]["passed"], 2);
    let log = std::fs::read_to_string(dir.join("phase_one_alpha_one.log")).unwrap();
    assert!(
        log.contains("-- --exact group::other_one one_adds"),
        "{log}"
    );
}

#[test]
fn phase_fails_on_a_failing_test_and_names_it() {
    let ws = Workspace::new();
    ws.write(
        "tests/alpha/main.rs",
        &format!(
            "{ALPHA_TESTS}\n#[test]\nfn broken() {{ assert_eq!(1, 2, \"deliberately broken\"); }}\n"
        ),
    );
    let run = ws.xtask(&["phase", "p1"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("required run(s) not green: alpha"),
        "{}",
        run.stderr
    );
    let dir = only_report_dir(&ws);
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("**RED**"), "{md}");
    assert!(md.contains("failed: `broken`"), "{md}");
    let log = std::fs::read_to_string(dir.join("phase_one_alpha.log")).unwrap();
    assert!(log.contains("deliberately broken"), "{log}");
}

#[test]
fn test_command_prints_the_command_and_reports_missing_targets() {
    let ws = Workspace::new();
    let run = ws.xtask(&["test", "alpha::single"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("CUDA_VISIBLE_DEVICES='' "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("test(=group::single)") || run.stderr.contains("--exact group::single"),
        "{}",
        run.stderr
    );
    let run = ws.xtask(&["test", "beta"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("test target `beta` does not exist yet"),
        "{}",
        run.all()
    );
    let run = ws.xtask(&["test", "alpha::nope"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("has no selector `nope`"),
        "{}",
        run.all()
    );
}

#[test]
fn whitelist_detects_ungated_targets_and_gated_away_tests() {
    let ws = Workspace::new();
    // Nothing recorded yet: every listed test is unrecorded.
    let run = ws.xtask(&["whitelist", "check", "--list-only"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("3 whitelisted test(s) not recorded"),
        "{}",
        run.all()
    );
    assert_eq!(ws.xtask(&["whitelist", "update"]).code, 0);
    assert!(
        ws.read("tests/whitelist.txt")
            .contains("alpha group::single\n")
    );
    let run = ws.xtask(&["whitelist", "check"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("whitelist: 1 target(s) run (3 tests listed), 0 gated, 0 missing"),
        "{}",
        run.stdout
    );

    // A recorded test moved behind the optional backend feature.
    ws.write(
        "tests/alpha/main.rs",
        &ALPHA_TESTS.replace(
            "    #[test]\n    fn single()",
            "    #[cfg(feature = \"wgpu\")]\n    #[test]\n    fn single()",
        ),
    );
    let run = ws.xtask(&["whitelist", "check", "--list-only"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "recorded test `alpha::group::single` is not built without optional features"
        ),
        "{}",
        run.all()
    );

    // A target outside the whitelist must be gated; with `required-features` it counts as gated.
    ws.write("tests/alpha/main.rs", ALPHA_TESTS);
    ws.write("tests/beta/main.rs", "#[test]\nfn b() {}\n");
    ws.write(
        "Cargo.toml",
        &format!("{CARGO_TOML}\n[[test]]\nname = \"beta\"\npath = \"tests/beta/main.rs\"\n"),
    );
    let run = ws.xtask(&["whitelist", "check", "--list-only"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("test target `beta` is outside the whitelist but not feature-gated"),
        "{}",
        run.all()
    );
    ws.write("Cargo.toml", &format!("{CARGO_TOML}{GATED_BETA}"));
    let run = ws.xtask(&["whitelist", "check", "--list-only"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("1 gated"), "{}", run.stdout);

    // Default features would put an optional backend into every "backend-optional" build.
    ws.write(
        "Cargo.toml",
        &CARGO_TOML.replace("wgpu = []", "default = [\"wgpu\"]\nwgpu = []"),
    );
    let run = ws.xtask(&["whitelist", "check", "--list-only"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("the root package enables default features [\"wgpu\"]"),
        "{}",
        run.all()
    );

    // A whitelisted target with recorded tests disappears.
    ws.write(
        "Cargo.toml",
        &CARGO_TOML.replace(
            "[[test]]\nname = \"alpha\"\npath = \"tests/alpha/main.rs\"\n",
            "",
        ),
    );
    let run = ws.xtask(&["whitelist", "check", "--list-only"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("whitelisted test target `alpha` disappeared"),
        "{}",
        run.all()
    );
}

fn write_snapshot_registry(ws: &Workspace, generated: &str) {
    ws.write("generated.json", generated);
    ws.write(
        "fixtures/snapshots.toml",
        r#"[[snapshot]]
name = "params.json"
baseline = "fixtures/params.json"
format = "json"
command = ["cat", "generated.json"]
redact = ["created"]
"#,
    );
}

#[test]
fn snapshot_diff_update_accept_cycle() {
    let ws = Workspace::new();
    ws.write(
        "fixtures/params.json",
        "{\n  \"N\": 64,\n  \"created\": \"yesterday\",\n  \"nphotons\": 1000000000.0\n}",
    );
    // Same content in another key order, another timestamp and a float within tolerance.
    write_snapshot_registry(
        &ws,
        r#"{"nphotons": 1000000000.0000001, "created": "today", "N": 64}"#,
    );
    let run = ws.xtask(&["snapshot", "diff"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("ok       params.json"),
        "{}",
        run.stdout
    );

    write_snapshot_registry(
        &ws,
        r#"{"nphotons": 1000000000.0, "created": "today", "N": 128}"#,
    );
    let run = ws.xtask(&["snapshot", "diff"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("-  \"N\": 64,\n+  \"N\": 128,"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("to accept: cargo xtask snapshot update params.json && cargo xtask snapshot accept params.json"));
    assert!(
        run.stderr
            .contains("1 snapshot(s) differ from their baselines: params.json")
    );

    let run = ws.xtask_env(&["snapshot", "update"], &[("CI", "true")]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("never writes baselines in CI"),
        "{}",
        run.all()
    );
    assert!(!ws.path("fixtures/params.json.new").exists());

    assert_eq!(ws.xtask(&["snapshot", "update"]).code, 0);
    assert!(ws.read("fixtures/params.json.new").contains("\"N\": 128"));
    assert!(
        ws.read("fixtures/params.json").contains("\"N\": 64"),
        "update never touches the baseline"
    );
    let run = ws.xtask_env(&["snapshot", "accept"], &[("CI", "1")]);
    assert_eq!(run.code, 1);
    assert_eq!(ws.xtask(&["snapshot", "accept", "params.json"]).code, 0);
    assert!(!ws.path("fixtures/params.json.new").exists());
    let run = ws.xtask(&["snapshot", "diff"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let run = ws.xtask(&["snapshot", "diff", "nope.json"]);
    assert!(
        run.stderr.contains("no snapshot `nope.json`"),
        "{}",
        run.all()
    );
}

#[test]
fn archive_tree_lists_sorted_entries_and_refuses_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wts.h5.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for name in [
        "manifest.json",
        "autoencoder/model.safetensors",
        "diffraction_to_obj/params.json",
    ] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(name.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    let run = xtask_in(None, &["archive", "tree", path.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("wts.h5.zip  ") && lines[0].contains("sha256 "),
        "{}",
        run.stdout
    );
    assert!(lines[3].starts_with("autoencoder/model.safetensors "));
    assert!(lines[4].starts_with("diffraction_to_obj/params.json "));
    assert!(lines[5].starts_with("manifest.json "));
    let json = xtask_in(
        None,
        &["archive", "tree", path.to_str().unwrap(), "--json"],
        &[],
    );
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["entries"].as_array().unwrap().len(), 3);

    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let run = xtask_in(None, &["archive", "tree", cut.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cut.zip is not a readable zip archive"),
        "{}",
        run.all()
    );
    let run = xtask_in(
        None,
        &[
            "archive",
            "tree",
            dir.path().join("absent.zip").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("absent.zip"), "{}", run.all());
}

#[test]
fn preflight_prints_the_table_and_fails_on_a_changed_fixture() {
    let ws = Workspace::new();
    ws.write("fixtures/data.json", "{}");
    ws.write(
        "fixtures/SHA256SUMS",
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a  data.json\n",
    );
    let run = ws.xtask(&["preflight"]);
    assert_eq!(run.code, 0, "{}", run.all());
    for check in [
        "toolchain",
        "rustfmt",
        "clippy",
        "cargo-nextest",
        "selector map",
        "fixtures",
        "datasets",
        "report folder",
        "free disk",
        "GPU runtime",
        "Vulkan adapter",
    ] {
        assert!(
            run.stdout.contains(check),
            "{check} missing:\n{}",
            run.stdout
        );
    }
    ws.write("fixtures/data.json", "{\"changed\": true}");
    let run = ws.xtask(&["preflight"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("fixtures") && run.stdout.contains("FAIL"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("git checkout -- fixtures/"),
        "{}",
        run.stderr
    );
}
