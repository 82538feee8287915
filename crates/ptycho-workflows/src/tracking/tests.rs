//! The tracker against each target: the memory record, the file store's layout, and a server
//! that is down or refuses requests (a closed loopback port, a scripted loopback server).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

fn yaml(path: impl AsRef<Path>) -> serde_norway::Value {
    serde_norway::from_str(&read(path)).unwrap()
}

/// The experiment directories of a store, by experiment name.
fn experiments(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("meta.yaml").is_file())
        .map(|p| {
            (
                yaml(p.join("meta.yaml"))["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                p,
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn memory_target_records_params_metrics_artifacts_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("wts.h5.zip");
    std::fs::write(&bundle, b"bundle").unwrap();
    let mut tracker = Tracker::start(TrackingTarget::Memory, "exp", "run-1", &[("device", "cpu")]);
    tracker.log_params(&params(&[("nepochs", "2"), ("N", "64")]));
    tracker.log_metrics(0, &[("loss", 0.5), ("val_loss", 0.75)]);
    tracker.log_metrics(1, &[("loss", 0.25), ("bad$key", 1.0)]);
    tracker.log_artifact(&bundle, Some("bundle"));
    tracker.finish(RunStatus::Finished);

    let run = tracker.memory_run().unwrap();
    assert_eq!(run.run_id.len(), 32);
    assert_eq!(tracker.run_id(), Some(run.run_id.as_str()));
    assert_eq!(
        (run.experiment.as_str(), run.run_name.as_str()),
        ("exp", "run-1")
    );
    assert!(run.tags.contains(&("device".into(), "cpu".into())));
    assert_eq!(run.param("nepochs"), Some("2"));
    assert_eq!(run.param("N"), Some("64"));
    assert_eq!(run.metric_history("loss"), [(0, 0.5), (1, 0.25)]);
    assert_eq!(run.metric_history("val_loss"), [(0, 0.75)]);
    assert_eq!(run.artifacts, ["bundle/wts.h5.zip"]);
    assert_eq!(run.status, RunStatus::Finished);
    // The invalid key is the only failure; the other metric of that step was logged.
    assert_eq!(tracker.warnings().failures, 1);
    assert!(
        tracker
            .warnings()
            .first
            .as_ref()
            .unwrap()
            .contains("\"bad$key\"")
    );
    assert_eq!(tracker.run_dir(), None);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "memory wrote files"
    );
}

#[test]
fn file_store_has_mlflows_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let bundle = dir.path().join("wts.h5.zip");
    std::fs::write(&bundle, b"zip bytes").unwrap();
    let target = TrackingTarget::FileStore { root: root.clone() };
    let mut tracker = Tracker::start(target.clone(), "ptychopinn", "run-a", &[("device", "cpu")]);
    tracker.log_params(&params(&[("nepochs", "2"), ("model.N", "64")]));
    tracker.log_metrics(0, &[("loss", 0.5), ("val_loss", f64::NAN)]);
    tracker.log_metrics(1, &[("loss", 1e-7)]);
    tracker.log_artifact(&bundle, Some("bundle"));
    tracker.finish(RunStatus::Finished);
    assert_eq!(tracker.warnings(), &TrackingWarnings::default());

    assert!(root.join(".trash").is_dir());
    let exps = experiments(&root);
    assert_eq!(
        exps.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["Default", "ptychopinn"]
    );
    let default = yaml(root.join("0/meta.yaml"));
    assert_eq!(default["experiment_id"].as_str(), Some("0"));
    assert_eq!(default["lifecycle_stage"].as_str(), Some("active"));
    let exp_dir = &exps[1].1;
    let exp_id = exp_dir.file_name().unwrap().to_str().unwrap();
    assert_eq!(exp_id.len(), 18);
    assert!(exp_id.bytes().all(|b| b.is_ascii_digit()) && !exp_id.starts_with('0'));
    let exp_meta = yaml(exp_dir.join("meta.yaml"));
    assert_eq!(exp_meta["experiment_id"].as_str(), Some(exp_id));
    assert_eq!(
        exp_meta["artifact_location"].as_str().unwrap(),
        format!("file://{}", exp_dir.display())
    );

    let run_id = tracker.run_id().unwrap().to_owned();
    let run_dir = exp_dir.join(&run_id);
    assert_eq!(tracker.run_dir(), Some(run_dir.as_path()));
    let meta = yaml(run_dir.join("meta.yaml"));
    assert_eq!(meta["run_id"].as_str(), Some(run_id.as_str()));
    assert_eq!(meta["run_uuid"].as_str(), Some(run_id.as_str()));
    assert_eq!(meta["run_name"].as_str(), Some("run-a"));
    assert_eq!(meta["experiment_id"].as_str(), Some(exp_id));
    assert_eq!(meta["status"].as_i64(), Some(3));
    assert_eq!(meta["source_type"].as_i64(), Some(4));
    assert!(meta["end_time"].as_i64().unwrap() >= meta["start_time"].as_i64().unwrap());
    assert_eq!(
        meta["artifact_uri"].as_str().unwrap(),
        format!("file://{}/artifacts", run_dir.display())
    );

    assert_eq!(read(run_dir.join("params/nepochs")), "2");
    assert_eq!(read(run_dir.join("params/model.N")), "64");
    assert_eq!(read(run_dir.join("tags/mlflow.runName")), "run-a");
    assert_eq!(read(run_dir.join("tags/device")), "cpu");
    let lines: Vec<Vec<String>> = read(run_dir.join("metrics/loss"))
        .lines()
        .map(|l| l.split(' ').map(str::to_owned).collect())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0][0].parse::<i64>().unwrap() > 1_600_000_000_000,
        "timestamp in ms"
    );
    assert_eq!((lines[0][1].as_str(), lines[0][2].as_str()), ("0.5", "0"));
    assert_eq!((lines[1][1].as_str(), lines[1][2].as_str()), ("1e-7", "1"));
    assert!(read(run_dir.join("metrics/val_loss")).ends_with(" NaN 0\n"));
    assert_eq!(
        std::fs::read(run_dir.join("artifacts/bundle/wts.h5.zip")).unwrap(),
        b"zip bytes"
    );

    // A second run joins the same experiment.
    let mut second = Tracker::start(target, "ptychopinn", "run-b", &[]);
    second.finish(RunStatus::Failed);
    assert_eq!(experiments(&root).len(), 2);
    let second_meta = yaml(exp_dir.join(second.run_id().unwrap()).join("meta.yaml"));
    assert_eq!(second_meta["status"].as_i64(), Some(4));
}

