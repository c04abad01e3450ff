//! Property test: thousands of generated malformed requests (bodies, paths, query strings, headers) through the
//! handlers. None may answer 5xx, none may write or hand anything off, and every error names what was wrong.
//! The dependencies are in-memory fakes that count what reaches them: a malformed request must not.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::{Value, json};
use tradai::backtest::{BacktestJob, RunId, Status};
use tradai::executor::{Handoff, LaunchError, Launcher, StopError, Stopper};
use tradai::idempotency::MemoryKeys;
use tradai::mlflow::{ModelRegistry, RegistryError, StrategyPage, StrategyVersion};
use tradai::objects::{ObjectError, ObjectInfo, ObjectStore, Tail};
use tradai::store::MemoryStore;

use crate::answer::Answer;

/// Cases per property. The four properties send at least 2 000 + 4 000 + 2 000 + 4 000 = 12 000 requests.
const CASES: u32 = 2_000;

/// Counts every call that reaches a dependency; a malformed request must make none.
#[derive(Default, Clone)]
struct Reached(std::sync::Arc<AtomicUsize>);

impl Reached {
    fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Launcher for Reached {
    fn handoff_status(&self) -> Status {
        Status::Queued
    }

    async fn launch(&self, _job: &BacktestJob) -> Result<Handoff, LaunchError> {
        self.hit();
        Ok(Handoff::default())
    }
}

impl Stopper for Reached {
    async fn stop(&self, _record: &tradai::backtest::WorkflowRecord, _reason: &str) -> Result<bool, StopError> {
        self.hit();
        Ok(false)
    }
}

impl tradai::executor::WorkflowProgress for Reached {
    async fn current_step(&self, _execution_arn: &str) -> Result<Option<String>, tradai::executor::InspectError> {
        self.hit();
        Ok(None)
    }
}

impl tradai::objects::DownloadSigner for Reached {
    async fn presign_get(&self, key: &str, _expires: std::time::Duration) -> Result<String, ObjectError> {
        self.hit();
        Ok(key.to_owned())
    }
}

impl tradai::run_logs::RunTasks for Reached {
    async fn tasks(
        &self,
        _record: &tradai::backtest::WorkflowRecord,
    ) -> Result<Vec<tradai::run_logs::RunTask>, tradai::run_logs::SourceError> {
        self.hit();
        Ok(Vec::new())
    }
}

impl tradai::run_logs::LogSource for Reached {
    async fn stream_of(
        &self,
        _task: &tradai::run_logs::RunTask,
    ) -> Result<Option<tradai::run_logs::LogStream>, tradai::run_logs::SourceError> {
        self.hit();
        Ok(None)
    }

    async fn read(
        &self,
        _stream: &tradai::run_logs::LogStream,
        token: Option<&str>,
        _limit: usize,
    ) -> Result<tradai::run_logs::StreamPage, tradai::run_logs::SourceError> {
        self.hit();
        Ok(tradai::run_logs::StreamPage {
            lines: Vec::new(),
            next_token: token.map(str::to_owned),
        })
    }
}

impl ModelRegistry for Reached {
    async fn list_strategies(&self, _max: u32, _token: Option<&str>) -> Result<StrategyPage, RegistryError> {
        self.hit();
        Ok(StrategyPage {
            strategies: Vec::new(),
            next_page_token: None,
        })
    }

    async fn strategy(&self, _name: &str) -> Result<Option<tradai::mlflow::Strategy>, RegistryError> {
        self.hit();
        Ok(None)
    }

    async fn versions(&self, _name: &str) -> Result<Vec<StrategyVersion>, RegistryError> {
        self.hit();
        Ok(Vec::new())
    }

    async fn version(&self, _name: &str, _version: u32) -> Result<Option<StrategyVersion>, RegistryError> {
        self.hit();
        Ok(None)
    }

    async fn resolve_alias(&self, _name: &str, _alias: &str) -> Result<Option<StrategyVersion>, RegistryError> {
        self.hit();
        Ok(None)
    }

    async fn health(&self) -> Result<(), RegistryError> {
        self.hit();
        Ok(())
    }
}

impl ObjectStore for Reached {
    fn bucket(&self) -> &str {
        "reached"
    }

    fn in_bucket(&self, _bucket: &str) -> Self {
        self.hit();
        self.clone()
    }

    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        self.hit();
        Ok(None)
    }

