//! Every file in `events/` goes through its handler against the stand-in; the response and the stored item are
//! checked. Invalid events get a 400 naming the field and write nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use tradai::backtest::{BacktestRequest, RunId, Status, WorkflowRecord};
use tradai::executor::SqsQueue;
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_tests::events;
use tradai_tests::stack::Stack;

use crate::answer::Answer;

/// What each sample event must produce: a status, and for a 400 the field it names.
enum Expect {
    Accepted,
    Ok,
    NotFound,
    Invalid(&'static str),
}

fn expectations(function: &str) -> BTreeMap<&'static str, Expect> {
    use Expect::*;
    let list: Vec<(&'static str, Expect)> = match function {
        "submit-backtest" => vec![
            ("valid.json", Accepted),
            ("valid-alias-with-overrides.json", Accepted),
            ("valid-with-idempotency-key.json", Accepted),
            ("invalid-idempotency-key.json", Invalid("Idempotency-Key")),
            ("invalid-end-before-start.json", Invalid("config.end_date")),
            ("invalid-future-end-date.json", Invalid("config.end_date")),
            ("invalid-malformed-symbol.json", Invalid("config.symbols[1]")),
            ("invalid-missing-strategy-name.json", Invalid("strategy_name")),
            ("invalid-not-json.json", Invalid("body")),
            ("invalid-unknown-field.json", Invalid("priority")),
            ("invalid-unknown-timeframe.json", Invalid("config.timeframe")),
        ],
        "get-backtest-status" => vec![
            ("valid.json", Ok),
            ("unknown-run-id.json", NotFound),
            ("invalid-malformed-run-id.json", Invalid("run_id")),
            ("invalid-not-version-4.json", Invalid("run_id")),
        ],
        "health" => vec![
            ("valid.json", Ok),
            ("invalid-body.json", Invalid("body")),
            ("invalid-query-parameter.json", Invalid("verbose")),
        ],
        "ready" => vec![
            ("valid.json", Ok),
            ("invalid-body.json", Invalid("body")),
            ("invalid-query-parameter.json", Invalid("checks")),
        ],
        "list-backtests" => vec![
            ("valid.json", Ok),
            ("valid-by-status.json", Ok),
            ("invalid-cursor.json", Invalid("cursor")),
            ("invalid-limit-too-large.json", Invalid("limit")),
            ("invalid-unknown-parameter.json", Invalid("page")),
            ("invalid-unknown-status.json", Invalid("status")),
        ],
        "list-strategies" => vec![
            ("valid.json", Ok),
            ("invalid-limit-zero.json", Invalid("limit")),
            ("invalid-unknown-parameter.json", Invalid("sort")),
        ],
        "get-strategy" => vec![
            ("valid.json", Ok),
            ("unknown-strategy.json", NotFound),
            ("invalid-malformed-name.json", Invalid("name")),
            ("invalid-too-long-name.json", Invalid("name")),
        ],
        "data-freshness" => vec![
            ("valid.json", Ok),
            ("invalid-empty-symbols.json", Invalid("symbols")),
            ("invalid-negative-max-age.json", Invalid("max_age_hours")),
            ("invalid-unknown-field.json", Invalid("pairs")),
            ("invalid-unknown-timeframe.json", Invalid("timeframe")),
        ],
        "list-datasets" => vec![
            ("valid.json", Ok),
            ("valid-one-exchange.json", Ok),
            ("invalid-repeated-parameter.json", Invalid("exchange")),
            ("invalid-unknown-parameter.json", Invalid("symbol")),
        ],
        "validate-strategy" => vec![
            ("valid.json", Ok),
            ("archived-version.json", NotFound),
            ("missing-config.json", NotFound),
            ("missing-image.json", NotFound),
            ("unknown-alias.json", NotFound),
            ("invalid-missing-strategy-name.json", Invalid("strategy_name")),
            ("invalid-missing-strategy-version.json", Invalid("strategy_version")),
        ],
        "check-data-freshness" => vec![
            ("valid.json", Ok),
            ("valid-allow-stale.json", Ok),
            ("stale-data.json", NotFound),
            ("invalid-missing-config.json", Invalid("config")),
            ("invalid-timeframe.json", Invalid("timeframe")),
        ],
        "notify-completion" => vec![
            ("valid-completed.json", Ok),
            ("valid-failed.json", Ok),
            ("valid-stopped-execution.json", Ok),
            ("invalid-malformed-run-id.json", Invalid("run_id")),
            ("invalid-missing-run-id.json", Invalid("run_id")),
        ],
        "cleanup-resources" => vec![
            ("valid.json", Ok),
            ("invalid-malformed-run-id.json", Invalid("run_id")),
            ("invalid-missing-run-id.json", Invalid("run_id")),
        ],
        "prepare-config" => vec![
            ("valid.json", Ok),
            ("valid-with-overrides.json", Ok),
            ("missing-config.json", NotFound),
            ("invalid-missing-strategy.json", Invalid("strategy")),
            ("invalid-malformed-run-id.json", Invalid("run")),
        ],
        "transform-results" => vec![
            ("valid.json", Ok),
            ("missing-result.json", NotFound),
            ("invalid-missing-run-id.json", Invalid("run_id")),
        ],
        "mark-failed" => vec![
            ("valid.json", Ok),
            ("valid-task-failed.json", Ok),
            ("cancelled-job.json", Ok),
            ("unknown-run-id.json", NotFound),
            ("invalid-missing-run-id.json", Invalid("run_id")),
        ],
        "cancel-backtest" => vec![
            ("valid.json", Ok),
            ("unknown-run-id.json", NotFound),
            ("invalid-malformed-run-id.json", Invalid("run_id")),
            ("invalid-not-version-4.json", Invalid("run_id")),
        ],
        other => panic!("events/{other}/ has no expectations here: add them"),
    };
    list.into_iter().collect()
}

fn files_with_expectations(function: &str) -> Vec<(PathBuf, Expect)> {
    let mut expected = expectations(function);
    let mut cases = Vec::new();
    for path in events::files(function) {
        let name = events::name(&path);
        let expect = expected
            .remove(name.as_str())
            .unwrap_or_else(|| panic!("events/{function}/{name} is untested"));
        cases.push((path, expect));
    }
    assert!(
        expected.is_empty(),
        "expected event files missing in events/{function}/: {:?}",
        expected.keys()
    );
    cases
}

fn event_json(path: &PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("event is JSON")
}

#[tokio::test]
async fn every_folder_of_events_is_covered() {
    for function in events::functions() {
        assert!(!files_with_expectations(&function).is_empty());
    }
}

