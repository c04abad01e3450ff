//! MarkFailed: the workflow's failure path. The job gets FAILED with the caught error's one-line reason, unless it
//! already ended (cancelled, or failed by the container with its own reason), which it keeps
//! (`tradai::workflow::failure`). Answers the state with `error.Cause` made one line and `job_status` set.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::store::WorkflowStore;
use tradai::workflow::StepInput;
use tradai::workflow::failure::{CaughtFailure, mark_failed_step};

/// What the function reads from its environment.
pub type Settings = tradai::settings::JobTableSettings;

/// What the step needs: the job table.
pub struct Deps<S> {
    pub store: S,
}

/// Answers the state with `error.Cause` made one line, and `job_status`: the status the job has now.
pub async fn handle<S: WorkflowStore>(deps: &Deps<S>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let state = StepInput::<CaughtFailure>::parse(event.payload)?;
    let marked = mark_failed_step(&deps.store, &state.input).await?;
    Ok(state.answer(&marked)?)
}
