//! The MLflow adapter against a real `mlflow server`, and against loopback sockets that misbehave on purpose
//! (silent, refusing), for timeouts, basic auth and the circuit breaker.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tradai::mlflow::breaker::State;
use tradai::mlflow::{Credentials, MlflowClient, MlflowOptions, ModelRegistry, RegistryError};
use tradai_tests::mlflow::{endpoint, register, unique_name};
use tradai_tests::proxy::silent_server;

fn client() -> MlflowClient {
    MlflowClient::new(MlflowOptions::new(endpoint())).expect("client")
}

fn fast(uri: String) -> MlflowOptions {
    let mut options = MlflowOptions::new(uri);
    options.request_timeout = Duration::from_millis(300);
    options.connect_timeout = Duration::from_millis(300);
    options.attempts = 1;
    options.breaker_threshold = 3;
    options.breaker_recovery = Duration::from_secs(60);
    options
}

#[tokio::test]
async fn reads_a_strategy_its_versions_tags_and_aliases() {
    let name = unique_name("Registry");
    let numbers = register(
        &name,
        &[
            &[
                ("ecr_url", "123.dkr.ecr.us-east-1.amazonaws.com/strategy:1"),
                ("config_path", "s3://c/one.yaml"),
            ],
            &[
                ("ecr_url", "123.dkr.ecr.us-east-1.amazonaws.com/strategy:2"),
                ("archived", "true"),
            ],
            &[
                ("ecr_url", "123.dkr.ecr.us-east-1.amazonaws.com/strategy:3"),
                ("timeframe", "5m"),
            ],
        ],
        &[("production", 1), ("staging", 3)],
    )
    .await;
    let registry = client();

    let strategy = registry.strategy(&name).await.expect("answers").expect("registered");
    assert_eq!(strategy.latest_version, Some(numbers[2]));
    assert_eq!(strategy.aliases.get("production"), Some(&numbers[0]));
    assert_eq!(
        strategy.description.as_deref(),
        Some(format!("{name} strategy").as_str())
    );

    let versions = registry.versions(&name).await.expect("answers");
    let order: Vec<u32> = versions.iter().map(|v| v.version).collect();
    assert_eq!(order, [numbers[2], numbers[1], numbers[0]], "newest first");
    assert!(versions[1].is_archived() && !versions[0].is_archived());

    let one = registry
        .version(&name, numbers[0])
        .await
        .expect("answers")
        .expect("exists");
    assert_eq!(one.tags["config_path"], "s3://c/one.yaml");
    let staging = registry
        .resolve_alias(&name, "staging")
        .await
        .expect("answers")
        .expect("alias");
    assert_eq!(staging.version, numbers[2]);
    assert_eq!(staging.tags["timeframe"], "5m");

    assert_eq!(registry.resolve_alias(&name, "canary").await.expect("answers"), None);
    assert_eq!(registry.version(&name, 99).await.expect("answers"), None);
    assert_eq!(registry.strategy(&unique_name("Missing")).await.expect("answers"), None);
    registry.health().await.expect("healthy");
}