    async fn get_version(&self, _key: &str, _version_id: Option<&str>) -> Result<Option<Vec<u8>>, ObjectError> {
        self.hit();
        Ok(None)
    }

    async fn hash(
        &self,
        _key: &str,
        _version_id: Option<&str>,
    ) -> Result<Option<tradai::objects::HashedObject>, ObjectError> {
        self.hit();
        Ok(None)
    }

    async fn put(&self, _key: &str, _bytes: Vec<u8>) -> Result<(), ObjectError> {
        self.hit();
        Ok(())
    }

    async fn head(&self, _key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        self.hit();
        Ok(None)
    }

    async fn delete(&self, _keys: &[String]) -> Result<(), ObjectError> {
        self.hit();
        Ok(())
    }

    async fn delete_prefix(&self, _prefix: &str) -> Result<usize, ObjectError> {
        self.hit();
        Ok(0)
    }

    async fn tail(&self, _key: &str, _length: u64) -> Result<Option<Tail>, ObjectError> {
        self.hit();
        Ok(None)
    }

    async fn range(&self, _key: &str, _range: std::ops::Range<u64>) -> Result<Vec<u8>, ObjectError> {
        self.hit();
        Ok(Vec::new())
    }

    async fn list(&self, _prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        self.hit();
        Ok(Vec::new())
    }
}

/// An API Gateway event for `route` with the given pieces.
fn event(
    route: &str,
    path: &str,
    path_parameters: Option<Value>,
    query: &[(String, String)],
    headers: Value,
    body: Option<String>,
) -> lambda_http::Request {
    let (method, _) = route.split_once(' ').expect("METHOD /path");
    let raw_query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    let mut event = json!({
        "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": raw_query.join("&"),
        "headers": headers,
        "requestContext": {"accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.example",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10",
                     "userAgent": "proptest"},
            "requestId": "PROPTEST", "routeKey": route, "stage": "$default", "time": "24/Nov/2026:06:00:00 +0000",
            "timeEpoch": 1795500000000_u64},
        "isBase64Encoded": false,
    });
    if !query.is_empty() {
        let mut map = serde_json::Map::new();
        for (k, v) in query {
            map.insert(k.clone(), Value::from(v.clone()));
        }
        event["queryStringParameters"] = Value::Object(map);
    }
    if let Some(parameters) = path_parameters {
        event["pathParameters"] = parameters;
    }
    if let Some(body) = body {
        event["body"] = Value::from(body);
    }
    tradai_tests::events::request_from_json(&event.to_string())
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every error answer: below 500, a code and message, and for a 400 a field named in both details and message.
fn check_error(answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(answer.status < 500, "{} {}", answer.status, answer.json);
    prop_assert!(
        answer.status >= 400,
        "a malformed request was accepted: {} {}",
        answer.status,
        answer.json
    );
    let error = &answer.json["error"];
    prop_assert!(error["code"].as_str().is_some_and(|c| !c.is_empty()), "{}", answer.json);
    let message = error["message"].as_str().unwrap_or_default();
    prop_assert!(!message.is_empty(), "{}", answer.json);
    if answer.status == 400 || answer.status == 413 || answer.status == 415 {
        let field = error["details"][0]["field"].as_str().unwrap_or_default();
        prop_assert!(!field.is_empty(), "no field named: {}", answer.json);
        prop_assert!(
            message.contains(field) || message.contains(&field.to_lowercase()),
            "{}",
            answer.json
        );
    }
    Ok(())
}

fn valid_body() -> Value {
    json!({"strategy_name": "EmaCross", "strategy_version": 3, "config": {"timeframe": "5m",
        "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-03-01"}})
}

