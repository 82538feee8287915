//! `tracking` against the real MLflow: a run logged through [`Tracker`] to an `mlflow server`
//! on a loopback port is read back through its REST API, and a file store we write is read
//! back by MLflow's Python client.
//!
//! MLflow comes from `scripts/mlflow-venv.sh` (a pinned version in `target/mlflow-venv`,
//! installed from PyPI on first use, about 35 s). Where it cannot be installed (no python3,
//! no venv module, no package index) the tests print `skipped: <reason>` and pass; that is
//! their only skip.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ptycho_workflows::tracking::{RunStatus, Tracker, TrackingTarget, TrackingWarnings};
use serde_json::Value;

const EXPERIMENT: &str = "ptychopinn-test";

/// How long a cold `mlflow server` may take to answer `/health` (it imports a lot of Python).
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(180);

/// The venv's `bin/` directory, installed once per test process by the project's script;
/// `Err` says why it could not be installed.
fn mlflow_bin() -> Result<&'static Path, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let script = root.join("scripts/mlflow-venv.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{} could not install mlflow ({})",
                script.display(),
                output.status
            ));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mlflow = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        match mlflow.parent() {
            Some(bin) if mlflow.is_file() => Ok(bin.to_owned()),
            _ => Err(format!(
                "{} printed no mlflow executable: {stdout:?}",
                script.display()
            )),
        }
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

