//! MarkFailed: the workflow's failure path. A Catch put the error (`{"Error", "Cause"}`) under `error` and a Pass
//! state the failed step's name under `failed_step`; the job gets FAILED with the error's one-line reason, unless
//! it already ended (cancelled, or failed by the container with its own reason), which it keeps.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tradai::store::WorkflowStore;
use tradai::workflow::failure::{mark_failed, reason};
use tradai::workflow::{StepError, run_id_of};

/// What the step needs: the job table.
pub struct Deps<S> {
    pub store: S,
}

/// Answers the state with `error.Cause` made one line, and `job_status`: the status the job has now.
pub async fn handle<S: WorkflowStore>(deps: &Deps<S>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let mut state = event.payload;
    let run_id = run_id_of(&state)?;
    let step = state
        .get("failed_step")
        .and_then(Value::as_str)
        .unwrap_or("Workflow")
        .to_owned();
    let error = state.get("error").cloned().unwrap_or(Value::Null);
    let why = reason(&error);
    let record = mark_failed(&deps.store, run_id, &why, &step)
        .await
        .map_err(|error| StepError::transient("the workflow store", &error))?
        .ok_or_else(|| StepError::invalid_input(format!("no job with run_id {run_id}")))?;
    // A job the container failed itself keeps its own, more precise reason and step: the notification says those.
    let (why, step) = match (&record.error, &record.failed_step) {
        (Some(error), Some(failed_step)) => (error.clone(), failed_step.clone()),
        _ => (why, step),
    };
    let status = record.status;
    tracing::warn!(%run_id, %step, reason = %why, %status, "backtest failed");
    if let Value::Object(fields) = &mut state {
        let name = error["Error"].as_str().unwrap_or("Failed").to_owned();
        fields.insert("error".to_owned(), json!({ "Error": name, "Cause": why }));
        fields.insert("failed_step".to_owned(), json!(step));
        fields.insert("job_status".to_owned(), json!(status));
    }
    Ok(state)
}