/// A body that is certainly not a valid backtest request: one of several kinds of damage to a valid one.
fn malformed_submit_body() -> impl Strategy<Value = String> {
    let garbage =
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let unknown_field = "x_[a-z]{1,10}".prop_map(|name| {
        let mut body = valid_body();
        body[name] = json!(1);
        body.to_string()
    });
    let bad_timeframe = "[a-z]{3,8}".prop_map(|tf| {
        let mut body = valid_body();
        body["config"]["timeframe"] = json!(tf);
        body.to_string()
    });
    // Digits and a slash alone make a valid pair (`1000/2`): those are not malformed.
    let bad_symbol = "[a-z0-9 /:-]{0,12}"
        .prop_filter("a valid pair", |symbol| {
            tradai::backtest::Symbol::try_from(symbol.clone()).is_err()
        })
        .prop_map(|symbol| {
            let mut body = valid_body();
            body["config"]["symbols"] = json!([symbol]);
            body.to_string()
        });
    let bad_date = "[0-9]{4}-1[3-9]-[0-9]{2}|[0-9]{1,3}|2999-01-01".prop_map(|date| {
        let mut body = valid_body();
        body["config"]["end_date"] = json!(date);
        body.to_string()
    });
    let missing = prop::sample::select(vec!["strategy_name", "strategy_version", "config"]).prop_map(|field| {
        let mut body = valid_body();
        body.as_object_mut().expect("object").remove(field);
        body.to_string()
    });
    let wrong_type = (
        prop::sample::select(vec!["strategy_name", "strategy_version", "config"]),
        any::<bool>(),
    )
        .prop_map(|(field, flag)| {
            let mut body = valid_body();
            body[field] = json!([flag]);
            body.to_string()
        });
    let bad_name = "[0-9 !@#$%]{1,10}".prop_map(|name| {
        let mut body = valid_body();
        body["strategy_name"] = json!(name);
        body.to_string()
    });
    prop_oneof![
        garbage,
        unknown_field,
        bad_timeframe,
        bad_symbol,
        bad_date,
        missing,
        wrong_type,
        bad_name
    ]
}

fn headers() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop::sample::select(vec![
            "application/json",
            "text/plain",
            "application/json; charset=utf-8",
        ])),
        prop::option::of("[ -~]{0,40}"),
    )
        .prop_map(|(content_type, key)| {
            let mut headers = json!({"host": "abc123.example"});
            if let Some(content_type) = content_type {
                headers["content-type"] = json!(content_type);
            }
            if let Some(key) = key {
                headers["idempotency-key"] = json!(key);
            }
            headers
        })
}

/// A path parameter that is not a run id: anything printable that does not parse as a UUID v4.
fn not_a_run_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,40}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-35-9a-f][0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"
    ]
    .prop_filter("a valid run id", |text| text.parse::<RunId>().is_err())
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("[a-z_]{1,10}", "[ -~]{0,20}"), 0..4)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn malformed_submissions_are_refused_without_a_write() {
    let runtime = runtime();
    let deps = submit_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: MemoryStore::new(),
        launcher: Reached::default(),
        keys: MemoryKeys::default(),
    };
    proptest!(config(), |(body in malformed_submit_body(), headers in headers(), query in query())| {
        let request = event("POST /backtest", "/backtest", None, &query, headers, Some(body.clone()));
        let answer = Answer::read(runtime.block_on(submit_backtest::handle(&deps, request)).expect("answers"));
        check_error(&answer)?;
        prop_assert!(deps.store.is_empty(), "a malformed request wrote a job: {}", body);
        prop_assert_eq!(deps.launcher.count(), 0);
    });
}

#[test]
fn malformed_run_ids_are_refused_by_every_job_route() {
    let runtime = runtime();
    let status = get_backtest_status::Deps {
        store: MemoryStore::new(),
        mlflow_ui: None,
        progress: Reached::default(),
        files: Reached::default(),
    };
    let logs = get_backtest_logs::Deps {
        store: MemoryStore::new(),
        tasks: Reached::default(),
        logs: Reached::default(),
    };
    let cancel = cancel_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: MemoryStore::new(),
        stopper: Reached::default(),
    };
    proptest!(config(), |(run_id in not_a_run_id(), query in query())| {
        let parameters = Some(json!({"run_id": run_id}));
        let path = format!("/backtest/{}/status", urlencode(&run_id));
        let request = event("GET /backtest/{run_id}/status", &path, parameters.clone(), &query, json!({}), None);
        check_error(&Answer::read(runtime.block_on(get_backtest_status::handle(&status, request)).expect("answers")))?;
        let request = event("GET /backtest/{run_id}/logs", &path, parameters.clone(), &query, json!({}), None);
        check_error(&Answer::read(runtime.block_on(get_backtest_logs::handle(&logs, request)).expect("answers")))?;
        let request = event("POST /backtest/{run_id}/cancel", &path, parameters, &query, json!({}), None);
        check_error(&Answer::read(runtime.block_on(cancel_backtest::handle(&cancel, request)).expect("answers")))?;
        prop_assert!(status.store.is_empty() && cancel.store.is_empty() && logs.store.is_empty());
        prop_assert_eq!(cancel.stopper.count(), 0);
        prop_assert_eq!(status.progress.count() + status.files.count() + logs.tasks.count() + logs.logs.count(), 0);
    });
}