/// A running `mlflow server` with a sqlite store and proxied artifacts in a temporary
/// directory; stopped (its whole process group) on drop.
#[derive(Debug)]
pub struct MlflowServer {
    pub url: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl MlflowServer {
    /// Starts a server on a free loopback port and waits for `/health`. `Err` only when MLflow
    /// cannot be installed; a server that does not come up fails the test.
    pub fn start() -> Result<Self, String> {
        let bin = mlflow_bin()?;
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut command = Command::new(bin.join("mlflow"));
        command
            .args([
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--workers",
                "1",
            ])
            .arg("--backend-store-uri")
            .arg(format!(
                "sqlite:///{}",
                dir.path().join("mlflow.db").display()
            ))
            .arg("--artifacts-destination")
            .arg(dir.path().join("artifacts"))
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // Its own process group: `mlflow server` runs uvicorn and a job runner as children,
        // which must go down with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("spawning mlflow server");
        let mut server = Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        let started = Instant::now();
        loop {
            if get(&format!("{}/health", server.url)).is_ok_and(|(status, _)| status == 200) {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("mlflow server exited with {status}:\n{}", server.log());
            }
            assert!(
                started.elapsed() < SERVER_START_TIMEOUT,
                "mlflow server did not answer /health within {SERVER_START_TIMEOUT:?}:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Reads `/api/2.0/<endpoint>` and parses the JSON answer, failing the test otherwise.
    pub fn api(&self, endpoint: &str) -> Value {
        let url = format!("{}/api/2.0/{endpoint}", self.url);
        let (status, body) = get(&url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert_eq!(status, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server for a test, or `None` after printing why MLflow is unavailable.
pub fn server_or_skip() -> Option<MlflowServer> {
    match MlflowServer::start() {
        Ok(server) => Some(server),
        Err(reason) => {
            println!("skipped: {reason}");
            None
        }
    }
}

fn get(url: &str) -> Result<(u16, Vec<u8>), ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent.get(url).call()?;
    let mut body = Vec::new();
    response.body_mut().as_reader().read_to_end(&mut body)?;
    Ok((response.status().as_u16(), body))
}

/// Logs what a two-epoch training logs: params, two epochs of metrics, the bundle.
fn log_two_epochs(tracker: &mut Tracker, bundle: &Path) {
    tracker.log_params(&[
        ("nepochs".into(), "2".into()),
        ("model.N".into(), "64".into()),
    ]);
    tracker.log_metrics(0, &[("loss", 0.5), ("val_loss", 0.75)]);
    tracker.log_metrics(1, &[("loss", 0.25), ("val_loss", 0.5)]);
    tracker.log_artifact(bundle, Some("bundle"));
    tracker.finish(RunStatus::Finished);
}

fn history(answer: &Value) -> Vec<(i64, f64)> {
    answer["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| (m["step"].as_i64().unwrap(), m["value"].as_f64().unwrap()))
        .collect()
}

#[test]
fn a_run_reaches_a_real_server_and_a_dead_one_costs_nothing() {
    let Some(mut server) = server_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("wts.h5.zip");
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&bundle, &bytes).unwrap();

    let target = TrackingTarget::Rest {
        base_url: server.url.clone(),
    };
    let mut tracker = Tracker::start(
        target.clone(),
        EXPERIMENT,
        "two-epochs",
        &[("device", "cpu")],
    );
    log_two_epochs(&mut tracker, &bundle);
    assert_eq!(
        tracker.warnings(),
        &TrackingWarnings::default(),
        "{}",
        server.log()
    );
    let run_id = tracker.run_id().expect("a run id").to_owned();

    let run = server.api(&format!("mlflow/runs/get?run_id={run_id}"));
    let info = &run["run"]["info"];
    assert_eq!(info["status"], "FINISHED");
    assert_eq!(info["run_name"], "two-epochs");
    assert!(info["end_time"].as_i64().unwrap() >= info["start_time"].as_i64().unwrap());
    let pairs = |field: &str| -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = run["run"]["data"][field]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["key"].as_str().unwrap().to_owned(),
                    p["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        pairs.sort();
        pairs
    };
    assert_eq!(
        pairs("params"),
        [
            ("model.N".to_owned(), "64".to_owned()),
            ("nepochs".to_owned(), "2".to_owned())
        ]
    );
    assert!(pairs("tags").contains(&("device".to_owned(), "cpu".to_owned())));
    let experiment = server.api(&format!(
        "mlflow/experiments/get-by-name?experiment_name={EXPERIMENT}"
    ));
    assert_eq!(
        experiment["experiment"]["experiment_id"],
        info["experiment_id"]
    );

    for (key, expected) in [
        ("loss", [(0, 0.5), (1, 0.25)]),
        ("val_loss", [(0, 0.75), (1, 0.5)]),
    ] {
        let answer = server.api(&format!(
            "mlflow/metrics/get-history?run_id={run_id}&metric_key={key}"
        ));
        assert_eq!(history(&answer), expected, "{key}");
    }

    let root = info["artifact_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("mlflow-artifacts:/");
    let listing = server.api(&format!("mlflow-artifacts/artifacts?path={root}/bundle"));
    assert_eq!(listing["files"][0]["path"], "wts.h5.zip");
    assert_eq!(listing["files"][0]["file_size"], bytes.len());
    let (status, downloaded) = get(&format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/{root}/bundle/wts.h5.zip",
        server.url
    ))
    .unwrap();
    assert_eq!((status, downloaded.len()), (200, bytes.len()));
    assert!(
        downloaded == bytes,
        "the downloaded bundle differs from the uploaded one"
    );

    // The server goes down during a second run: one warning, no waiting, training goes on.
    let mut second = Tracker::start(target, EXPERIMENT, "server-dies", &[]);
    assert!(second.run_id().is_some());
    server.stop();
    let stopped = Instant::now();
    log_two_epochs(&mut second, &bundle);
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "took {:?}",
        stopped.elapsed()
    );
    let warnings = second.warnings();
    assert_eq!(warnings.failures, 5, "params, 2 epochs, artifact, finish");
    assert!(
        warnings
            .first
            .as_deref()
            .unwrap()
            .contains("cannot reach the mlflow server")
    );
}

#[test]
fn mlflow_reads_our_file_store() {
    let bin = match mlflow_bin() {
        Ok(bin) => bin,
        Err(reason) => {
            println!("skipped: {reason}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ml runs");
    let bundle = dir.path().join("wts.h5.zip");
    std::fs::write(&bundle, b"bundle bytes").unwrap();
    let mut tracker = Tracker::start(
        TrackingTarget::FileStore { root: root.clone() },
        EXPERIMENT,
        "two-epochs",
        &[("device", "cpu")],
    );
    log_two_epochs(&mut tracker, &bundle);
    assert_eq!(tracker.warnings(), &TrackingWarnings::default());

    // MLflow 3.7+ keeps its file store in maintenance mode behind MLFLOW_ALLOW_FILE_STORE.
    let script = r#"
import json, sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
runs = mlflow.search_runs(experiment_names=[sys.argv[2]], output_format="list")
client = mlflow.MlflowClient()
run = runs[0]
print(json.dumps({
    "runs": len(runs),
    "run_id": run.info.run_id,
    "status": run.info.status,
    "run_name": run.info.run_name,
    "params": run.data.params,
    "tags": run.data.tags,
    "loss": [[m.step, m.value] for m in client.get_metric_history(run.info.run_id, "loss")],
    "val_loss": run.data.metrics["val_loss"],
    "artifacts": [[f.path, f.file_size] for f in client.list_artifacts(run.info.run_id, "bundle")],
    "default": client.get_experiment("0").name,
}))
"#;
    let output = Command::new(bin.join("python"))
        .args(["-c", script])
        .arg(format!("file://{}", root.display()))
        .arg(EXPERIMENT)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "mlflow could not read {}:\n{}",
        root.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let read: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(read["runs"], 1);
    assert_eq!(read["run_id"], tracker.run_id().unwrap());
    assert_eq!(read["status"], "FINISHED");
    assert_eq!(read["run_name"], "two-epochs");
    assert_eq!(
        read["params"],
        serde_json::json!({"nepochs": "2", "model.N": "64"})
    );
    assert_eq!(read["tags"]["device"], "cpu");
    assert_eq!(read["tags"]["mlflow.runName"], "two-epochs");
    assert_eq!(read["loss"], serde_json::json!([[0, 0.5], [1, 0.25]]));
    assert_eq!(read["val_loss"], 0.5);
    assert_eq!(
        read["artifacts"],
        serde_json::json!([["bundle/wts.h5.zip", 12]])
    );
    assert_eq!(read["default"], "Default");
}

#[test]
fn training_two_epochs_logs_params_metrics_and_the_bundle_to_a_real_server() {
    use ptycho_config::{
        ExecutionConfig, LegacyParams, LoggerBackend, ModelConfig, TrainingConfig,
    };
    use ptycho_workflows::{ConfigInput, DataInput, RunOptions, run_cdi_example};

    let Some(server) = server_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/datasets/sim_lines_n64.npz");
    let training = TrainingConfig {
        model: ModelConfig {
            N: 64,
            n_filters_scale: 1,
            ..ModelConfig::default()
        },
        nepochs: 2,
        n_groups: 16,
        batch_size: 8,
        ..TrainingConfig::default()
    };
    let execution = ExecutionConfig {
        logger_backend: LoggerBackend::Mlflow,
        ..ExecutionConfig::default()
    };
    let options = RunOptions::new(dir.path().join("run"))
        .with_stitch(false)
        .with_tracking(TrackingTarget::Rest {
            base_url: server.url.clone(),
        });
    let outcome = run_cdi_example(
        DataInput::Npz(data),
        None,
        ConfigInput::WithExecution(training, execution),
        &mut LegacyParams::with_defaults(),
        &options,
    )
    .unwrap();
    let tracked = outcome.tracking.expect("an mlflow run");
    assert_eq!(
        tracked.warnings,
        TrackingWarnings::default(),
        "{}",
        server.log()
    );
    let run_id = tracked.run_id.expect("a run id");

    let run = server.api(&format!("mlflow/runs/get?run_id={run_id}"));
    let info = &run["run"]["info"];
    assert_eq!(info["status"], "FINISHED");
    let params = run["run"]["data"]["params"].as_array().unwrap();
    let param = |key: &str| {
        params
            .iter()
            .find(|p| p["key"] == key)
            .and_then(|p| p["value"].as_str())
            .map(str::to_owned)
    };
    assert_eq!(param("training.nepochs").as_deref(), Some("2"));
    assert_eq!(param("training.model.N").as_deref(), Some("64"));
    assert_eq!(param("execution.logger_backend").as_deref(), Some("mlflow"));

    let local = &outcome.trained.history.epochs;
    let answer = server.api(&format!(
        "mlflow/metrics/get-history?run_id={run_id}&metric_key=loss"
    ));
    let logged = history(&answer);
    assert_eq!(logged.len(), 2);
    for (epoch, (step, value)) in local.iter().zip(&logged) {
        assert_eq!(*step, epoch.epoch as i64);
        assert!(
            (value - epoch.loss).abs() <= 1e-9 * epoch.loss.abs(),
            "{value} vs {}",
            epoch.loss
        );
    }

    let root = info["artifact_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("mlflow-artifacts:/");
    let listing = server.api(&format!("mlflow-artifacts/artifacts?path={root}/bundle"));
    assert_eq!(listing["files"][0]["path"], "wts.h5.zip");
    let size = std::fs::metadata(&outcome.bundle_path).unwrap().len();
    assert_eq!(listing["files"][0]["file_size"], size);
}
