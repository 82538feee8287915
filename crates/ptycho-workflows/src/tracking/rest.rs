//! A run on an MLflow tracking server through its REST API (`/api/2.0/mlflow/...`, the same
//! in MLflow 2.x and 3.x), artifacts through the server's artifact proxy
//! (`/api/2.0/mlflow-artifacts/artifacts/...`, on by default since `--serve-artifacts`).
//!
//! Every request has short timeouts: a hung server costs a training run seconds, never hours.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::naming::artifact_files;
use super::{NewRun, RunStatus, TrackingError};

/// Connecting to a live server on the network takes milliseconds; a few seconds is a dead one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A whole JSON request and its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Uploads get [`REQUEST_TIMEOUT`] plus one second per this many bytes (1 MB/s at worst).
const UPLOAD_BYTES_PER_SECOND: u64 = 1_000_000;
/// MLflow's `log-batch` limits (`mlflow/utils/validation.py`).
const PARAMS_PER_BATCH: usize = 100;
const METRICS_PER_BATCH: usize = 1000;

/// An HTTP client bound to one server.
#[derive(Debug)]
struct Client {
    agent: ureq::Agent,
    base_url: String,
    authorization: Option<String>,
}

/// One run on the server.
#[derive(Debug)]
pub(crate) struct RestRun {
    client: Client,
    run_id: String,
    artifact_uri: String,
}

