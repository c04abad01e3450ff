//! The real MLflow server the tests use: the one named by `MLFLOW_TRACKING_URI` (as `make test` starts it), or
//! else one started here, once per test process, that stops with the process. Plus registry helpers over REST.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tradai_local::mlflow::Mlflow;

use crate::project_root;

/// How long MLflow may take to answer its health check (its first start migrates the store).
const STARTUP: Duration = tradai_local::mlflow::STARTUP;

/// The address of a running MLflow server that answers its health check.
pub fn endpoint() -> &'static str {
    static MLFLOW: OnceLock<(String, Option<Mlflow>)> = OnceLock::new();
    let (url, _process) = MLFLOW.get_or_init(|| {
        let (url, process) = match std::env::var("MLFLOW_TRACKING_URI") {
            Ok(url) if !url.trim().is_empty() => (url.trim().trim_end_matches('/').to_owned(), None),
            _ => {
                let (url, process) = start();
                (url, Some(process))
            }
        };
        wait_until_healthy(&url);
        (url, process)
    });
    url
}

fn start() -> (String, Mlflow) {
    let root = project_root();
    let state = root.join(format!(".stand-ins/mlflow-tests-{}", std::process::id()));
    let mlflow = Mlflow::start(&state, &root.join(".stand-ins/mlflow-tests.log"))
        .unwrap_or_else(|error| panic!("{}", tradai::report::chain(&error)));
    (mlflow.url.clone(), mlflow)
}

fn wait_until_healthy(url: &str) {
    let address = url.trim_start_matches("http://").to_owned();
    let start = Instant::now();
    loop {
        let healthy = TcpStream::connect(&address).ok().and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            write!(stream, "GET /health HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).ok()?;
            Some(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"))
        });
        if healthy == Some(true) {
            return;
        }
        assert!(
            start.elapsed() < STARTUP,
            "MLflow at {url} did not become healthy within {STARTUP:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A unique name for a registered model, so tests sharing one server never meet.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

async fn post(path: &str, body: Value) -> Value {
    let url = format!("{}/api/2.0/mlflow/{path}", endpoint());
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("MLflow answers");
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    // Tests share the server: a model another test created first is as good as ours.
    let exists = answer["error_code"] == "RESOURCE_ALREADY_EXISTS";
    assert!(status.is_success() || exists, "POST {path} {body}: {status} {answer}");
    answer
}

/// Registers model `name` (if new), then one version per entry of `versions` with those tags, and sets `aliases`
/// (alias → version number). Answers the version numbers created.
pub async fn register(name: &str, versions: &[&[(&str, &str)]], aliases: &[(&str, u32)]) -> Vec<u32> {
    post(
        "registered-models/create",
        json!({"name": name, "description": format!("{name} strategy")}),
    )
    .await;
    let mut numbers = Vec::new();
    for tags in versions {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect();
        let answer = post(
            "model-versions/create",
            json!({"name": name, "source": format!("s3://tradai-models/{name}"), "tags": tags}),
        )
        .await;
        let number = answer["model_version"]["version"]
            .as_str()
            .expect("version")
            .parse()
            .expect("a number");
        numbers.push(number);
    }
    for (alias, version) in aliases {
        post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version.to_string()}),
        )
        .await;
    }
    numbers
}

/// MLflow's answer to GET `/api/2.0/mlflow/{path}` with `query`.
async fn get(path: &str, query: &[(&str, &str)]) -> Value {
    reqwest::Client::new()
        .get(format!("{}/api/2.0/mlflow/{path}", endpoint()))
        .query(query)
        .send()
        .await
        .expect("MLflow answers")
        .json()
        .await
        .expect("JSON")
}

/// The artifact paths of MLflow run `run_id` under `path`.
pub async fn artifacts(run_id: &str, path: &str) -> Vec<String> {
    let answer = get("artifacts/list", &[("run_id", run_id), ("path", path)]).await;
    answer["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter_map(|f| f["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The runs of experiment `name` (none when there is no such experiment).
pub async fn runs(experiment: &str) -> Vec<Value> {
    let found = get("experiments/get-by-name", &[("experiment_name", experiment)]).await;
    let Some(id) = found["experiment"]["experiment_id"].as_str() else {
        return Vec::new();
    };
    let runs = post("runs/search", json!({ "experiment_ids": [id] })).await;
    runs["runs"].as_array().cloned().unwrap_or_default()
}

/// The runs of experiment `experiment` nested under run `parent` (tagged `mlflow.parentRunId`).
pub async fn nested_runs(experiment: &str, parent: &str) -> Vec<Value> {
    runs(experiment)
        .await
        .into_iter()
        .filter(|run| {
            run["data"]["tags"].as_array().is_some_and(|tags| {
                tags.iter()
                    .any(|tag| tag["key"] == "mlflow.parentRunId" && tag["value"] == parent)
            })
        })
        .collect()
}