#[tokio::test]
async fn submit_backtest_events() {
    for (path, expect) in files_with_expectations("submit-backtest") {
        // A fresh stack per event, so "writes nothing" is checked on an empty table and queue.
        let stack = Stack::fresh().await;
        let deps = submit_backtest::Deps {
            store: stack.store(),
            launcher: SqsQueue::new(stack.sqs.clone(), &stack.queue_url),
            keys: stack.keys(),
        };
        let event = event_json(&path);
        let response = submit_backtest::handle(&deps, events::request(&path))
            .await
            .expect("handler answers");
        let answer = Answer::read(response);
        answer.assert_well_formed(&event);
        let items = stack.items().await;
        let messages = stack.messages(&stack.queue_url).await;
        match expect {
            Expect::Accepted => {
                assert_eq!(answer.status, 202, "{}: {}", path.display(), answer.json);
                let run_id = answer.json["run_id"].as_str().expect("run_id");
                run_id.parse::<RunId>().expect("run_id is a UUID v4");
                assert_eq!(answer.json["status"], "QUEUED");
                assert_eq!(answer.json["status_url"], format!("/backtest/{run_id}/status"));

                let body: Value = serde_json::from_str(event["body"].as_str().expect("body")).expect("JSON body");
                assert_eq!(items.len(), 1);
                let item = &items[0];
                assert_eq!(item["run_id"], AttributeValue::S(run_id.to_owned()));
                assert_eq!(item["status"], AttributeValue::S("QUEUED".into()));
                assert_eq!(item["workflow_type"], AttributeValue::S("backtest".into()));
                assert_eq!(
                    item["strategy_name"],
                    AttributeValue::S(body["strategy_name"].as_str().expect("name").into())
                );
                assert_eq!(item["created_at"], item["updated_at"]);
                let record = stack
                    .store()
                    .get(run_id.parse().expect("id"))
                    .await
                    .expect("get")
                    .expect("stored");
                let sent =
                    BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid");
                assert_eq!(record.config, sent.config);
                assert_eq!(record.experiment_name, sent.experiment_name);

                assert_eq!(messages.len(), 1, "one message per accepted job");
                let message = &messages[0];
                let job: Value = serde_json::from_str(message.body().expect("body")).expect("JSON message");
                assert_eq!(job["run_id"], run_id);
                assert_eq!(job["config"]["symbols"], body["config"]["symbols"]);
                let attributes = message.attributes().expect("system attributes");
                let attribute = |name: &str| {
                    attributes
                        .get(&aws_sdk_sqs::types::MessageSystemAttributeName::from(name))
                        .cloned()
                };
                assert_eq!(attribute("MessageGroupId").as_deref(), body["strategy_name"].as_str());
                assert_eq!(attribute("MessageDeduplicationId").as_deref(), Some(run_id));
            }
            Expect::Invalid(field) => {
                answer.assert_names_field(field);
                assert!(items.is_empty(), "{} wrote {} items", path.display(), items.len());
                assert!(
                    messages.is_empty(),
                    "{} queued {} messages",
                    path.display(),
                    messages.len()
                );
            }
            Expect::Ok | Expect::NotFound => panic!("no such expectation for submit-backtest"),
        }
    }
}

#[tokio::test]
async fn get_backtest_status_events() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    // The job the valid event asks about, completed with a result and its MLflow run.
    let valid = event_json(
        &events::files("get-backtest-status")
            .into_iter()
            .find(|p| events::name(p) == "valid.json")
            .expect("valid.json"),
    );
    let run_id: RunId = valid["pathParameters"]["run_id"]
        .as_str()
        .expect("run id")
        .parse()
        .expect("valid id");
    let body =
        std::fs::read_to_string(tradai_tests::project_root().join("events/submit-backtest/valid.json")).expect("event");
    let submitted: Value = serde_json::from_str(&body).expect("event JSON");
    let request = BacktestRequest::from_json(
        submitted["body"].as_str().expect("body").as_bytes(),
        Timestamp::now().date(),
    )
    .expect("valid");
    let mut record = WorkflowRecord::new(run_id, request, Status::Completed, Timestamp::now());
    record.result = Some(serde_json::json!({"total_trades": 42, "profit_total_pct": 3.5}));
    record.mlflow_experiment_id = Some("12".into());
    record.mlflow_run_id = Some("f00dfeed".into());
    store.create(&record).await.expect("created");
    let before = stack.items().await;

    let deps = get_backtest_status::Deps {
        store,
        mlflow_ui: Some("http://mlflow.tradai.local:5000".into()),
    };
    for (path, expect) in files_with_expectations("get-backtest-status") {
        let event = event_json(&path);
        let answer = Answer::read(
            get_backtest_status::handle(&deps, events::request(&path))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200, "{}", answer.json);
                assert_eq!(answer.json["run_id"], run_id.to_string());
                assert_eq!(answer.json["status"], "COMPLETED");
                assert_eq!(answer.json["result"]["total_trades"], 42);
                assert_eq!(
                    answer.json["mlflow_url"],
                    "http://mlflow.tradai.local:5000/#/experiments/12/runs/f00dfeed"
                );
                assert_eq!(answer.json["strategy_version"], 3);
                assert!(answer.json.get("error").is_none());
            }
            Expect::NotFound => {
                assert_eq!(answer.status, 404, "{}", answer.json);
                assert_eq!(answer.json["error"]["code"], "NotFound");
            }
            Expect::Invalid(field) => answer.assert_names_field(field),
            Expect::Accepted => panic!("no such expectation for get-backtest-status"),
        }
    }
    assert_eq!(stack.items().await, before, "reading a status writes nothing");
}

#[tokio::test]
async fn health_events() {
    for (path, expect) in files_with_expectations("health") {
        let event = event_json(&path);
        let answer = Answer::read(health::handle(events::request(&path)).await.expect("answers"));
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200);
                assert_eq!(answer.json["status"], "healthy");
                assert_eq!(answer.json["service"], health::SERVICE);
            }
            Expect::Invalid(field) => answer.assert_names_field(field),
            Expect::Accepted | Expect::NotFound => panic!("no such expectation for health"),
        }
    }
}

