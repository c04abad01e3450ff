//! NotifyCompletion: publishes how a backtest ended to the notifications topic, with message attributes
//! (`status`, `strategy`) that subscribers filter on. Runs on both paths of the workflow: after TransformResults,
//! and after MarkFailed (the state then carries `error`, and `job_status`: CANCELLED for a cancelled job).

use aws_sdk_sns::types::MessageAttributeValue;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tradai::backtest::{RunId, Status};
use tradai::store::WorkflowStore;
use tradai::workflow::{StepError, run_id_of};

/// An execution that ended outside its failure path (the rule on ended executions sends `{run_id,
/// execution_status}`): what the state would have said, read from the job.
async fn from_the_job(
    store: &impl WorkflowStore,
    run_id: RunId,
    ended: &str,
    mut state: Value,
) -> Result<Value, StepError> {
    let record = store
        .get(run_id)
        .await
        .map_err(|error| StepError::transient("the workflow store", &error))?
        .ok_or_else(|| StepError::invalid_input(format!("no job with run_id {run_id}")))?;
    let (status, cause) = match record.status {
        Status::Cancelled => (Status::Cancelled, "cancelled by its owner".to_owned()),
        Status::Failed => (Status::Failed, record.error.clone().unwrap_or_default()),
        Status::Completed => (Status::Completed, String::new()),
        _ => (Status::Failed, format!("the workflow execution ended {ended}")),
    };
    if let Value::Object(fields) = &mut state {
        fields.insert("strategy_name".to_owned(), json!(record.strategy_name));
        fields.insert("strategy_version".to_owned(), json!(record.strategy_version));
        fields.insert("job_status".to_owned(), json!(status));
        if status != Status::Completed {
            fields.insert(
                "error".to_owned(),
                json!({"Error": format!("Execution{ended}"), "Cause": cause}),
            );
            fields.insert("failed_step".to_owned(), json!(record.failed_step));
        }
    }
    Ok(state)
}

/// What the step needs: the topic, and the job table for events that carry only the run id.
pub struct Deps<S> {
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
    pub store: S,
}

fn attribute(value: &str) -> Result<MessageAttributeValue, StepError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|error| StepError::invalid_input(format!("message attribute: {error}")))
}

/// Answers the state with `notification: {message_id, status}` added.
pub async fn handle<S: WorkflowStore>(deps: &Deps<S>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let mut state = event.payload;
    let run_id = run_id_of(&state)?;
    if let Some(ended) = state.get("execution_status").and_then(Value::as_str).map(str::to_owned) {
        state = from_the_job(&deps.store, run_id, &ended, state).await?;
    }
    let strategy = state
        .get("strategy_name")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    // The failure path's Catch puts the error under `error` ({Error, Cause}); its one-line reason is the Cause.
    let error = state.get("error").filter(|error| !error.is_null()).map(|error| {
        error
            .get("Cause")
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
            .unwrap_or("failed")
            .to_owned()
    });
    // MarkFailed says what the job ended as: a cancelled job stays CANCELLED, and a job that completed before a
    // later step failed (this notification, the cleanup) stays COMPLETED. Otherwise the path tells.
    let status = match state.get("job_status").and_then(Value::as_str) {
        Some("CANCELLED") => "CANCELLED",
        Some("COMPLETED") => "COMPLETED",
        _ if error.is_some() => "FAILED",
        _ => "COMPLETED",
    };
    let message = json!({
        "run_id": run_id,
        "status": status,
        "strategy_name": strategy,
        "strategy_version": state.get("strategy_version"),
        "error": error,
        "failed_step": state.get("failed_step"),
        "summary": state.get("summary"),
        "status_url": format!("/backtest/{run_id}/status"),
    });
    let published = deps
        .sns
        .publish()
        .topic_arn(&deps.topic_arn)
        .subject(
            format!("TradAI backtest {status}: {strategy}")
                .chars()
                .take(100)
                .collect::<String>(),
        )
        .message(message.to_string())
        .message_attributes("status", attribute(status)?)
        .message_attributes("strategy", attribute(&strategy)?)
        .send()
        .await
        .map_err(|error| StepError::transient("publishing the notification", &error.into_service_error()))?;
    tracing::info!(%run_id, status, "notification published");
    if let Value::Object(fields) = &mut state {
        fields.insert(
            "notification".to_owned(),
            json!({ "message_id": published.message_id, "status": status }),
        );
    }
    Ok(state)
}
