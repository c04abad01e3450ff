//! GET /backtest/{run_id}/status: a job's status with its result and MLflow link; 404 for an unknown run id, 400
//! naming `run_id` for a malformed one; reading writes nothing.

use tradai::backtest::{RunId, Status, WorkflowRecord};
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{event, request, run_id_of, sample_request};
use crate::answer::Answer;

const FUNCTION: &str = "get-backtest-status";
const SUBMITTER: &str = "arn:aws:sts::123456789012:assumed-role/quant/ada";

/// The completed job `valid.json` asks about, with a result and its MLflow run.
async fn completed_job(stack: &Stack) -> RunId {
    let run_id = run_id_of(FUNCTION, "valid.json");
    let mut record = WorkflowRecord::new(run_id, sample_request(), Status::Completed, Timestamp::now());
    record.result = Some(serde_json::json!({"total_trades": 42, "profit_total_pct": 3.5}));
    record.mlflow_experiment_id = Some("12".into());
    record.mlflow_run_id = Some("f00dfeed".into());
    record.submitted_by = Some(SUBMITTER.into());
    record.fingerprint = Some(tradai::run_manifest::Fingerprint(tradai::run_manifest::sha256_of(
        b"inputs",
    )));
    stack.store().create(&record).await.expect("created");
    run_id
}

type Deps = get_backtest_status::Deps<
    tradai::store::DynamoDbStore,
    tradai::executor::StepFunctionsProgress,
    tradai::objects::S3Objects,
>;

fn deps(stack: &Stack) -> Deps {
    get_backtest_status::Deps {
        store: stack.store(),
        mlflow_ui: Some("http://mlflow.tradai.local:5000".into()),
        progress: tradai::executor::StepFunctionsProgress::new(aws_sdk_sfn::Client::new(&stack.sdk)),
        files: stack.results(),
    }
}

async fn ask(stack: &Stack, name: &str) -> Answer {
    let answer = Answer::read(
        get_backtest_status::handle(&deps(stack), request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

#[tokio::test]
async fn a_completed_job_shows_its_result_and_mlflow_link() {
    let stack = Stack::fresh().await;
    let run_id = completed_job(&stack).await;
    let before = stack.items().await;
    let answer = ask(&stack, "valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["run_id"], run_id.to_string());
    assert_eq!(answer.json["status"], "COMPLETED");
    assert_eq!(answer.json["result"]["total_trades"], 42);
    assert_eq!(
        answer.json["mlflow_url"],
        "http://mlflow.tradai.local:5000/#/experiments/12/runs/f00dfeed"
    );
    assert_eq!(answer.json["strategy_version"], 3);
    assert_eq!(answer.json["submitted_by"], SUBMITTER);
    assert!(answer.json.get("error").is_none());
    assert!(answer.json.get("cancelled_by").is_none());
    assert!(
        answer.json.get("step").is_none(),
        "an ended job is in no workflow state"
    );
    assert_eq!(stack.items().await, before, "reading a status writes nothing");
}

#[tokio::test]
async fn a_completed_jobs_files_are_linked_by_urls_that_need_no_credentials() {
    let stack = Stack::fresh().await;
    let run_id = completed_job(&stack).await;
    for (file, text) in [
        ("summary.json", "{\"total_trades\": 42}"),
        ("equity.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
        ("pairs.csv", "pair,trades\nBTC/USDT,42\n"),
        ("manifest.json", "{\"strategy\": {}}"),
    ] {
        stack
            .put_result(&format!("results/{run_id}/{file}"), text.as_bytes().to_vec())
            .await;
    }
    let answer = ask(&stack, "valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let files = &answer.json["files"];
    assert!(files["expires_at"].is_string(), "{files}");
    // A plain GET, no AWS credentials: what a browser or `curl` does with the link.
    for (link, starts) in [
        ("summary", "{"),
        ("chart", "<svg"),
        ("pairs", "pair,trades"),
        ("manifest", "{\"strategy\""),
    ] {
        let url = files[link].as_str().unwrap_or_else(|| panic!("a {link} link: {files}"));
        let body = reqwest::get(url).await.expect("answers");
        assert_eq!(body.status(), 200, "{url}");
        let text = body.text().await.expect("text");
        assert!(text.starts_with(starts), "{link}: {text}");
    }
}

#[tokio::test]
async fn a_running_job_whose_execution_cannot_be_read_still_has_its_status() {
    let stack = Stack::fresh().await;
    let run_id = run_id_of(FUNCTION, "valid.json");
    let mut record = WorkflowRecord::new(run_id, sample_request(), Status::Running, Timestamp::now());
    record.execution_arn = Some("arn:aws:states:us-east-1:123456789012:execution:tradai-backtest-none:gone".into());
    stack.store().create(&record).await.expect("created");
    let answer = ask(&stack, "valid.json").await;
    assert_eq!(
        (answer.status, &answer.json["status"]),
        (200, &"RUNNING".into()),
        "{}",
        answer.json
    );
    assert!(answer.json.get("step").is_none(), "{}", answer.json);
    assert!(answer.json.get("files").is_none(), "{}", answer.json);
}

#[tokio::test]
async fn an_unknown_run_id_is_404_and_a_malformed_one_names_run_id() {
    let stack = Stack::fresh().await;
    completed_job(&stack).await;
    let before = stack.items().await;
    let answer = ask(&stack, "unknown-run-id.json").await;
    assert_eq!(answer.status, 404, "{}", answer.json);
    assert_eq!(answer.json["error"]["code"], "NotFound");
    for name in ["invalid-malformed-run-id.json", "invalid-not-version-4.json"] {
        ask(&stack, name).await.assert_names_field("run_id");
    }
    assert_eq!(stack.items().await, before, "reading a status writes nothing");
}
