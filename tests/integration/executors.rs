//! The executors against the stand-in, each read back from the service it hands jobs to.

use std::collections::HashMap;

use serde_json::Value;
use tradai::backtest::{BacktestJob, BacktestRequest, RunId};
use tradai::executor::{ContainerContext, EcsTasks, Launcher, StepFunctions, TaskPlacement};
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_tests::project_root;
use tradai_tests::stack::Stack;

use crate::answer::Answer;

fn job() -> BacktestJob {
    let text = std::fs::read_to_string(project_root().join("events/submit-backtest/valid-alias-with-overrides.json"))
        .expect("event");
    let event: Value = serde_json::from_str(&text).expect("JSON");
    let request = BacktestRequest::from_json(
        event["body"].as_str().expect("body").as_bytes(),
        Timestamp::now().date(),
    )
    .expect("valid");
    BacktestJob {
        run_id: RunId::new(),
        request,
    }
}

#[tokio::test]
async fn step_functions_starts_one_execution_named_by_the_run_id() {
    let stack = Stack::fresh().await;
    let machine = stack.state_machine().await;
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
    let workflow = StepFunctions::new(sfn.clone(), &machine);
    let job = job();

    let first = workflow.launch(&job).await.expect("started");
    let again = workflow.launch(&job).await.expect("a retried hand-off succeeds");
    assert_eq!(first, again, "the retry names the same execution");
    let arn = first.execution_arn.expect("an execution");
    assert!(arn.ends_with(&format!(":{}", job.run_id)), "{arn}");

    let execution = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("described");
    let input: Value = serde_json::from_str(execution.input().expect("input")).expect("JSON input");
    assert_eq!(input, serde_json::to_value(&job).expect("JSON"));
    let executions = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("listed");
    assert_eq!(
        executions.executions().len(),
        1,
        "one execution, however often the hand-off is retried"
    );
}

#[tokio::test]
async fn submitting_through_step_functions_records_the_execution_on_the_job() {
    let stack = Stack::fresh().await;
    let machine = stack.state_machine().await;
    let deps = submit_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        launcher: StepFunctions::new(aws_sdk_sfn::Client::new(&stack.sdk), &machine),
        keys: stack.keys(),
    };
    let request = tradai_tests::events::request(&project_root().join("events/submit-backtest/valid.json"));
    let answer = Answer::read(submit_backtest::handle(&deps, request).await.expect("answers"));
    assert_eq!(answer.status, 202, "{}", answer.json);
    assert_eq!(answer.json["status"], "QUEUED");
    let run_id: RunId = answer.json["run_id"].as_str().expect("id").parse().expect("valid");
    let record = stack.store().get(run_id).await.expect("read").expect("stored");
    let arn = record.execution_arn.expect("the execution is recorded");
    let execution = aws_sdk_sfn::Client::new(&stack.sdk)
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await;
    assert_eq!(
        execution.expect("exists").status,
        aws_sdk_sfn::types::ExecutionStatus::Running
    );
}

