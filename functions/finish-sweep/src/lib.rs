//! FinishSweep: ranks a sweep's children into `sweeps/{id}/leaderboard.json` and its picture in the results bucket
//! and ends the sweep COMPLETED or FAILED (`tradai::sweep::finish_sweep`). Answers the state with `finished` added.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::objects::ObjectStore;
use tradai::settings::{AwsSettings, DEFAULT_SWEEP_TABLE, Env, SettingsError};
use tradai::store::WorkflowStore;
use tradai::sweep::{FinishInput, SweepStore, finish_sweep};
use tradai::workflow::StepInput;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `SWEEP_TABLE` (default `tradai-sweeps`).
    pub sweep_table: String,
    /// `S3_RESULTS_BUCKET`: where `sweeps/{id}/` is written.
    pub results_bucket: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            sweep_table: env.table("SWEEP_TABLE", DEFAULT_SWEEP_TABLE)?,
            results_bucket: env.bucket("S3_RESULTS_BUCKET")?,
        })
    }
}

/// What the step needs.
pub struct Deps<S, W, O> {
    pub sweeps: S,
    pub jobs: W,
    pub results: O,
}

/// Answers the state with `finished: {status, error?, leaderboard_uri, picture_uri, best_run_id?}` added.
pub async fn handle<S: SweepStore, W: WorkflowStore, O: ObjectStore>(
    deps: &Deps<S, W, O>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let state = StepInput::<FinishInput>::parse(event.payload)?;
    let finished = finish_sweep(&deps.sweeps, &deps.jobs, &deps.results, &state.input).await?;
    Ok(state.answer(&serde_json::json!({ "finished": finished }))?)
}