impl RestRun {
    /// Finds or creates the experiment by name and creates the run. Credentials come from
    /// `MLFLOW_TRACKING_TOKEN` (bearer) or `MLFLOW_TRACKING_USERNAME`/`_PASSWORD` (basic),
    /// the variables MLflow's own client reads.
    pub fn start(base_url: &str, new: &NewRun<'_>) -> Result<Self, TrackingError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let client = Client {
            agent: ureq::Agent::config_builder()
                .timeout_connect(Some(CONNECT_TIMEOUT))
                .timeout_global(Some(REQUEST_TIMEOUT))
                .http_status_as_error(false)
                .build()
                .into(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            authorization: authorization(
                env("MLFLOW_TRACKING_TOKEN").as_deref(),
                env("MLFLOW_TRACKING_USERNAME").as_deref(),
                env("MLFLOW_TRACKING_PASSWORD").as_deref(),
            ),
        };
        let experiment_id = client.experiment_id(new.experiment)?;
        let mut tags: Vec<Value> = new
            .tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        tags.push(json!({"key": "mlflow.runName", "value": new.run_name}));
        let (url, answer) = client.post(
            "runs/create",
            &json!({
                "experiment_id": experiment_id,
                "user_id": new.user,
                "run_name": new.run_name,
                "start_time": new.start_ms,
                "tags": tags,
            }),
        )?;
        let info = &answer["run"]["info"];
        let text = |key: &str| info[key].as_str().map(str::to_owned);
        match (text("run_id"), text("artifact_uri")) {
            (Some(run_id), Some(artifact_uri)) => Ok(Self {
                client,
                run_id,
                artifact_uri,
            }),
            _ => Err(TrackingError::BadResponse {
                url,
                expected: "run.info.run_id and run.info.artifact_uri",
                found: snippet(&answer.to_string()),
            }),
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn log_params(&mut self, params: &[(String, String)]) -> Result<(), TrackingError> {
        for chunk in params.chunks(PARAMS_PER_BATCH) {
            let params: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect();
            self.client.post(
                "runs/log-batch",
                &json!({"run_id": self.run_id, "params": params}),
            )?;
        }
        Ok(())
    }

    pub fn log_metrics(
        &mut self,
        timestamp_ms: i64,
        step: u64,
        metrics: &[(&str, f64)],
    ) -> Result<(), TrackingError> {
        for chunk in metrics.chunks(METRICS_PER_BATCH) {
            let metrics: Vec<Value> = chunk
                .iter()
                .map(|&(key, value)| {
                    json!({"key": key, "value": metric_value(value), "timestamp": timestamp_ms, "step": step})
                })
                .collect();
            self.client.post(
                "runs/log-batch",
                &json!({"run_id": self.run_id, "metrics": metrics}),
            )?;
        }
        Ok(())
    }

    /// Uploads a file, or a directory's files, under the run's artifact root.
    pub fn log_artifact(
        &mut self,
        local: &Path,
        artifact_dir: Option<&str>,
    ) -> Result<(), TrackingError> {
        let root = proxied_artifact_path(&self.artifact_uri).ok_or_else(|| {
            TrackingError::ArtifactsNotProxied {
                uri: self.artifact_uri.clone(),
                run_id: self.run_id.clone(),
            }
        })?;
        for (source, relative) in artifact_files(local, artifact_dir)? {
            let path = format!("{root}/{relative}");
            self.client.put_file(&path, &source)?;
        }
        Ok(())
    }

    pub fn finish(&mut self, status: RunStatus, end_ms: i64) -> Result<(), TrackingError> {
        self.client.post(
            "runs/update",
            &json!({"run_id": self.run_id, "status": status.as_str(), "end_time": end_ms}),
        )?;
        Ok(())
    }
}

impl Client {
    /// The id of the experiment called `name`, created when missing. A concurrent creator
    /// makes `create` answer RESOURCE_ALREADY_EXISTS; the lookup is then repeated once.
    fn experiment_id(&self, name: &str) -> Result<String, TrackingError> {
        for attempt in 0..2 {
            let url = self.url("api/2.0/mlflow/experiments/get-by-name");
            let request = self
                .with_auth(self.agent.get(&url))
                .query("experiment_name", name);
            let (status, body) = self.call("GET", &url, request.call())?;
            if status == 200 {
                return json_text(&url, &body, "experiment.experiment_id", |v| {
                    v["experiment"]["experiment_id"].as_str().map(str::to_owned)
                });
            }
            if status != 404 {
                return Err(refused("GET", url, status, &body));
            }
            match self.post("experiments/create", &json!({ "name": name })) {
                Ok((url, answer)) => {
                    return json_text(&url, &answer.to_string(), "experiment_id", |v| {
                        v["experiment_id"].as_str().map(str::to_owned)
                    });
                }
                Err(TrackingError::Refused { body, .. })
                    if attempt == 0 && body.contains("RESOURCE_ALREADY_EXISTS") => {}
                Err(e) => return Err(e),
            }
        }
        Err(TrackingError::BadResponse {
            url: self.url("api/2.0/mlflow/experiments/get-by-name"),
            expected: "the experiment that experiments/create said exists",
            found: format!("no experiment named {name:?}"),
        })
    }

    /// POSTs JSON to `/api/2.0/mlflow/<endpoint>`; returns the URL and the parsed answer.
    fn post(&self, endpoint: &str, body: &Value) -> Result<(String, Value), TrackingError> {
        let url = self.url(&format!("api/2.0/mlflow/{endpoint}"));
        let request = self
            .with_auth(self.agent.post(&url))
            .content_type("application/json");
        let (status, text) = self.call("POST", &url, request.send(body.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(refused("POST", url, status, &text));
        }
        let answer = serde_json::from_str(&text).map_err(|_| TrackingError::BadResponse {
            url: url.clone(),
            expected: "a JSON object",
            found: snippet(&text),
        })?;
        Ok((url, answer))
    }

    /// PUTs a file to the artifact proxy at `path` (relative to its root).
    fn put_file(&self, path: &str, file: &Path) -> Result<(), TrackingError> {
        let url = self.url(&format!(
            "api/2.0/mlflow-artifacts/artifacts/{}",
            encode_path(path)
        ));
        let handle =
            std::fs::File::open(file).map_err(TrackingError::io(file, "opening the artifact"))?;
        let bytes = handle.metadata().map(|m| m.len()).unwrap_or(0);
        let request = self
            .with_auth(self.agent.put(&url))
            .content_type("application/octet-stream")
            .config()
            .timeout_global(Some(
                REQUEST_TIMEOUT + Duration::from_secs(bytes / UPLOAD_BYTES_PER_SECOND),
            ))
            .build();
        let (status, text) = self.call("PUT", &url, request.send(handle))?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(refused("PUT", url, status, &text))
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    fn with_auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.authorization {
            Some(value) => request.header("Authorization", value),
            None => request,
        }
    }

    /// The status and body text of an answer; a transport failure is [`TrackingError::Unreachable`].
    fn call(
        &self,
        method: &'static str,
        url: &str,
        sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, String), TrackingError> {
        let unreachable = |e: ureq::Error| TrackingError::Unreachable {
            method,
            url: url.to_owned(),
            reason: e.to_string(),
        };
        let mut response = sent.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().map_err(unreachable)?;
        Ok((status, body))
    }
}

/// The `Authorization` header MLflow's client would send: a bearer token wins over basic auth.
fn authorization(
    token: Option<&str>,
    user: Option<&str>,
    password: Option<&str>,
) -> Option<String> {
    use base64::Engine as _;
    match (token, user, password) {
        (Some(token), _, _) => Some(format!("Bearer {token}")),
        (None, Some(user), Some(password)) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )),
        _ => None,
    }
}

/// JSON has no NaN or infinity; MLflow's protobuf JSON parser takes them as these strings.
fn metric_value(value: f64) -> Value {
    if value.is_nan() {
        json!("NaN")
    } else if value.is_infinite() {
        json!(if value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(value)
    }
}

/// The path under the artifact proxy of an `mlflow-artifacts:/1/<run>/artifacts` or
/// `mlflow-artifacts://host:port/1/<run>/artifacts` URI; `None` for a URI the proxy does not
/// serve (a server started with `--no-serve-artifacts` hands out its storage URI instead).
fn proxied_artifact_path(artifact_uri: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => &with_host[with_host.find('/').unwrap_or(with_host.len())..],
        None => rest,
    };
    Some(path.trim_matches('/').to_owned())
}

/// Percent-encodes each `/`-separated segment of an artifact path for use in a URL.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn json_text(
    url: &str,
    text: &str,
    expected: &'static str,
    pick: impl Fn(&Value) -> Option<String>,
) -> Result<String, TrackingError> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| pick(&v))
        .ok_or_else(|| TrackingError::BadResponse {
            url: url.to_owned(),
            expected,
            found: snippet(text),
        })
}