#[tokio::test]
async fn ecs_runs_one_task_with_the_original_overrides_on_spot() {
    let stack = Stack::fresh().await;
    let ecs = aws_sdk_ecs::Client::new(&stack.sdk);
    let cluster = format!("tradai-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .expect("cluster");
    let job = job();
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("strategy")
        .image("strategy:latest")
        .memory(2048)
        .essential(true)
        .build();
    ecs.register_task_definition()
        .family(format!("strategy-{}", job.request.strategy_name))
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .cpu("1024")
        .memory("2048")
        .container_definitions(container)
        .send()
        .await
        .expect("task definition");
    let subnet = tradai_tests::network::subnet().await;
    let tasks = EcsTasks::new(
        ecs.clone(),
        TaskPlacement {
            cluster: cluster.clone(),
            task_prefix: "strategy-".into(),
            subnets: vec![subnet],
            security_groups: vec!["sg-12345678".into()],
            container_name: "strategy".into(),
        },
        ContainerContext {
            workflow_table: stack.table.clone(),
            mlflow_tracking_uri: Some("http://mlflow.tradai.local:5000".into()),
            results_bucket: Some("tradai-results-dev".into()),
            market_data_uri: Some("s3://tradai-market-data-local/ohlcv".into()),
        },
    );

    let handoff = tasks.launch(&job).await.expect("started");
    let task_arn = handoff.task_arn.expect("a task");
    let described = ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(&task_arn)
        .send()
        .await
        .expect("described");
    let task = &described.tasks()[0];
    assert_eq!(task.capacity_provider_name(), Some("FARGATE_SPOT"));
    let overrides = task.overrides().expect("overrides");
    let container = &overrides.container_overrides()[0];
    assert_eq!(container.name(), Some("strategy"));
    let environment: HashMap<&str, &str> = container
        .environment()
        .iter()
        .filter_map(|pair| Some((pair.name()?, pair.value()?)))
        .collect();
    assert_eq!(environment["RUN_ID"], job.run_id.to_string());
    assert_eq!(environment["STRATEGY"], "EmaCross");
    assert_eq!(environment["TIMEFRAME"], "1h");
    assert_eq!(environment["TIMERANGE"], "20250101-20250401");
    assert_eq!(environment["PAIRS"], "BTC/USDT:USDT");
    assert_eq!(environment["EXPERIMENT_NAME"], "research/ema-cross-q1");
    assert_eq!(environment["DYNAMODB_TABLE"], stack.table);
    assert_eq!(environment["S3_RESULTS_BUCKET"], "tradai-results-dev");

    let unknown = BacktestJob {
        run_id: RunId::new(),
        request: BacktestRequest {
            strategy_name: "Unregistered".into(),
            ..job.request.clone()
        },
    };
    assert!(
        tasks.launch(&unknown).await.is_err(),
        "a strategy without a task definition is not started"
    );
}

#[tokio::test]
async fn local_mode_starts_the_entrypoint_with_only_the_container_environment() {
    let folder = tradai_tests::project_root().join(format!(".stand-ins/local-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&folder).expect("folder");
    let script = folder.join("entrypoint.sh");
    // A stand-in entrypoint that records the environment it was given.
    std::fs::write(
        &script,
        format!("#!/bin/sh\nenv > \"{}/$RUN_ID.env\"\n", folder.display()),
    )
    .expect("script");
    let mut permissions = std::fs::metadata(&script).expect("metadata").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).expect("executable");

    let context = ContainerContext {
        workflow_table: "tradai-workflow-state-local".into(),
        mlflow_tracking_uri: Some("http://127.0.0.1:5000".into()),
        results_bucket: Some("tradai-results-local".into()),
        market_data_uri: Some("s3://tradai-market-data-local/ohlcv".into()),
    };
    let launcher = tradai::executor::LocalProcess::new(
        &script,
        context,
        Some(folder.join("logs")),
        tradai::executor::inherited(&tradai::settings::Env::process()),
    );
    let job = job();
    launcher.launch(&job).await.expect("started");

    let recorded = folder.join(format!("{}.env", job.run_id));
    let started = std::time::Instant::now();
    while !recorded.exists() || std::fs::read_to_string(&recorded).map_or(true, |text| !text.contains("RUN_ID")) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the entrypoint did not run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let text = std::fs::read_to_string(&recorded).expect("recorded environment");
    let environment: HashMap<&str, &str> = text.lines().filter_map(|line| line.split_once('=')).collect();
    let expected = launcher.environment(&job);
    for (name, value) in &expected {
        assert_eq!(environment.get(name.as_str()), Some(&value.as_str()), "{name}");
    }
    // Nothing else of the launcher's environment leaks in (the shell adds PWD, SHLVL and _ itself).
    let extra: Vec<&&str> = environment
        .keys()
        .filter(|name| !expected.iter().any(|(e, _)| e == *name) && !["PWD", "SHLVL", "_", "OLDPWD"].contains(name))
        .collect();
    assert!(extra.is_empty(), "leaked: {extra:?}");
    assert_eq!(environment["RUN_ID"], job.run_id.to_string());
    assert_eq!(environment["TIMERANGE"], "20250101-20250401");
    std::fs::remove_dir_all(&folder).ok();
}

#[tokio::test]
async fn in_ecs_mode_overrides_too_long_for_run_task_are_refused_at_submit_and_nothing_is_written() {
    let stack = Stack::fresh().await;
    let tasks = EcsTasks::new(
        aws_sdk_ecs::Client::new(&stack.sdk),
        TaskPlacement {
            cluster: "tradai-dev".into(),
            task_prefix: "strategy-".into(),
            subnets: vec!["subnet-12345678".into()],
            security_groups: Vec::new(),
            container_name: "strategy".into(),
        },
        ContainerContext {
            workflow_table: stack.table.clone(),
            mlflow_tracking_uri: None,
            results_bucket: None,
            market_data_uri: None,
        },
    );
    let deps = submit_backtest::Deps {
        metrics: tradai_tests::metrics(),
        store: stack.store(),
        launcher: tasks,
        keys: stack.keys(),
    };
    let text = std::fs::read_to_string(project_root().join("events/submit-backtest/valid.json")).expect("event");
    let mut event: Value = serde_json::from_str(&text).expect("JSON");
    let mut body: Value = serde_json::from_str(event["body"].as_str().expect("body")).expect("JSON body");
    // 9 000 characters: within the request's own limit (16 KiB), over ECS's 8 192 for the task's overrides.
    body["config"]["config_overrides"] = serde_json::json!({"protections": [{"method": "x".repeat(9_000)}]});
    event["body"] = Value::from(body.to_string());
    let request = tradai_tests::events::request_from_json(&event.to_string());
    let answer = Answer::read(submit_backtest::handle(&deps, request).await.expect("answers"));
    assert_eq!(answer.status, 400, "{}", answer.json);
    answer.assert_names_field("config.config_overrides");
    assert!(stack.items().await.is_empty(), "nothing written");
}