#[tokio::test]
async fn listing_pages_through_every_strategy_once() {
    let prefix = unique_name("Paging");
    let mut names = Vec::new();
    for index in 0..7 {
        let name = format!("{prefix}-{index}");
        register(&name, &[&[("ecr_url", "x")]], &[]).await;
        names.push(name);
    }
    let registry = client();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let page = registry.list_strategies(3, token.as_deref()).await.expect("page");
        assert!(page.strategies.len() <= 3);
        seen.extend(page.strategies.into_iter().map(|s| s.name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    let ours: Vec<&String> = seen.iter().filter(|name| name.starts_with(&prefix)).collect();
    assert_eq!(ours, names.iter().collect::<Vec<_>>(), "each once, by name");
}

#[tokio::test]
async fn a_silent_mlflow_times_out_then_the_circuit_opens_and_answers_at_once() {
    let (uri, connections) = silent_server().await;
    let registry = MlflowClient::new(fast(uri)).expect("client");
    for _ in 0..3 {
        let started = Instant::now();
        let error = registry.strategy("EmaCross").await.expect_err("times out");
        assert!(matches!(error, RegistryError::Timeout(_)), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "bounded by the request timeout"
        );
    }
    assert!(matches!(registry.breaker().state(), State::Open { .. }));
    let before = connections.load(Ordering::SeqCst);
    let error = registry.strategy("EmaCross").await.expect_err("refused");
    assert!(matches!(error, RegistryError::CircuitOpen(_)), "{error:?}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        before,
        "an open circuit does not call MLflow"
    );
}

#[tokio::test]
async fn an_unreachable_mlflow_is_reported_as_such() {
    let port = tradai_tests::free_port();
    let registry = MlflowClient::new(fast(format!("http://127.0.0.1:{port}"))).expect("client");
    let error = registry.list_strategies(10, None).await.expect_err("refused");
    assert!(matches!(error, RegistryError::Unreachable(_)), "{error:?}");
}

/// The first request a client made with `credentials` sends to a loopback MLflow stand-in, lower-cased.
async fn first_request_with(credentials: Credentials) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a request");
        let mut request = vec![0; 4096];
        let read = socket.read(&mut request).await.expect("read");
        let body = r#"{"registered_model":{"name":"EmaCross","creation_timestamp":1,"last_updated_timestamp":2}}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.expect("write");
        String::from_utf8_lossy(&request[..read]).into_owned()
    });
    let mut options = fast(format!("http://{address}"));
    options.credentials = credentials;
    let strategy = MlflowClient::new(options)
        .expect("client")
        .strategy("EmaCross")
        .await
        .expect("answers");
    assert_eq!(strategy.expect("found").name, "EmaCross");
    server.await.expect("server").to_ascii_lowercase()
}

#[tokio::test]
async fn credentials_are_sent_as_basic_auth() {
    let request = first_request_with(Credentials::given("quant", "s3cret")).await;
    // base64("quant:s3cret")
    assert!(request.contains("authorization: basic cxvhbnq6cznjcmv0"), "{request}");
    assert!(
        request.starts_with("get /api/2.0/mlflow/registered-models/get?name=emacross"),
        "{request}"
    );
}

