//! NotifyCompletion: publishes how a backtest ended to the notifications topic, with message attributes
//! (`status`, `strategy`) that subscribers filter on. Runs on both paths of the workflow: after TransformResults,
//! and after MarkFailed (the state then carries `error`, and `job_status`: CANCELLED for a cancelled job).

use aws_sdk_sns::types::MessageAttributeValue;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tradai::workflow::{StepError, run_id_of};

/// What the step needs: the topic.
pub struct Deps {
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
}

fn attribute(value: &str) -> Result<MessageAttributeValue, StepError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|error| StepError::invalid_input(format!("message attribute: {error}")))
}

/// Answers the state with `notification: {message_id, status}` added.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let mut state = event.payload;
    let run_id = run_id_of(&state)?;
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
    // MarkFailed says what the job ended as (a cancelled job stays CANCELLED); otherwise the path tells.
    let status = match state.get("job_status").and_then(Value::as_str) {
        Some("CANCELLED") => "CANCELLED",
        Some("COMPLETED") if error.is_none() => "COMPLETED",
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