#[test]
fn malformed_listings_are_refused() {
    let runtime = runtime();
    let backtests = list_backtests::Deps {
        store: MemoryStore::new(),
        mlflow_ui: None,
    };
    let strategies = list_strategies::Deps {
        registry: Reached::default(),
    };
    let datasets = list_datasets::Deps {
        objects: Reached::default(),
        location: tradai::market_data::DataLocation::parse("s3://tradai-market-data/ohlcv").expect("valid"),
    };
    let bad_query = prop_oneof![
        ("x_[a-z]{1,8}", "[ -~]{0,10}").prop_map(|(k, v)| vec![(k, v)]),
        "[A-Za-z]{1,12}"
            .prop_filter("a status", |s| s.parse::<Status>().is_err())
            .prop_map(|s| vec![("status".to_owned(), s)]),
        "-[0-9]{1,5}|0|[1-9][0-9]{3,6}|[a-z]{1,5}".prop_map(|l| vec![("limit".to_owned(), l)]),
        "[A-Za-z0-9_-]{1,40}".prop_map(|c| vec![("cursor".to_owned(), c)]),
    ];
    proptest!(config(), |(query in bad_query)| {
        let request = event("GET /backtests", "/backtests", None, &query, json!({}), None);
        check_error(&Answer::read(runtime.block_on(list_backtests::handle(&backtests, request)).expect("answers")))?;
        // Strategies and datasets know fewer parameters: whatever is unknown to them is refused too.
        if query.iter().any(|(k, _)| k != "limit" && k != "cursor") || query.iter().any(|(k, v)| k == "limit" && v.parse::<u32>().map_or(true, |l| !(1..=100).contains(&l))) {
            let request = event("GET /strategies", "/strategies", None, &query, json!({}), None);
            check_error(&Answer::read(runtime.block_on(list_strategies::handle(&strategies, request)).expect("answers")))?;
        }
        if query.iter().any(|(k, _)| k != "exchange") {
            let request = event("GET /data/datasets", "/data/datasets", None, &query, json!({}), None);
            check_error(&Answer::read(runtime.block_on(list_datasets::handle(&datasets, request)).expect("answers")))?;
        }
        prop_assert!(backtests.store.is_empty());
        prop_assert_eq!(strategies.registry.count() + datasets.objects.count(), 0);
    });
}

#[test]
fn malformed_strategy_names_and_freshness_questions_are_refused() {
    let runtime = runtime();
    let strategy = get_strategy::Deps {
        registry: Reached::default(),
    };
    let freshness = data_freshness::Deps {
        objects: Reached::default(),
        location: tradai::market_data::DataLocation::parse("s3://tradai-market-data/ohlcv").expect("valid"),
    };
    let bad_name = "[0-9 !@#$%^&*()/]{1,20}|[A-Za-z]{129,140}";
    let bad_freshness = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "[a-z]{3,8}".prop_map(|tf| json!({"symbols": ["BTC/USDT"], "timeframe": tf}).to_string()),
        "[a-z0-9 ]{0,10}".prop_map(|s| json!({"symbols": [s], "timeframe": "5m"}).to_string()),
        (-1000.0f64..=0.0)
            .prop_map(|age| json!({"symbols": ["BTC/USDT"], "timeframe": "5m", "max_age_hours": age}).to_string()),
        "x_[a-z]{1,8}".prop_map(|k| json!({"symbols": ["BTC/USDT"], "timeframe": "5m", k: true}).to_string()),
    ];
    proptest!(config(), |(name in bad_name, body in bad_freshness, headers in headers())| {
        let path = format!("/strategies/{}", urlencode(&name));
        let request = event("GET /strategies/{name}", &path, Some(json!({"name": name})), &[], json!({}), None);
        check_error(&Answer::read(runtime.block_on(get_strategy::handle(&strategy, request)).expect("answers")))?;
        let request = event("POST /data/freshness", "/data/freshness", None, &[], headers, Some(body));
        check_error(&Answer::read(runtime.block_on(data_freshness::handle(&freshness, request)).expect("answers")))?;
        prop_assert_eq!(strategy.registry.count() + freshness.objects.count(), 0);
    });
}