fn refused(method: &'static str, url: String, status: u16, body: &str) -> TrackingError {
    TrackingError::Refused {
        method,
        url,
        status,
        body: snippet(body),
    }
}

/// At most 300 characters of a server's answer, enough for MLflow's error_code and message.
fn snippet(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_prefers_the_token() {
        assert_eq!(
            authorization(Some("t0k"), Some("u"), Some("p")).as_deref(),
            Some("Bearer t0k")
        );
        // base64("alice:s3cret")
        assert_eq!(
            authorization(None, Some("alice"), Some("s3cret")).as_deref(),
            Some("Basic YWxpY2U6czNjcmV0")
        );
        assert_eq!(authorization(None, Some("alice"), None), None);
    }

    #[test]
    fn non_finite_metrics_use_protobuf_json_spellings() {
        assert_eq!(metric_value(f64::NAN), json!("NaN"));
        assert_eq!(metric_value(f64::INFINITY), json!("Infinity"));
        assert_eq!(metric_value(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(metric_value(0.25), json!(0.25));
    }

    #[test]
    fn artifact_uris_map_to_proxy_paths() {
        assert_eq!(
            proxied_artifact_path("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxied_artifact_path("mlflow-artifacts://h:5000/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(proxied_artifact_path("s3://bucket/1/abc/artifacts"), None);
        assert_eq!(encode_path("1/a b/c%d.zip"), "1/a%20b/c%25d.zip");
    }
}
