//! FinishSweep: ranks a sweep's children into `sweeps/{id}/leaderboard.json` and its picture in the results bucket
//! and ends the sweep COMPLETED or FAILED, its MLflow parent run made with the children's runs nested under it
//! (`tradai::sweep::finish_sweep`). Answers the state with `finished` added.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::mlflow::ExperimentTracker;
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
    /// `MLFLOW_TRACKING_URI` and its credentials: where the sweep's parent run goes, if anywhere.
    pub mlflow: Option<tradai::mlflow::MlflowOptions>,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            sweep_table: env.table("SWEEP_TABLE", DEFAULT_SWEEP_TABLE)?,
            results_bucket: env.bucket("S3_RESULTS_BUCKET")?,
            mlflow: env.optional_mlflow()?,
        })
    }
}

/// What the step needs.
pub struct Deps<S, W, O, T> {
    pub sweeps: S,
    pub jobs: W,
    pub results: O,
    /// MLflow, when the sweep is tracked.
    pub tracker: Option<T>,
}

/// Answers the state with `finished: {status, error?, leaderboard_uri, picture_uri, best_run_id?}` added.
pub async fn handle<S: SweepStore, W: WorkflowStore, O: ObjectStore, T: ExperimentTracker>(
    deps: &Deps<S, W, O, T>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let state = StepInput::<FinishInput>::parse(event.payload)?;
    let finished = finish_sweep(
        &deps.sweeps,
        &deps.jobs,
        &deps.results,
        deps.tracker.as_ref(),
        &state.input,
    )
    .await?;
    Ok(state.answer(&serde_json::json!({ "finished": finished }))?)
}