#[tokio::test]
async fn ready_events() {
    let stack = Stack::fresh().await;
    let deps = ready::Deps {
        mlflow: registry(),
        table: stack.store(),
        buckets: vec![("market-data".to_owned(), stack.market_objects())],
    };
    for (path, expect) in files_with_expectations("ready") {
        let event = event_json(&path);
        let answer = Answer::read(ready::handle(&deps, events::request(&path)).await.expect("answers"));
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200, "{}", answer.json);
                assert_eq!(answer.json["status"], "ready");
                for name in ["mlflow", "dynamodb", "s3:market-data"] {
                    assert_eq!(answer.json["checks"][name]["ok"], true, "{name}: {}", answer.json);
                }
            }
            Expect::Invalid(field) => answer.assert_names_field(field),
            Expect::Accepted | Expect::NotFound => panic!("no such expectation for ready"),
        }
    }
}

#[tokio::test]
async fn ready_names_what_is_down() {
    let stack = Stack::fresh().await;
    let port = tradai_tests::free_port();
    let deps = ready::Deps {
        mlflow: tradai::mlflow::MlflowClient::new(tradai::mlflow::MlflowOptions::new(format!(
            "http://127.0.0.1:{port}"
        )))
        .expect("client"),
        table: tradai::store::DynamoDbStore::new(stack.dynamodb.clone(), "no-such-table"),
        buckets: vec![
            ("market-data".to_owned(), stack.market_objects()),
            (
                "results".to_owned(),
                tradai::market_data::S3Objects::new(stack.s3.clone(), "no-such-bucket"),
            ),
        ],
    };
    let path = tradai_tests::project_root().join("events/ready/valid.json");
    let answer = Answer::read(ready::handle(&deps, events::request(&path)).await.expect("answers"));
    assert_eq!(answer.status, 503, "{}", answer.json);
    assert_eq!(answer.json["status"], "not_ready");
    assert_eq!(answer.json["checks"]["s3:market-data"]["ok"], true);
    for name in ["mlflow", "dynamodb", "s3:results"] {
        assert_eq!(answer.json["checks"][name]["ok"], false, "{name}");
        assert!(
            answer.json["checks"][name]["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{name}"
        );
    }
}

fn sample_request() -> BacktestRequest {
    let text =
        std::fs::read_to_string(tradai_tests::project_root().join("events/submit-backtest/valid.json")).expect("event");
    let event: Value = serde_json::from_str(&text).expect("event JSON");
    let body = event["body"].as_str().expect("body");
    BacktestRequest::from_json(body.as_bytes(), Timestamp::now().date()).expect("valid")
}

#[tokio::test]
async fn list_backtests_events() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    let now = Timestamp::now();
    let statuses = [(Status::Queued, 5), (Status::Running, 3), (Status::Completed, 2)];
    let mut age = 0;
    for (status, count) in statuses {
        for _ in 0..count {
            age += 1;
            let created = now.minus(chrono::TimeDelta::minutes(age));
            store
                .create(&WorkflowRecord::new(RunId::new(), sample_request(), status, created))
                .await
                .expect("created");
        }
    }
    let before = stack.items().await;
    let deps = list_backtests::Deps { store, mlflow_ui: None };
    for (path, expect) in files_with_expectations("list-backtests") {
        let event = event_json(&path);
        let answer = Answer::read(
            list_backtests::handle(&deps, events::request(&path))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200, "{}", answer.json);
                let listed = answer.json["backtests"].as_array().expect("backtests");
                let created: Vec<&str> = listed
                    .iter()
                    .map(|b| b["created_at"].as_str().expect("created_at"))
                    .collect();
                assert!(created.windows(2).all(|pair| pair[0] > pair[1]), "newest first");
                match event["queryStringParameters"]["status"].as_str() {
                    None => {
                        assert_eq!(listed.len(), 10);
                        assert_eq!(answer.json["next_cursor"], Value::Null);
                    }
                    Some(status) => {
                        assert_eq!(listed.len(), 2);
                        assert!(listed.iter().all(|b| b["status"] == status));
                        // Following next_cursor with the same query reaches every job of that status once.
                        let mut seen: Vec<Value> = listed.iter().map(|b| b["run_id"].clone()).collect();
                        let mut cursor = answer.json["next_cursor"].as_str().expect("a next page").to_owned();
                        for _ in 0..10 {
                            let mut next = event.clone();
                            next["queryStringParameters"]["cursor"] = Value::from(cursor.clone());
                            let raw = format!("{}&cursor={cursor}", event["rawQueryString"].as_str().expect("query"));
                            next["rawQueryString"] = Value::from(raw);
                            let request = events::request_from_json(&next.to_string());
                            let page = Answer::read(list_backtests::handle(&deps, request).await.expect("answers"));
                            assert_eq!(page.status, 200, "{}", page.json);
                            seen.extend(
                                page.json["backtests"]
                                    .as_array()
                                    .expect("list")
                                    .iter()
                                    .map(|b| b["run_id"].clone()),
                            );
                            match page.json["next_cursor"].as_str() {
                                Some(text) => cursor = text.to_owned(),
                                None => break,
                            }
                        }
                        assert_eq!(seen.len(), 5);
                        assert_eq!(seen.iter().collect::<std::collections::HashSet<_>>().len(), 5);
                    }
                }
            }
            Expect::Invalid(field) => answer.assert_names_field(field),
            Expect::Accepted | Expect::NotFound => panic!("no such expectation for list-backtests"),
        }
    }
    assert_eq!(stack.items().await, before, "listing writes nothing");
}

