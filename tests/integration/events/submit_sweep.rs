//! POST /sweeps against MLflow, DynamoDB, S3 and Step Functions stand-ins: a grid is recorded with one PENDING child
//! per combination, the map's list written and the sweep workflow started; a dry run answers the estimate and writes
//! nothing; an undeclared parameter, an empty grid, a bad concurrency or too many combinations are 400 naming the
//! field, nothing written.

use serde_json::Value;
use tradai::backtest::{BacktestJob, Status, StrategyVersion};
use tradai::mlflow::MlflowClient;
use tradai::objects::{ObjectStore, S3Objects};
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai::sweep::{DynamoDbSweeps, StepFunctionsSweeps, SweepId, SweepStore};
use tradai_tests::stack::Stack;

use super::{event, registry};
use crate::answer::Answer;

const FUNCTION: &str = "submit-sweep";
/// What EmaCross declares (container/engine/strategy.yaml).
const DECLARED: &str = r#"{"buy_ema_fast": {"low": 4, "high": 15}, "buy_ema_slow": {"low": 16, "high": 50},
    "sell_ema_fast": {"low": 4, "high": 15}, "sell_ema_slow": {"low": 16, "high": 50}}"#;

type Deps = submit_sweep::Deps<MlflowClient, DynamoDbStore, DynamoDbSweeps, S3Objects, StepFunctionsSweeps>;

/// The function's dependencies on `stack`, with a strategy of its own registered (version 3 is `production`,
/// declaring EmaCross's parameters) and a sweep workflow that waits until it is stopped; answers its name.
async fn deps(stack: &Stack) -> (Deps, String) {
    let name = tradai_tests::mlflow::unique_name("Sweep");
    let tags: &[(&str, &str)] = &[("config_path", "s3://unused/config.yaml"), ("parameters", DECLARED)];
    let versions = tradai_tests::mlflow::register(&name, &[tags, tags, tags], &[]).await;
    tradai_tests::mlflow::register(&name, &[], &[("production", versions[2])]).await;
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
    let deps = submit_sweep::Deps {
        registry: registry(),
        jobs: stack.store(),
        sweeps: stack.sweeps(),
        items: S3Objects::new(stack.s3.clone(), &stack.config_bucket),
        launcher: StepFunctionsSweeps::new(sfn, stack.state_machine().await),
        task: tradai::settings::TaskSize {
            cpu: 1024,
            memory_mib: 2048,
        },
    };
    (deps, name)
}

/// The event `name`, its strategy renamed to `strategy`, through the handler.
async fn submit(deps: &Deps, name: &str, strategy: &str) -> (Value, Answer) {
    let mut event = event(FUNCTION, name);
    let body = event["body"].as_str().expect("a body").replace("EmaCross", strategy);
    event["body"] = Value::String(body);
    let request = tradai_tests::events::request_from_json(&event.to_string());
    let answer = Answer::read(submit_sweep::handle(deps, request).await.expect("answers"));
    answer.assert_well_formed(&event);
    (event, answer)
}

#[tokio::test]
async fn a_grid_is_recorded_with_a_pending_child_per_combination_and_its_workflow_started() {
    let stack = Stack::fresh().await;
    let (deps, strategy) = deps(&stack).await;
    let (_, answer) = submit(&deps, "valid.json", &strategy).await;
    assert_eq!(answer.status, 202, "{}", answer.json);
    let sweep_id: SweepId = answer.json["sweep_id"]
        .as_str()
        .expect("an id")
        .parse()
        .expect("a sweep id");
    assert_eq!(answer.json["status_url"], format!("/sweeps/{sweep_id}"));
    assert_eq!(
        (answer.json["runs"].as_u64(), answer.json["strategy_version"].as_u64()),
        (Some(6), Some(3))
    );
    assert!(
        answer.json["estimate"]["cost_usd"]
            .as_f64()
            .is_some_and(|cost| cost > 0.0),
        "{}",
        answer.json
    );

    let sweep = stack.sweeps().get(sweep_id).await.expect("read").expect("recorded");
    assert_eq!(sweep.status, Status::Running);
    let execution = sweep.execution_arn.clone().expect("the workflow's execution");
    let described = aws_sdk_sfn::Client::new(&stack.sdk)
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect("the execution exists");
    assert_eq!(described.name, Some(sweep_id.to_string()), "named by the sweep id");
    let input: Value = serde_json::from_str(described.input().expect("input")).expect("JSON");
    assert_eq!(
        (
            input["max_concurrency"].as_u64(),
            input["tolerated_failure_percentage"].as_f64()
        ),
        (Some(3), Some(20.0))
    );

    let children = stack.store().get_many(&sweep.child_ids()).await.expect("read");
    assert_eq!(children.len(), 6);
    assert!(
        children
            .iter()
            .all(|child| child.status == Status::Pending && child.sweep_id == Some(sweep_id))
    );
    assert!(
        children
            .iter()
            .all(|child| child.strategy_version == StrategyVersion::Number(3)),
        "pinned"
    );
    let key = input["items"]["Key"].as_str().expect("the items' key");
    let items = S3Objects::new(stack.s3.clone(), &stack.config_bucket)
        .get(key)
        .await
        .expect("read")
        .expect("the map's list is written");
    let items: Vec<BacktestJob> = serde_json::from_slice(&items).expect("backtest jobs");
    assert_eq!(
        items.iter().map(|job| job.run_id).collect::<Vec<_>>(),
        sweep.child_ids()
    );
    assert_eq!(
        serde_json::to_value(&items[5].request.config.parameters).expect("JSON"),
        serde_json::json!({"buy_ema_fast": 12, "buy_ema_slow": 30})
    );
}