/// A function's way: the credentials are read from the Secrets Manager secret the settings name (moto's here).
#[tokio::test]
async fn credentials_named_by_a_secret_are_read_from_it_and_sent() {
    let sdk = tradai_tests::moto::sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = unique_name("tradai/test/mlflow");
    let arn = secrets
        .create_secret()
        .name(&name)
        .secret_string(r#"{"username": "quant", "password": "s3cret"}"#)
        .send()
        .await
        .expect("a secret")
        .arn
        .expect("an ARN");
    let request = first_request_with(Credentials::Secret(arn)).await;
    assert!(request.contains("authorization: basic cxvhbnq6cznjcmv0"), "{request}");

    // A secret that is not there fails the call, naming the secret, and sends nothing to MLflow.
    let mut options = fast("http://127.0.0.1:9".to_owned());
    options.credentials = Credentials::Secret(format!("{name}-gone"));
    let error = MlflowClient::new(options)
        .expect("client")
        .strategy("EmaCross")
        .await
        .expect_err("no credentials");
    assert!(
        matches!(&error, RegistryError::Credentials { secret, .. } if secret.ends_with("-gone")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_tracked_run_keeps_its_params_metrics_artifact_and_end() {
    use std::collections::BTreeMap;
    use tradai::mlflow::{ExperimentTracker, RunEnd};

    let tracker = client();
    let experiment = format!("backtests/{}", unique_name("Tracked"));
    let tags = BTreeMap::from([("run_id".to_owned(), "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10".to_owned())]);
    let run = tracker
        .start_run(&experiment, "3f2b8c1e", &tags)
        .await
        .expect("started");
    let again = tracker
        .start_run(&experiment, "second", &BTreeMap::new())
        .await
        .expect("same experiment");
    assert_eq!(
        again.experiment_id, run.experiment_id,
        "the experiment is found, not made twice"
    );

    let params = BTreeMap::from([
        ("strategy".to_owned(), "EmaCross".to_owned()),
        ("timeframe".to_owned(), "5m".to_owned()),
    ]);
    let metrics = BTreeMap::from([("total_trades".to_owned(), 42.0), ("profit_total_pct".to_owned(), 3.5)]);
    tracker.log_batch(&run, &params, &metrics).await.expect("logged");
    tracker
        .log_artifact(&run, "summary.json", br#"{"total_trades": 42}"#.to_vec())
        .await
        .expect("stored");
    tracker.end_run(&run, RunEnd::Finished).await.expect("ended");

    let http = reqwest::Client::new();
    let answer: serde_json::Value = http
        .get(format!("{}/api/2.0/mlflow/runs/get", endpoint()))
        .query(&[("run_id", run.run_id.as_str())])
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["run"]["info"]["status"], "FINISHED");
    let data = &answer["run"]["data"];
    assert!(
        data["params"]
            .as_array()
            .expect("params")
            .iter()
            .any(|p| p["key"] == "strategy" && p["value"] == "EmaCross")
    );
    assert!(
        data["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .any(|m| m["key"] == "total_trades" && m["value"] == 42.0)
    );
    let artifact = http
        .get(format!("{}/get-artifact", endpoint()))
        .query(&[("path", "summary.json"), ("run_uuid", run.run_id.as_str())])
        .send()
        .await
        .expect("answers");
    assert!(artifact.status().is_success(), "{}", artifact.status());
    assert_eq!(artifact.text().await.expect("text"), r#"{"total_trades": 42}"#);
}

/// Stops a process group when dropped: a server and every worker it started.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|pid| i32::try_from(pid).ok()) {
            let _gone = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// The deployed MLflow started as its task starts it — `mlflow/serve.py`'s users, auth environment and `mlflow
/// server` arguments — with a SQLite store in `state` instead of PostgreSQL.
pub(crate) struct DeployedMlflow {
    pub(crate) url: String,
    _group: Group,
}

/// The admin and strategy users as the tests' secrets name them.
pub(crate) const ADMIN: &str = "tradai";
pub(crate) const STRATEGY: &str = "tradai-strategy";

impl DeployedMlflow {
    pub(crate) async fn start(state: &std::path::Path, admin_password: &str, strategy_password: &str) -> Self {
        let root = tradai_tests::project_root();
        let port = tradai_tests::free_port();
        let script = r#"
import os, sys
sys.path.insert(0, sys.argv[1])
import serve
state, port = sys.argv[2], sys.argv[3]
store = f"sqlite:///{state}/mlflow.db"
admin = (os.environ["MLFLOW_AUTH_ADMIN_USERNAME"], os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"])
strategy = (os.environ["MLFLOW_STRATEGY_USERNAME"], os.environ["MLFLOW_STRATEGY_PASSWORD"])
os.environ.update(serve.start_environment(store, admin, strategy, f"{state}/basic_auth.ini"))
arguments = serve.server_arguments(store, f"{state}/artifacts", "mlflow.tradai-test.local", bind="127.0.0.1", port=port)
arguments[0] = os.path.join(os.path.dirname(sys.executable), "mlflow")
os.execv(arguments[0], arguments)
"#;
        let log = state.join(format!("mlflow-{port}.log"));
        let output = std::fs::File::create(&log).expect("a log");
        let mut server = tokio::process::Command::new(root.join(".stand-ins/venv/bin/python"))
            .arg("-c")
            .arg(script)
            .arg(root.join("mlflow"))
            .arg(state)
            .arg(port.to_string())
            .env("MLFLOW_AUTH_ADMIN_USERNAME", ADMIN)
            .env("MLFLOW_AUTH_ADMIN_PASSWORD", admin_password)
            .env("MLFLOW_STRATEGY_USERNAME", STRATEGY)
            .env("MLFLOW_STRATEGY_PASSWORD", strategy_password)
            .env_remove("MLFLOW_FLASK_SERVER_SECRET_KEY")
            .stdout(output.try_clone().expect("the log"))
            .stderr(output)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("serve.py starts");
        let group = Group(server.id());
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(answer) = http.get(format!("{url}/health")).send().await
                && answer.status().is_success()
            {
                return Self { url, _group: group };
            }
            let log = || std::fs::read_to_string(&log).unwrap_or_default();
            if let Ok(Some(status)) = server.try_wait() {
                panic!("MLflow exited {status}:\n{}", log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "MLflow did not answer:\n{}",
                log()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Our client, as `username` with `password`.
    pub(crate) fn client(&self, username: &str, password: &str) -> MlflowClient {
        let mut options = self.options();
        options.credentials = Credentials::given(username, password);
        MlflowClient::new(options).expect("client")
    }

    /// One attempt per call, with time for a server whose first answers import the registry's code while the whole
    /// suite runs beside it (the functions' 3 s is not what this is about).
    pub(crate) fn options(&self) -> MlflowOptions {
        let mut options = MlflowOptions::new(self.url.clone());
        options.request_timeout = Duration::from_secs(60);
        options.connect_timeout = Duration::from_secs(5);
        options.attempts = 1;
        options
    }
}

pub(crate) fn state_folder() -> std::path::PathBuf {
    let state = tradai_tests::project_root().join(format!(".stand-ins/mlflow-auth-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&state).expect("a state folder");
    state
}

/// MLflow answered `status` (our client's rejection says it first).
pub(crate) fn refused_with(result: Result<impl std::fmt::Debug, RegistryError>, status: &str) -> bool {
    matches!(&result, Err(RegistryError::Rejected(message)) if message.starts_with(status))
}

/// The deployed MLflow's own start with a SQLite store: the basic-auth app comes up (it refuses to without the
/// Flask-WTF package and a static secret key, which on AWS would have been an MLflow task failing its every start),
/// turns away requests without the admin's credentials, and answers the admin the task's secret names, through our
/// client too.
#[tokio::test]
async fn the_deployed_mlflow_starts_with_its_auth_app_and_answers_only_its_admin() {
    let state = state_folder();
    let password = "an-admin-password-of-32-characters";
    let mlflow = DeployedMlflow::start(&state, password, "a-strategy-password-of-32-chars").await;
    let http = reqwest::Client::new();
    let search = format!("{}/api/2.0/mlflow/experiments/search?max_results=1", mlflow.url);
    let anonymous = http.get(&search).send().await.expect("answers");
    assert_eq!(anonymous.status().as_u16(), 401, "no credentials, no answer");
    let wrong = http
        .get(&search)
        .basic_auth(ADMIN, Some("not-it"))
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status().as_u16(), 401, "a wrong password, no answer");
    let admin = http
        .get(&search)
        .basic_auth(ADMIN, Some(password))
        .send()
        .await
        .expect("answers");
    assert_eq!(admin.status().as_u16(), 200, "the admin the task's secret names");

    let registry = mlflow.client(ADMIN, password);
    assert!(registry.strategy("NeverRegistered").await.expect("answers").is_none());
    let anonymous = mlflow.options();
    let refused = MlflowClient::new(anonymous)
        .expect("client")
        .strategy("NeverRegistered")
        .await;
    assert!(
        refused.is_err(),
        "without credentials our client is refused: {refused:?}"
    );
    drop(mlflow);
    std::fs::remove_dir_all(&state).ok();
}

/// What strategy code may do with the MLflow user its containers get (`tradai/<stage>/mlflow-strategy`): everything a
/// run does — read its version by number and by alias, start a run in a new or existing experiment, log its
/// parameters, metrics and result file, end it — and nothing to the registry: no version, alias or tag. A model it
/// creates first is its own until registration withdraws its grants. Both users take their secrets' new passwords at
/// the next start (rotation), and a client whose secret was rotated reads it again on MLflow's 401.
#[tokio::test]
async fn the_strategy_user_logs_runs_and_reads_the_registry_but_never_writes_it() {
    use tradai::mlflow::ExperimentTracker;
    use tradai::mlflow::RunEnd;
    use tradai::registration::ModelRegistrar;

    let state = state_folder();
    let (admin_password, strategy_password) = ("first-admin-password-of-32-chars", "first-strategy-password-32-chars");
    let mlflow = DeployedMlflow::start(&state, admin_password, strategy_password).await;
    let admin = mlflow.client(ADMIN, admin_password);
    let strategy = mlflow.client(STRATEGY, strategy_password);
    let tags = std::collections::BTreeMap::from([("config_path".to_owned(), "s3://configs/a.json".to_owned())]);
    admin.ensure_model("EmaGuarded", None).await.expect("model");
    admin
        .withdraw_grants("EmaGuarded", STRATEGY)
        .await
        .expect("nothing to withdraw is done");
    let version = admin
        .create_version("EmaGuarded", "s3://configs/a.json", &tags)
        .await
        .expect("version");
    admin
        .set_alias("EmaGuarded", "production", version.version)
        .await
        .expect("alias");

    // What a run does.
    let read = strategy
        .version("EmaGuarded", version.version)
        .await
        .expect("reads its version");
    assert_eq!(
        read.and_then(|v| v.tags.get("config_path").cloned()).as_deref(),
        Some("s3://configs/a.json")
    );
    let by_alias = strategy
        .resolve_alias("EmaGuarded", "production")
        .await
        .expect("reads the alias");
    assert_eq!(by_alias.map(|v| v.version), Some(version.version));
    for experiment in ["backtests/EmaGuarded", "custom-experiment-of-a-user"] {
        let run = strategy
            .start_run(experiment, "a-run", &std::collections::BTreeMap::new())
            .await
            .expect("starts a run, creating the experiment");
        strategy
            .log_batch(
                &run,
                &std::collections::BTreeMap::from([("stake".to_owned(), "100".to_owned())]),
                &std::collections::BTreeMap::from([("profit".to_owned(), 1.5)]),
            )
            .await
            .expect("logs");
        strategy
            .log_artifact(&run, "result.json", b"{}".to_vec())
            .await
            .expect("stores the result file");
        strategy.end_run(&run, RunEnd::Finished).await.expect("ends");
    }
    let admins_experiment = admin
        .start_run(
            "backtests/made-by-the-admin",
            "admin-run",
            &std::collections::BTreeMap::new(),
        )
        .await
        .expect("admin run");
    strategy
        .start_run(
            "backtests/made-by-the-admin",
            "b-run",
            &std::collections::BTreeMap::new(),
        )
        .await
        .expect("a run in an experiment another user made");
    drop(admins_experiment);

    // What it may not.
    assert!(
        refused_with(
            strategy
                .create_version("EmaGuarded", "s3://evil/config.json", &tags)
                .await,
            "403"
        ),
        "no new version"
    );
    assert!(
        refused_with(
            strategy.set_alias("EmaGuarded", "production", version.version).await,
            "403"
        ),
        "no alias moved"
    );
    assert!(
        refused_with(strategy.withdraw_grants("EmaGuarded", STRATEGY).await, "403"),
        "no grants changed"
    );
    let http = reqwest::Client::new();
    let tag = http
        .post(format!("{}/api/2.0/mlflow/model-versions/set-tag", mlflow.url))
        .basic_auth(STRATEGY, Some(strategy_password))
        .json(&serde_json::json!({"name": "EmaGuarded", "version": "1", "key": "image_digest", "value": "sha256:evil"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(tag.status().as_u16(), 403, "no pin rewritten");

    // A model the strategy user made first is its own (MLflow lets anyone create one) until registration withdraws
    // its grants.
    strategy
        .ensure_model("EmaSquatted", None)
        .await
        .expect("MLflow lets it create a model");
    let squatted = admin
        .create_version("EmaSquatted", "s3://configs/a.json", &tags)
        .await
        .expect("version");
    strategy
        .set_alias("EmaSquatted", "production", squatted.version)
        .await
        .expect("the model's maker manages it");
    admin.withdraw_grants("EmaSquatted", STRATEGY).await.expect("withdrawn");
    assert!(
        refused_with(
            strategy.set_alias("EmaSquatted", "staging", squatted.version).await,
            "403"
        ),
        "after registration it only reads"
    );

    // A function's client reading the admin secret from Secrets Manager (moto) caches it.
    let secrets = aws_sdk_secretsmanager::Client::new(&tradai_tests::moto::sdk_config().await);
    let secret = format!("tradai/{}/mlflow", uuid::Uuid::new_v4().simple());
    secrets
        .create_secret()
        .name(&secret)
        .secret_string(serde_json::json!({"username": ADMIN, "password": admin_password}).to_string())
        .send()
        .await
        .expect("secret");
    drop(mlflow);

    // Rotation: both secrets hold new passwords, and MLflow takes them at its next start.
    let (admin_rotated, strategy_rotated) = ("second-admin-password-of-32-char", "second-strategy-password-32-char");
    secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(serde_json::json!({"username": ADMIN, "password": admin_rotated}).to_string())
        .send()
        .await
        .expect("rotated");
    let mlflow = DeployedMlflow::start(&state, admin_rotated, strategy_rotated).await;
    assert!(
        refused_with(mlflow.client(ADMIN, admin_password).strategy("EmaGuarded").await, "401"),
        "the old admin password is refused"
    );
    assert!(
        refused_with(
            mlflow.client(STRATEGY, strategy_password).strategy("EmaGuarded").await,
            "401"
        ),
        "the old strategy password is refused"
    );
    assert!(
        mlflow
            .client(ADMIN, admin_rotated)
            .strategy("EmaGuarded")
            .await
            .expect("admin")
            .is_some()
    );
    assert!(
        mlflow
            .client(STRATEGY, strategy_rotated)
            .strategy("EmaGuarded")
            .await
            .expect("strategy")
            .is_some()
    );
    assert!(
        refused_with(
            mlflow
                .client(STRATEGY, strategy_rotated)
                .set_alias("EmaGuarded", "production", 1)
                .await,
            "403"
        ),
        "its grants are the same after a restart"
    );

    let mut options = mlflow.options();
    options.credentials = Credentials::Secret(secret.clone());
    let function = MlflowClient::new(options).expect("client");
    // Read before the rotation reached it: the secret's old value is cached, as a warm function would have it.
    secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(serde_json::json!({"username": ADMIN, "password": admin_password}).to_string())
        .send()
        .await
        .expect("the old value again");
    assert!(
        refused_with(function.strategy("EmaGuarded").await, "401"),
        "refused while the secret still holds the old password"
    );
    secrets
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(serde_json::json!({"username": ADMIN, "password": admin_rotated}).to_string())
        .send()
        .await
        .expect("rotated");
    assert!(
        function
            .strategy("EmaGuarded")
            .await
            .expect("read again after the 401")
            .is_some(),
        "a refused secret is read again"
    );
    secrets
        .delete_secret()
        .secret_id(&secret)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("deleted");
    drop(mlflow);
    std::fs::remove_dir_all(&state).ok();
}