#[tokio::test]
async fn cancel_backtest_events() {
    let stack = Stack::fresh().await;
    let store = stack.store();
    let valid = event_json(&tradai_tests::project_root().join("events/cancel-backtest/valid.json"));
    let run_id: RunId = valid["pathParameters"]["run_id"]
        .as_str()
        .expect("run id")
        .parse()
        .expect("valid");
    // The job the valid event cancels runs in a real (emulated) execution and task, which must be stopped.
    let mut record = WorkflowRecord::new(run_id, sample_request(), Status::Running, Timestamp::now());
    record.execution_arn = Some(stack.running_execution().await);
    record.task_arn = Some(stack.running_task().await);
    store.create(&record).await.expect("created");

    let stopper = tradai::executor::AwsStopper::new(
        aws_sdk_sfn::Client::new(&stack.sdk),
        aws_sdk_ecs::Client::new(&stack.sdk),
        None,
    );
    let deps = cancel_backtest::Deps {
        store: stack.store(),
        stopper,
    };
    for (path, expect) in files_with_expectations("cancel-backtest") {
        let event = event_json(&path);
        let before = stack.items().await;
        let answer = Answer::read(
            cancel_backtest::handle(&deps, events::request(&path))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200, "{}", answer.json);
                assert_eq!(answer.json["status"], "CANCELLED");
                assert_eq!(answer.json["previous_status"], "RUNNING");
                assert_eq!(answer.json["stop_requested"], true);
                let stored = stack.store().get(run_id).await.expect("read").expect("stored");
                assert_eq!(stored.status, Status::Cancelled);
                let execution = aws_sdk_sfn::Client::new(&stack.sdk)
                    .describe_execution()
                    .execution_arn(record.execution_arn.clone().expect("arn"))
                    .send()
                    .await
                    .expect("execution");
                assert_eq!(execution.status, aws_sdk_sfn::types::ExecutionStatus::Aborted);
                let task_arn = record.task_arn.clone().expect("arn");
                let cluster = task_arn.split('/').nth(1).expect("cluster in the ARN").to_owned();
                let tasks = aws_sdk_ecs::Client::new(&stack.sdk)
                    .describe_tasks()
                    .cluster(cluster)
                    .tasks(task_arn)
                    .send()
                    .await
                    .expect("tasks");
                assert_eq!(tasks.tasks()[0].desired_status(), Some("STOPPED"));

                // Once finished, a job cannot be cancelled: 409.
                let mut finished =
                    WorkflowRecord::new(RunId::new(), sample_request(), Status::Completed, Timestamp::now());
                finished.result = Some(serde_json::json!({"total_trades": 1}));
                stack.store().create(&finished).await.expect("created");
                let text = event
                    .to_string()
                    .replace(&run_id.to_string(), &finished.run_id.to_string());
                let conflict = Answer::read(
                    cancel_backtest::handle(&deps, events::request_from_json(&text))
                        .await
                        .expect("answers"),
                );
                assert_eq!(conflict.status, 409, "{}", conflict.json);
                assert_eq!(conflict.json["error"]["code"], "Conflict");
            }
            Expect::NotFound => {
                assert_eq!(answer.status, 404, "{}", answer.json);
                assert_eq!(stack.items().await, before, "nothing written");
            }
            Expect::Invalid(field) => {
                answer.assert_names_field(field);
                assert_eq!(stack.items().await, before, "nothing written");
            }
            Expect::Accepted => panic!("no such expectation for cancel-backtest"),
        }
    }
}

fn registry() -> tradai::mlflow::MlflowClient {
    tradai::mlflow::MlflowClient::new(tradai::mlflow::MlflowOptions::new(tradai_tests::mlflow::endpoint()))
        .expect("client")
}

/// The strategy the sample events name, registered with two versions and a production alias.
async fn register_ema_cross() -> Vec<u32> {
    tradai_tests::mlflow::register(
        "EmaCross",
        &[
            &[
                (
                    "ecr_url",
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:1",
                ),
                ("config_path", "s3://tradai-configs/EmaCross/base.yaml"),
                ("timeframe", "5m"),
            ],
            &[
                (
                    "ecr_url",
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:2",
                ),
                ("config_path", "s3://tradai-configs/EmaCross/base.yaml"),
                ("timeframe", "5m"),
            ],
        ],
        &[],
    )
    .await
}

#[tokio::test]
async fn list_strategies_events() {
    register_ema_cross().await;
    let deps = list_strategies::Deps { registry: registry() };
    for (path, expect) in files_with_expectations("list-strategies") {
        let event = event_json(&path);
        let answer = Answer::read(
            list_strategies::handle(&deps, events::request(&path))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200, "{}", answer.json);
                let strategies = answer.json["strategies"].as_array().expect("strategies");
                assert!(!strategies.is_empty() && strategies.len() <= 10);
                let names: Vec<&str> = strategies.iter().filter_map(|s| s["name"].as_str()).collect();
                assert!(names.windows(2).all(|pair| pair[0] <= pair[1]), "by name: {names:?}");
            }
            Expect::Invalid(field) => answer.assert_names_field(field),
            Expect::Accepted | Expect::NotFound => {
                panic!("no such expectation for list-strategies")
            }
        }
    }
}

#[tokio::test]
async fn get_strategy_events() {
    let numbers = register_ema_cross().await;
    let production = *numbers.last().expect("a version");
    tradai_tests::mlflow::register("EmaCross", &[], &[("production", production)]).await;
    let deps = get_strategy::Deps { registry: registry() };
    for (path, expect) in files_with_expectations("get-strategy") {
        let event = event_json(&path);
        let answer = Answer::read(
            get_strategy::handle(&deps, events::request(&path))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200, "{}", answer.json);
                assert_eq!(answer.json["name"], "EmaCross");
                assert_eq!(answer.json["aliases"]["production"], production);
                // Other tests register EmaCross versions too: find ours rather than assume it is the newest.
                let versions = answer.json["versions"].as_array().expect("versions");
                let numbers: Vec<u64> = versions.iter().filter_map(|v| v["version"].as_u64()).collect();
                assert!(
                    numbers.windows(2).all(|pair| pair[0] > pair[1]),
                    "newest first: {numbers:?}"
                );
                let ours = versions
                    .iter()
                    .find(|v| v["version"] == production)
                    .expect("the production version");
                assert_eq!(ours["aliases"], serde_json::json!(["production"]));
                assert!(ours["tags"]["ecr_url"].as_str().is_some_and(|url| url.ends_with(":2")));
            }
            Expect::NotFound => assert_eq!(answer.status, 404, "{}", answer.json),
            Expect::Invalid(field) => answer.assert_names_field(field),
            Expect::Accepted => panic!("no such expectation for get-strategy"),
        }
    }
}