#[test]
fn file_store_default_experiment_is_id_0_and_an_unfinished_run_ends_killed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let run_dir = {
        let tracker = Tracker::start(
            TrackingTarget::FileStore { root: root.clone() },
            "Default",
            "r",
            &[],
        );
        tracker.run_dir().unwrap().to_owned()
    };
    assert_eq!(run_dir.parent().unwrap(), root.join("0"));
    assert_eq!(experiments(&root).len(), 1);
    let meta = yaml(run_dir.join("meta.yaml"));
    assert_eq!(meta["status"].as_i64(), Some(5));
}

#[test]
fn a_changed_param_is_refused_once_and_later_failures_only_counted() {
    let dir = tempfile::tempdir().unwrap();
    let target = TrackingTarget::FileStore {
        root: dir.path().join("mlruns"),
    };
    let mut tracker = Tracker::start(target, "e", "r", &[]);
    tracker.log_params(&params(&[("lr", "0.1")]));
    tracker.log_params(&params(&[("lr", "0.2")]));
    tracker.log_params(&params(&[("lr", "0.3")]));
    let warnings = tracker.warnings();
    assert_eq!(warnings.failures, 2);
    let first = warnings.first.as_deref().unwrap();
    assert!(
        first.contains("param \"lr\"") && first.contains("\"0.1\"") && first.contains("\"0.2\""),
        "{first}"
    );
    assert_eq!(read(tracker.run_dir().unwrap().join("params/lr")), "0.1");
}

#[test]
fn a_closed_port_warns_once_and_costs_no_time() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let target = TrackingTarget::Rest {
        base_url: format!("http://127.0.0.1:{port}"),
    };
    let mut tracker = Tracker::start(target, "e", "r", &[]);
    for epoch in 0..5 {
        tracker.log_metrics(epoch, &[("loss", 1.0)]);
    }
    tracker.log_params(&params(&[("a", "b")]));
    tracker.finish(RunStatus::Finished);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(tracker.run_id(), None);
    let warnings = tracker.warnings();
    assert_eq!(warnings.failures, 8, "start, 5 epochs, params, finish");
    let first = warnings.first.as_deref().unwrap();
    assert!(first.contains("cannot reach the mlflow server"), "{first}");
    assert!(
        first.contains(&format!(
            "127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name"
        )),
        "{first}"
    );
}