#[tokio::test]
async fn a_dry_run_answers_the_estimate_and_writes_nothing() {
    let stack = Stack::fresh().await;
    let (deps, strategy) = deps(&stack).await;
    let (_, answer) = submit(&deps, "dry-run.json", &strategy).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(
        (answer.json["dry_run"].as_bool(), answer.json.get("sweep_id")),
        (Some(true), None)
    );
    assert_eq!(answer.json["estimate"]["children"], 6);
    // A walk-forward of 3 windows is 6 children too, each hyperopt costing its epochs' backtests.
    let (_, walk) = submit(&deps, "walk-forward-dry-run.json", &strategy).await;
    assert_eq!(walk.status, 200, "{}", walk.json);
    assert_eq!(walk.json["runs"], 6, "{}", walk.json);
    let per_child = |answer: &Answer| {
        answer.json["estimate"]["engine_seconds_per_child"]
            .as_f64()
            .unwrap_or(0.0)
    };
    assert!(
        per_child(&walk) > 3.0 * per_child(&answer),
        "20 epochs of 10 days weigh more than a backtest of 25: {} against {}",
        walk.json,
        answer.json
    );
    assert!(
        stack.items().await.is_empty() && stack.sweep_items().await.is_empty(),
        "nothing recorded"
    );
}

#[tokio::test]
async fn an_invalid_space_names_each_field_and_writes_nothing() {
    let stack = Stack::fresh().await;
    let (deps, strategy) = deps(&stack).await;
    for (name, fields) in [
        ("invalid-space.json", vec!["space.grid.buy_ema_fast", "max_concurrency"]),
        ("invalid-too-many.json", vec!["space"]),
        ("invalid-walk-forward.json", vec!["walk_forward"]),
    ] {
        let (_, answer) = submit(&deps, name, &strategy).await;
        assert_eq!(answer.status, 400, "{name}: {}", answer.json);
        let named: Vec<&str> = answer.json["error"]["details"]
            .as_array()
            .expect("details")
            .iter()
            .filter_map(|detail| detail["field"].as_str())
            .collect();
        assert_eq!(named, fields, "{name}: {}", answer.json);
    }
    // An undeclared parameter is refused once the space itself is well formed.
    let mut event = event(FUNCTION, "valid.json");
    let body = event["body"]
        .as_str()
        .expect("a body")
        .replace("EmaCross", &strategy)
        .replace("buy_ema_slow", "buy_rsi");
    event["body"] = Value::String(body);
    let answer = Answer::read(
        submit_sweep::handle(&deps, tradai_tests::events::request_from_json(&event.to_string()))
            .await
            .expect("answers"),
    );
    assert_eq!(answer.status, 400, "{}", answer.json);
    assert_eq!(answer.json["error"]["details"][0]["field"], "space.grid.buy_rsi");
    let message = answer.json["error"]["details"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("declares no parameter buy_rsi"), "{message}");
    assert!(
        stack.items().await.is_empty() && stack.sweep_items().await.is_empty(),
        "nothing recorded"
    );
}