#[tokio::test]
async fn strategy_routes_answer_503_quickly_when_mlflow_is_down() {
    let port = tradai_tests::free_port();
    let mut options = tradai::mlflow::MlflowOptions::new(format!("http://127.0.0.1:{port}"));
    options.connect_timeout = std::time::Duration::from_millis(300);
    let deps = get_strategy::Deps {
        registry: tradai::mlflow::MlflowClient::new(options).expect("client"),
    };
    let path = tradai_tests::project_root().join("events/get-strategy/valid.json");
    let started = std::time::Instant::now();
    let answer = Answer::read(
        get_strategy::handle(&deps, events::request(&path))
            .await
            .expect("answers"),
    );
    assert_eq!(answer.status, 503, "{}", answer.json);
    assert!(
        answer.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("MLflow"))
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "no hang: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn data_freshness_events() {
    use tradai::backtest::Timeframe;
    use tradai_tests::candles::CandleFile;
    let stack = Stack::fresh().await;
    let now = Timestamp::now();
    for (pair, age) in [("BTC/USDT", 1), ("ETH/USDT", 48)] {
        let symbol = tradai::backtest::Symbol::try_from(pair.to_owned()).expect("valid");
        let key = tradai::market_data::dataset_key(&stack.market_data, "binance", &symbol, Timeframe::M5);
        let file = CandleFile::ending_at(
            now.minus(chrono::TimeDelta::hours(age)),
            chrono::TimeDelta::minutes(5),
            500,
        );
        stack.put_market_data(&key, file.to_parquet()).await;
    }
    let deps = data_freshness::Deps {
        objects: stack.market_objects(),
        location: stack.market_data.clone(),
    };
    for (path, expect) in files_with_expectations("data-freshness") {
        let event = event_json(&path);
        let answer = Answer::read(
            data_freshness::handle(&deps, events::request(&path))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200, "{}", answer.json);
                assert_eq!(answer.json["all_fresh"], false);
                assert_eq!(answer.json["symbols"]["BTC/USDT"]["is_fresh"], true);
                assert_eq!(answer.json["symbols"]["BTC/USDT"]["row_count"], 500);
                assert_eq!(answer.json["symbols"]["ETH/USDT"]["is_fresh"], false);
                assert_eq!(answer.json["symbols"]["ETH/USDT"]["age_hours"], 48.0);
                assert_eq!(answer.json["symbols"]["SOL/USDT"]["is_fresh"], false);
                assert!(
                    answer.json["symbols"]["SOL/USDT"]["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("no 5m data"))
                );
            }
            Expect::Invalid(field) => answer.assert_names_field(field),
            Expect::Accepted | Expect::NotFound => panic!("no such expectation for data-freshness"),
        }
    }
}

#[tokio::test]
async fn list_datasets_events() {
    let stack = Stack::fresh().await;
    let small = tradai_tests::candles::CandleFile::ending_at(Timestamp::now(), chrono::TimeDelta::hours(1), 5);
    for key in ["ohlcv/binance/BTC_USDT-1h.parquet", "ohlcv/kraken/ETH_EUR-1h.parquet"] {
        stack.put_market_data(key, small.to_parquet()).await;
    }
    let deps = list_datasets::Deps {
        objects: stack.market_objects(),
        location: stack.market_data.clone(),
    };
    for (path, expect) in files_with_expectations("list-datasets") {
        let event = event_json(&path);
        let answer = Answer::read(
            list_datasets::handle(&deps, events::request(&path))
                .await
                .expect("answers"),
        );
        answer.assert_well_formed(&event);
        match expect {
            Expect::Ok => {
                assert_eq!(answer.status, 200, "{}", answer.json);
                let datasets = answer.json["datasets"].as_array().expect("datasets");
                let exchanges: Vec<&str> = datasets.iter().filter_map(|d| d["exchange"].as_str()).collect();
                match event["queryStringParameters"]["exchange"].as_str() {
                    Some(only) => assert_eq!(exchanges, [only]),
                    None => assert_eq!(exchanges, ["binance", "kraken"]),
                }
            }
            Expect::Invalid(field) => answer.assert_names_field(field),
            Expect::Accepted | Expect::NotFound => panic!("no such expectation for list-datasets"),
        }
    }
}

#[tokio::test]
async fn cleanup_resources_events() {
    let stack = Stack::fresh().await;
    let valid = event_json(&tradai_tests::project_root().join("events/cleanup-resources/valid.json"));
    let run_id = valid["run_id"].as_str().expect("run id").to_owned();
    let other = RunId::new().to_string();
    for key in [
        format!("temp/{run_id}/config.json"),
        format!("temp/{run_id}/extra/notes.txt"),
        format!("temp/{other}/config.json"),
    ] {
        stack.put_config(&key, b"{}".to_vec()).await;
    }
    let deps = cleanup_resources::Deps {
        configs: tradai::market_data::S3Objects::new(stack.s3.clone(), &stack.config_bucket),
    };
    let keys = || stack.keys_in(&stack.config_bucket, "");
    for (path, expect) in files_with_expectations("cleanup-resources") {
        let state = event_json(&path);
        let event = lambda_runtime::LambdaEvent::new(state.clone(), lambda_runtime::Context::default());
        let answer = cleanup_resources::handle(&deps, event).await;
        match expect {
            Expect::Ok => {
                let output = answer.expect("cleaned");
                assert_eq!(output["cleanup"]["deleted_objects"], 2);
                assert_eq!(output["run_id"], state["run_id"], "the state passes through");
                assert_eq!(
                    keys().await,
                    [format!("temp/{other}/config.json")],
                    "only this run's objects go"
                );
                let again = lambda_runtime::LambdaEvent::new(state, lambda_runtime::Context::default());
                let repeated = cleanup_resources::handle(&deps, again).await.expect("idempotent");
                assert_eq!(repeated["cleanup"]["deleted_objects"], 0);
            }
            Expect::Invalid(field) => {
                let error = answer.expect_err("refused");
                assert_eq!(error.error_type, "InvalidInput");
                assert!(error.error_message.contains(field), "{}", error.error_message);
            }
            Expect::Accepted | Expect::NotFound => panic!("no such expectation for cleanup-resources"),
        }
    }
}