#[test]
fn a_disabled_tracker_records_nothing_and_never_warns() {
    let mut tracker = Tracker::disabled();
    tracker.log_metrics(0, &[("loss", 1.0)]);
    tracker.finish(RunStatus::Finished);
    assert_eq!(tracker.run_id(), None);
    assert_eq!(tracker.warnings(), &TrackingWarnings::default());
}

/// One request the scripted server saw: method, path with query, body.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A loopback HTTP/1.1 server answering each request with `answer(method, path)`, recording
/// what it was sent. It lives until the test process ends.
fn scripted_server(answer: fn(&str, &str) -> (u16, &'static str)) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve(stream, answer, &log));
        }
    });
    (url, seen)
}

fn serve(stream: TcpStream, answer: fn(&str, &str) -> (u16, &'static str), log: &Seen) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut parts = request_line.split(' ');
        let (method, path) = (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        );
        let (status, reply) = answer(&method, &path);
        log.lock()
            .unwrap()
            .push((method, path, String::from_utf8(body).unwrap()));
        let response = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        writer.write_all(response.as_bytes()).unwrap();
    }
}

#[test]
fn a_server_refusing_requests_is_warned_once_and_asked_again() {
    let (url, seen) = scripted_server(|_, path| {
        let path = path.split('?').next().unwrap();
        match path.trim_start_matches("/api/2.0/mlflow/") {
            "experiments/get-by-name" => (200, r#"{"experiment":{"experiment_id":"7"}}"#),
            "runs/create" => (
                200,
                r#"{"run":{"info":{"run_id":"r1","artifact_uri":"mlflow-artifacts:/7/r1/artifacts"}}}"#,
            ),
            "runs/log-batch" => (
                400,
                r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"nope"}"#,
            ),
            _ => (200, "{}"),
        }
    });
    let mut tracker = Tracker::start(TrackingTarget::Rest { base_url: url }, "exp", "run", &[]);
    assert_eq!(tracker.run_id(), Some("r1"));
    tracker.log_metrics(0, &[("loss", 0.5)]);
    tracker.log_metrics(1, &[("loss", f64::INFINITY)]);
    tracker.finish(RunStatus::Finished);

    let warnings = tracker.warnings().clone();
    assert_eq!(warnings.failures, 2);
    let first = warnings.first.unwrap();
    assert!(
        first.contains("found 400") && first.contains("INVALID_PARAMETER_VALUE"),
        "{first}"
    );
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen
        .iter()
        .map(|(_, path, _)| {
            path.split('?')
                .next()
                .unwrap()
                .trim_start_matches("/api/2.0/mlflow/")
        })
        .collect();
    assert_eq!(
        paths,
        [
            "experiments/get-by-name",
            "runs/create",
            "runs/log-batch",
            "runs/log-batch",
            "runs/update"
        ]
    );
    assert!(seen[0].1.ends_with("?experiment_name=exp"), "{}", seen[0].1);
    let create: serde_json::Value = serde_json::from_str(&seen[1].2).unwrap();
    assert_eq!(create["experiment_id"], "7");
    assert_eq!(create["run_name"], "run");
    let batch: serde_json::Value = serde_json::from_str(&seen[3].2).unwrap();
    assert_eq!(batch["metrics"][0]["value"], "Infinity");
    assert_eq!(batch["metrics"][0]["step"], 1);
    let update: serde_json::Value = serde_json::from_str(&seen[4].2).unwrap();
    assert_eq!(
        (update["run_id"].as_str(), update["status"].as_str()),
        (Some("r1"), Some("FINISHED"))
    );
}

#[test]
fn an_invalid_tag_is_dropped_alone_and_the_tracker_can_move_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let tracker = Tracker::start(
        TrackingTarget::Memory,
        "e",
        "r",
        &[("ok", "1"), ("bad//key", "2")],
    );
    assert_send(&tracker);
    let run = tracker.memory_run().unwrap();
    assert!(run.tags.contains(&("ok".into(), "1".into())));
    assert!(!run.tags.iter().any(|(k, _)| k == "bad//key"));
    assert_eq!(tracker.warnings().failures, 1);
    let first = tracker.warnings().first.as_deref().unwrap();
    assert!(
        first.starts_with("warning: tracking to memory failed; training goes on"),
        "{first}"
    );
    assert!(first.contains("mlflow tag name \"bad//key\""), "{first}");
}
