//! GET /backtest/{run_id}/logs: a page of what the strategy container printed; no lines before a task ran; 404
//! for an unknown run id; 400 naming `run_id`, `limit` or `next_token`; reading writes nothing. The adapters read a
//! task definition's awslogs configuration and a stream's pages from moto.

use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver};
use tradai::backtest::{RunId, Status, WorkflowRecord};
use tradai::run_logs::{AwsRunTasks, CloudWatchLogs, LogSource, RunTask};
use tradai::store::{DynamoDbStore, WorkflowStore};
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{event, request, run_id_of, sample_request};
use crate::answer::Answer;

const FUNCTION: &str = "get-backtest-logs";

type Deps = get_backtest_logs::Deps<DynamoDbStore, AwsRunTasks, CloudWatchLogs>;

fn deps(stack: &Stack) -> Deps {
    let ecs = aws_sdk_ecs::Client::new(&stack.sdk);
    get_backtest_logs::Deps {
        store: stack.store(),
        tasks: AwsRunTasks::new(aws_sdk_sfn::Client::new(&stack.sdk), ecs.clone()),
        logs: CloudWatchLogs::new(aws_sdk_cloudwatchlogs::Client::new(&stack.sdk), ecs),
    }
}

/// The job `valid.json` asks about, in `status`, with nothing recorded that ran it.
async fn job(stack: &Stack, status: Status) -> RunId {
    let run_id = run_id_of(FUNCTION, "valid.json");
    let record = WorkflowRecord::new(run_id, sample_request(), status, Timestamp::now());
    stack.store().create(&record).await.expect("created");
    run_id
}

async fn ask(stack: &Stack, name: &str) -> Answer {
    let answer = Answer::read(
        get_backtest_logs::handle(&deps(stack), request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

#[tokio::test]
async fn a_job_no_task_ran_yet_has_no_lines_and_more_may_come() {
    let stack = Stack::fresh().await;
    let run_id = job(&stack, Status::Queued).await;
    let before = stack.items().await;
    let answer = ask(&stack, "valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["run_id"], run_id.to_string());
    assert_eq!(answer.json["status"], "QUEUED");
    assert_eq!(answer.json["tasks"], serde_json::json!([]));
    assert_eq!(answer.json["lines"], serde_json::json!([]));
    assert_eq!(answer.json["complete"], false, "the job has not run yet");
    assert!(answer.json["next_token"].is_string());
    assert_eq!(stack.items().await, before, "reading logs writes nothing");
}

#[tokio::test]
async fn an_unknown_run_id_is_404_and_bad_parameters_are_named() {
    let stack = Stack::fresh().await;
    job(&stack, Status::Completed).await;
    let before = stack.items().await;
    let answer = ask(&stack, "unknown-run-id.json").await;
    assert_eq!(
        (answer.status, &answer.json["error"]["code"]),
        (404, &"NotFound".into())
    );
    ask(&stack, "invalid-malformed-run-id.json")
        .await
        .assert_names_field("run_id");
    ask(&stack, "invalid-limit.json").await.assert_names_field("limit");
    ask(&stack, "invalid-next-token.json")
        .await
        .assert_names_field("next_token");
    assert_eq!(stack.items().await, before, "reading logs writes nothing");
}

#[tokio::test]
async fn a_tasks_awslogs_stream_is_found_from_its_task_definition_and_read_page_by_page() {
    let stack = Stack::fresh().await;
    let ecs = aws_sdk_ecs::Client::new(&stack.sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&stack.sdk);
    let family = format!("strategy-logs-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let logging = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &stack.strategy_log_group)
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", &family)
        .build()
        .expect("a log configuration");
    let definition = ecs
        .register_task_definition()
        .family(&family)
        .container_definitions(
            ContainerDefinition::builder()
                .name("strategy")
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-x:1")
                .memory(2048)
                .log_configuration(logging)
                .build(),
        )
        .send()
        .await
        .expect("registered")
        .task_definition
        .and_then(|definition| definition.task_definition_arn)
        .expect("an ARN");
    let task = RunTask {
        task_arn: "arn:aws:ecs:us-east-1:123456789012:task/tradai-test/5e1f0c".into(),
        task_definition_arn: Some(definition),
        container: Some("strategy".into()),
        capacity_provider: Some("FARGATE_SPOT".into()),
    };
    let source = CloudWatchLogs::new(logs.clone(), ecs);
    let stream = source
        .stream_of(&task)
        .await
        .expect("answers")
        .expect("an awslogs stream");
    assert_eq!(
        (stream.log_group.as_str(), stream.log_stream.as_str()),
        (
            stack.strategy_log_group.as_str(),
            format!("{family}/strategy/5e1f0c").as_str()
        )
    );
    let unwritten = source
        .read(&stream, None, 10)
        .await
        .expect("a stream not made yet reads as empty");
    assert!(unwritten.lines.is_empty());

    logs.create_log_stream()
        .log_group_name(&stream.log_group)
        .log_stream_name(&stream.log_stream)
        .send()
        .await
        .expect("stream");
    let now = Timestamp::now().epoch_millis();
    let events = ["one", "two", "three"].map(|message| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(now)
            .message(message)
            .build()
            .expect("an event")
    });
    logs.put_log_events()
        .log_group_name(&stream.log_group)
        .log_stream_name(&stream.log_stream)
        .set_log_events(Some(events.to_vec()))
        .send()
        .await
        .expect("put");
    let first = source.read(&stream, None, 2).await.expect("a page");
    let messages = |page: &tradai::run_logs::StreamPage| -> Vec<String> {
        page.lines.iter().map(|line| line.message.clone()).collect()
    };
    assert_eq!(messages(&first), ["one", "two"]);
    let second = source
        .read(&stream, first.next_token.as_deref(), 2)
        .await
        .expect("a page");
    assert_eq!(messages(&second), ["three"]);
    let end = source
        .read(&stream, second.next_token.as_deref(), 2)
        .await
        .expect("a page");
    assert!(end.lines.is_empty());
    assert_eq!(
        end.next_token, second.next_token,
        "at the end the same token comes back"
    );

    let silent = RunTask {
        task_definition_arn: None,
        ..task
    };
    assert_eq!(source.stream_of(&silent).await.expect("answers"), None);
}