#[tokio::test]
async fn notify_completion_events() {
    let stack = Stack::fresh().await;
    let sns = aws_sdk_sns::Client::new(&stack.sdk);
    let topic = sns
        .create_topic()
        .name(format!(
            "tradai-notifications-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        ))
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("topic ARN");
    // A subscriber, as a queue: what it receives is what subscribers get.
    let inbox = stack
        .sqs
        .create_queue()
        .queue_name(format!("inbox-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue URL");
    let inbox_arn = stack
        .sqs
        .get_queue_attributes()
        .queue_url(&inbox)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|mut attributes| attributes.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("queue ARN");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(inbox_arn)
        .send()
        .await
        .expect("subscribed");
    let deps = notify_completion::Deps {
        sns,
        topic_arn: topic,
        store: stack.store(),
    };
    for (path, expect) in files_with_expectations("notify-completion") {
        let state = event_json(&path);
        // The rule on stopped executions sends only the run id: the rest comes from the (cancelled) job.
        let stopped = state.get("execution_status").is_some();
        if stopped {
            let run_id = state["run_id"].as_str().expect("run id");
            sample_job(&stack, run_id, Status::Cancelled).await;
        }
        let event = lambda_runtime::LambdaEvent::new(state.clone(), lambda_runtime::Context::default());
        let answer = notify_completion::handle(&deps, event).await;
        match expect {
            Expect::Ok => {
                let output = answer.expect("published");
                let failed = state.get("error").is_some();
                let status = match (stopped, failed) {
                    (true, _) => "CANCELLED",
                    (false, true) => "FAILED",
                    (false, false) => "COMPLETED",
                };
                assert_eq!(output["notification"]["status"], status);
                let received = stack.messages(&inbox).await;
                assert_eq!(received.len(), 1, "{}", path.display());
                let envelope: Value = serde_json::from_str(received[0].body().expect("body")).expect("SNS envelope");
                assert_eq!(envelope["MessageAttributes"]["status"]["Value"], status);
                assert_eq!(envelope["MessageAttributes"]["strategy"]["Value"], "EmaCross");
                let message: Value =
                    serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("JSON");
                assert_eq!(message["run_id"], state["run_id"]);
                if stopped {
                    assert_eq!(message["error"], "cancelled by its owner");
                } else if failed {
                    assert!(
                        message["error"].as_str().is_some_and(|e| e.contains("stale data")),
                        "{message}"
                    );
                    assert_eq!(message["failed_step"], "CheckDataFreshness");
                } else {
                    assert_eq!(message["summary"]["total_trades"], 404);
                }
                for message in received {
                    stack
                        .sqs
                        .delete_message()
                        .queue_url(&inbox)
                        .set_receipt_handle(message.receipt_handle)
                        .send()
                        .await
                        .ok();
                }
            }
            Expect::Invalid(field) => {
                let error = answer.expect_err("refused");
                assert_eq!(error.error_type, "InvalidInput");
                assert!(error.error_message.contains(field), "{}", error.error_message);
            }
            Expect::Accepted | Expect::NotFound => panic!("no such expectation for notify-completion"),
        }
    }
}

/// For check-data-freshness, `NotFound` stands for the failure path: the data is stale.
#[tokio::test]
async fn check_data_freshness_events() {
    let stack = Stack::fresh().await;
    stack.put_candles(&["BTC/USDT"], 1, 300).await;
    stack.put_candles(&["ETH/USDT"], 48, 300).await;
    let deps = check_data_freshness::Deps {
        objects: stack.market_objects(),
        location: stack.market_data.clone(),
    };
    for (path, expect) in files_with_expectations("check-data-freshness") {
        let state = event_json(&path);
        let event = lambda_runtime::LambdaEvent::new(state.clone(), lambda_runtime::Context::default());
        let answer = check_data_freshness::handle(&deps, event).await;
        match expect {
            Expect::Ok => {
                let output = answer.expect("passes");
                assert_eq!(output["run_id"], state["run_id"]);
                assert_eq!(output["data_freshness"]["symbols"]["BTC/USDT"]["is_fresh"], true);
                let allowed = state.get("allow_stale").is_some();
                assert_eq!(output["data_freshness"]["all_fresh"], !allowed, "{}", path.display());
            }
            Expect::NotFound => {
                let error = answer.expect_err("stale data fails the step");
                assert_eq!(error.error_type, "StaleMarketData");
                assert!(
                    error.error_message.contains("ETH/USDT last candle 48.0 h old"),
                    "{}",
                    error.error_message
                );
                assert!(!error.error_message.contains("BTC/USDT"), "{}", error.error_message);
            }
            Expect::Invalid(field) => {
                let error = answer.expect_err("refused");
                assert_eq!(error.error_type, "InvalidInput");
                assert!(error.error_message.contains(field), "{}", error.error_message);
            }
            Expect::Accepted => panic!("no such expectation for check-data-freshness"),
        }
    }
}

/// For validate-strategy, `NotFound` stands for a named failure: the file name says which.
#[tokio::test]
async fn validate_strategy_events() {
    let stack = Stack::fresh().await;
    let ecr = aws_sdk_ecr::Client::new(&stack.sdk);
    let repository = format!("strategy-emacross-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let repository_uri = stack.push_image(&repository, "3").await;
    let config = stack
        .put_config("strategies/EmaCrossCandidate/base.json", b"{}".to_vec())
        .await;
    let image = format!("{repository_uri}:3");
    let missing_image = format!("{repository_uri}:99");
    let missing_config = format!("s3://{}/strategies/none.json", stack.config_bucket);
    let name = "EmaCrossCandidate";
    let versions = tradai_tests::mlflow::register(
        name,
        &[
            &[("ecr_url", image.as_str()), ("config_path", config.as_str())],
            &[
                ("ecr_url", image.as_str()),
                ("config_path", config.as_str()),
                ("archived", "true"),
            ],
            &[("ecr_url", missing_image.as_str()), ("config_path", config.as_str())],
            &[("ecr_url", image.as_str()), ("config_path", missing_config.as_str())],
        ],
        &[],
    )
    .await;
    let aliases = [
        ("candidate", versions[0]),
        ("archived", versions[1]),
        ("no-image", versions[2]),
        ("no-config", versions[3]),
    ];
    tradai_tests::mlflow::register(name, &[], &aliases).await;

    let deps = validate_strategy::Deps {
        registry: registry(),
        ecr,
        s3: stack.s3.clone(),
    };
    for (path, expect) in files_with_expectations("validate-strategy") {
        let state = event_json(&path);
        let event = lambda_runtime::LambdaEvent::new(state.clone(), lambda_runtime::Context::default());
        let answer = validate_strategy::handle(&deps, event).await;
        match expect {
            Expect::Ok => {
                let output = answer.expect("valid");
                assert_eq!(
                    output["strategy"]["version"], versions[0],
                    "the alias is pinned to its version"
                );
                assert_eq!(output["strategy"]["ecr_url"], image.as_str());
                assert_eq!(output["strategy"]["config_path"], config.as_str());
            }
            Expect::NotFound => {
                let error = answer.expect_err("refused");
                let (kind, phrase) = match events::name(&path).as_str() {
                    "archived-version.json" => ("StrategyArchived", "archived"),
                    "missing-config.json" => ("MissingConfig", "strategies/none.json"),
                    "missing-image.json" => ("MissingImage", ":99"),
                    _ => ("StrategyNotFound", "nonexistent"),
                };
                assert_eq!(error.error_type, kind, "{}", error.error_message);
                assert!(error.error_message.contains(phrase), "{}", error.error_message);
            }
            Expect::Invalid(field) => {
                let error = answer.expect_err("refused");
                assert_eq!(error.error_type, "InvalidInput");
                assert!(error.error_message.contains(field), "{}", error.error_message);
            }
            Expect::Accepted => panic!("no such expectation for validate-strategy"),
        }
    }
}

/// The sample events' configs bucket is the dev stage's; a test's own bucket stands in for it.
fn in_stack(path: &PathBuf, stack: &Stack) -> Value {
    let text = std::fs::read_to_string(path).expect("event file");
    serde_json::from_str(&text.replace("tradai-configs-dev", &stack.config_bucket)).expect("event is JSON")
}

/// A job of the sample events' strategy, recorded in `status` under `run_id`.
async fn sample_job(stack: &Stack, run_id: &str, status: Status) -> RunId {
    let body = br#"{"strategy_name":"EmaCross","strategy_version":3,"config":{"timeframe":"5m",
        "symbols":["BTC/USDT","ETH/USDT"],"start_date":"2026-01-05","end_date":"2026-03-01"}}"#;
    let request = BacktestRequest::from_json(body, Timestamp::now().date()).expect("valid");
    let run_id: RunId = run_id.parse().expect("a run id");
    let record = WorkflowRecord::new(run_id, request, status, Timestamp::now());
    stack.store().create(&record).await.expect("created");
    run_id
}

/// For prepare-config, `NotFound` stands for a base config that is not there.
#[tokio::test]
async fn prepare_config_events() {
    let stack = Stack::fresh().await;
    let base = "# EmaCross base config\nstake_currency: USDT\nstake_amount: 100\nmax_open_trades: 2\n\
                exchange:\n  name: binance\n  pair_whitelist: [XRP/USDT]\n  ccxt_config: {enableRateLimit: true}\n\
                entry_pricing: {price_side: same}\nexit_pricing: {price_side: same}\n";
    stack
        .put_config("strategies/EmaCross/base.yaml", base.as_bytes().to_vec())
        .await;
    let context = tradai::executor::ContainerContext {
        workflow_table: stack.table.clone(),
        mlflow_tracking_uri: Some("http://mlflow.tradai.local:5000".into()),
        results_bucket: Some(stack.results_bucket.clone()),
        market_data_uri: Some(format!("s3://{}/ohlcv", stack.market_data_bucket)),
    };
    let deps = prepare_config::Deps {
        s3: stack.s3.clone(),
        config_bucket: stack.config_bucket.clone(),
        context,
        task_prefix: "strategy-".into(),
    };
    for (path, expect) in files_with_expectations("prepare-config") {
        let state = in_stack(&path, &stack);
        let event = lambda_runtime::LambdaEvent::new(state.clone(), lambda_runtime::Context::default());
        let answer = prepare_config::handle(&deps, event).await;
        match expect {
            Expect::Ok => {
                let output = answer.expect("prepared");
                let run_id = state["run_id"].as_str().expect("run id");
                let prepared = &output["prepared"];
                let key = format!("temp/{run_id}/config.yaml");
                assert_eq!(prepared["config_path"], format!("s3://{}/{key}", stack.config_bucket));
                assert_eq!(prepared["strategy_version"], 3, "the pinned version, not the alias");
                assert_eq!(prepared["task_definition"], "strategy-EmaCross");
                assert_eq!(prepared["ecr_url"], state["strategy"]["ecr_url"]);
                let written = tradai::market_data::S3Objects::new(stack.s3.clone(), &stack.config_bucket)
                    .get_object(&key)
                    .await
                    .expect("read")
                    .expect("the merged config is there");
                let config = tradai::config::parse_document(&written).expect("YAML");
                let as_json: Value = serde_json::from_slice(&written).expect("and JSON, for Freqtrade");
                assert_eq!(config, as_json);
                assert_eq!(config["run_id"], run_id);
                assert_eq!(config["strategy_version"], 3);
                assert_eq!(
                    config["exchange"]["pair_whitelist"],
                    serde_json::json!(["BTC/USDT", "ETH/USDT"])
                );
                assert_eq!(config["exchange"]["ccxt_config"]["enableRateLimit"], true);
                assert_eq!(config["dataformat_ohlcv"], "parquet");
                let overridden = state["config"].get("config_overrides").is_some();
                assert_eq!(
                    config["stake_amount"],
                    if overridden { 250 } else { 100 },
                    "{}",
                    path.display()
                );
                let environment: BTreeMap<String, String> = prepared["environment"]
                    .as_array()
                    .expect("a list")
                    .iter()
                    .map(|pair| {
                        (
                            pair["Name"].as_str().expect("Name").to_owned(),
                            pair["Value"].as_str().expect("Value").to_owned(),
                        )
                    })
                    .collect();
                assert_eq!(environment["RUN_ID"], run_id);
                assert_eq!(environment["STRATEGY_VERSION"], "3");
                assert_eq!(
                    environment["CONFIG_PATH"],
                    prepared["config_path"].as_str().expect("path")
                );
                assert_eq!(environment["WORKFLOW_STATE_TABLE"], stack.table);
                assert_eq!(environment["LAUNCHED_BY"], "workflow");
                assert_eq!(environment["TIMERANGE"], "20260105-20260301");
                // What the container reads is what the executors give: the entrypoint accepts it.
                let vars: std::collections::HashMap<String, String> = environment.into_iter().collect();
                let settings = entrypoint::EntrypointSettings::from_map(&vars).expect("the entrypoint's environment");
                assert!(settings.workflow_managed);
                assert_eq!(settings.pairs, ["BTC/USDT", "ETH/USDT"]);
            }
            Expect::NotFound => {
                let error = answer.expect_err("refused");
                assert_eq!(error.error_type, "MissingConfig");
                assert!(error.error_message.contains("removed.yaml"), "{}", error.error_message);
            }
            Expect::Invalid(field) => {
                let error = answer.expect_err("refused");
                assert_eq!(error.error_type, "InvalidInput");
                assert!(error.error_message.contains(field), "{}", error.error_message);
            }
            Expect::Accepted => panic!("no such expectation for prepare-config"),
        }
    }
}

/// For transform-results, `NotFound` stands for a run that left no result.
#[tokio::test]
async fn transform_results_events() {
    use tradai::mlflow::ExperimentTracker;
    let stack = Stack::fresh().await;
    let tracker = registry();
    let deps = transform_results::Deps {
        results: stack.results(),
        results_bucket: stack.results_bucket.clone(),
        store: stack.store(),
        tracker: Some(registry()),
    };
    for (path, expect) in files_with_expectations("transform-results") {
        let state = event_json(&path);
        let run_id = state["run_id"].as_str().map(str::to_owned);
        let mut mlflow_run = None;
        if let Some(run_id) = &run_id {
            let run_id = sample_job(&stack, run_id, Status::Running).await;
            let run = tracker
                .start_run(
                    &tradai_tests::mlflow::unique_name("transform"),
                    &run_id.to_string(),
                    &BTreeMap::new(),
                )
                .await
                .expect("MLflow run");
            let update = tradai::store::RecordUpdate {
                mlflow_run_id: Some(run.run_id.clone()),
                ..Default::default()
            };
            stack.store().annotate(run_id, &update).await.expect("annotated");
            mlflow_run = Some(run.run_id);
        }
        if matches!(expect, Expect::Ok) {
            let run_id = run_id.as_deref().expect("run id");
            // +100, -50, -100, +30 (closing on days 1-4 of a 30-day backtest from 1000 USDT).
            let result =
                tradai_tests::freqtrade::result_json("EmaCross", &[(1, 100.0), (2, -50.0), (3, -100.0), (4, 30.0)]);
            let folder = format!("results/{run_id}");
            stack
                .put_result(
                    &format!("{folder}/{}.zip", tradai_tests::freqtrade::BASE),
                    tradai_tests::freqtrade::result_zip(&result),
                )
                .await;
            stack
                .put_result(
                    &format!("{folder}/.last_result.json"),
                    tradai_tests::freqtrade::last_result(),
                )
                .await;
        }
        let event = lambda_runtime::LambdaEvent::new(state.clone(), lambda_runtime::Context::default());
        let answer = transform_results::handle(&deps, event).await;
        match expect {
            Expect::Ok => {
                let output = answer.expect("summarised");
                let run_id = run_id.as_deref().expect("run id");
                let summary = &output["summary"];
                assert_eq!(summary["total_trades"], 4);
                assert_eq!(summary["win_rate"], 0.5);
                assert_eq!(summary["profit_total_abs"], -20.0);
                assert_eq!(summary["max_drawdown_abs"], 150.0);
                assert_eq!(summary["backtest_days"], 30);
                let record = stack
                    .store()
                    .get(run_id.parse().expect("id"))
                    .await
                    .expect("read")
                    .expect("there");
                assert_eq!(record.status, Status::Completed);
                assert_eq!(
                    record.result.as_ref().map(|r| r["total_trades"].clone()),
                    Some(serde_json::json!(4))
                );
                let mut keys = stack
                    .keys_in(&stack.results_bucket, &format!("results/{run_id}/"))
                    .await;
                keys.sort();
                assert!(keys.contains(&format!("results/{run_id}/summary.json")), "{keys:?}");
                assert!(keys.contains(&format!("results/{run_id}/equity.svg")), "{keys:?}");
                let chart = stack
                    .results()
                    .get_object(&format!("results/{run_id}/equity.svg"))
                    .await
                    .expect("read");
                assert!(chart.is_some_and(|svg| svg.starts_with(b"<svg")));
                let mut artifacts =
                    tradai_tests::mlflow::artifacts(mlflow_run.as_deref().expect("run"), "summary").await;
                artifacts.sort();
                assert_eq!(artifacts, ["summary/equity.svg", "summary/summary.json"]);
                // Step Functions may run a step twice: the second run finds the job completed and succeeds.
                let again = lambda_runtime::LambdaEvent::new(state, lambda_runtime::Context::default());
                transform_results::handle(&deps, again).await.expect("repeatable");
            }
            Expect::NotFound => {
                let error = answer.expect_err("no result");
                assert_eq!(error.error_type, "MissingResult");
                assert!(
                    error.error_message.contains(".last_result.json"),
                    "{}",
                    error.error_message
                );
                let run_id: RunId = run_id.as_deref().expect("id").parse().expect("id");
                let record = stack.store().get(run_id).await.expect("read").expect("there");
                assert_eq!(
                    record.status,
                    Status::Running,
                    "a failed step leaves the status to MarkFailed"
                );
            }
            Expect::Invalid(field) => {
                let error = answer.expect_err("refused");
                assert_eq!(error.error_type, "InvalidInput");
                assert!(error.error_message.contains(field), "{}", error.error_message);
            }
            Expect::Accepted => panic!("no such expectation for transform-results"),
        }
    }
}

/// For mark-failed, `NotFound` stands for a run id with no job.
#[tokio::test]
async fn mark_failed_events() {
    let stack = Stack::fresh().await;
    let deps = mark_failed::Deps { store: stack.store() };
    for (path, expect) in files_with_expectations("mark-failed") {
        let state = event_json(&path);
        let name = events::name(&path);
        let run_id = match (&expect, state["run_id"].as_str()) {
            (Expect::Ok, Some(run_id)) => {
                let status = if name == "cancelled-job.json" {
                    Status::Cancelled
                } else {
                    Status::Running
                };
                Some(sample_job(&stack, run_id, status).await)
            }
            _ => None,
        };
        let event = lambda_runtime::LambdaEvent::new(state.clone(), lambda_runtime::Context::default());
        let answer = mark_failed::handle(&deps, event).await;
        match expect {
            Expect::Ok => {
                let output = answer.expect("recorded");
                let record = stack
                    .store()
                    .get(run_id.expect("id"))
                    .await
                    .expect("read")
                    .expect("there");
                let (status, error) = match name.as_str() {
                    "cancelled-job.json" => (Status::Cancelled, None),
                    "valid-task-failed.json" => (
                        Status::Failed,
                        Some("the strategy container exited with 11 (Essential container in task exited)"),
                    ),
                    _ => (
                        Status::Failed,
                        Some("stale market data (limit 24 h): ETH/USDT last candle 48.0 h old"),
                    ),
                };
                assert_eq!(record.status, status, "{name}");
                assert_eq!(record.error.as_deref(), error, "{name}");
                assert_eq!(output["job_status"], status.as_str());
                if let Some(error) = error {
                    assert_eq!(output["error"]["Cause"], error);
                    assert_eq!(record.failed_step.as_deref(), state["failed_step"].as_str());
                }
            }
            Expect::NotFound => {
                let error = answer.expect_err("no job");
                assert_eq!(error.error_type, "InvalidInput");
                assert!(error.error_message.contains("no job"), "{}", error.error_message);
            }
            Expect::Invalid(field) => {
                let error = answer.expect_err("refused");
                assert_eq!(error.error_type, "InvalidInput");
                assert!(error.error_message.contains(field), "{}", error.error_message);
            }
            Expect::Accepted => panic!("no such expectation for mark-failed"),
        }
    }
}
