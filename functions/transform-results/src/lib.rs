//! TransformResults: the engine's raw result summarised, `summary.json` and `equity.svg` written beside it and to
//! MLflow, the job completed (`tradai::workflow::transform`). Answers the state with `summary` added; repeatable.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::mlflow::{ExperimentTracker, MlflowOptions};
use tradai::objects::ObjectStore;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;
use tradai::workflow::transform::transform_results;
use tradai::workflow::{RunRef, StepInput};

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub results_bucket: String,
    pub workflow_table: String,
    /// MLflow, when configured: the summary and chart become artifacts of the job's run.
    pub mlflow: Option<MlflowOptions>,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            results_bucket: env.bucket("S3_RESULTS_BUCKET")?,
            workflow_table: env.workflow_table()?,
            mlflow: env.optional_mlflow()?,
        })
    }
}

/// What the step needs: the results bucket, the job table, and MLflow (when configured).
pub struct Deps<O, S, T> {
    pub results: O,
    pub store: S,
    pub tracker: Option<T>,
}

/// Answers the state with `summary` added.
pub async fn handle<O: ObjectStore, S: WorkflowStore, T: ExperimentTracker>(
    deps: &Deps<O, S, T>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let state = StepInput::<RunRef>::parse(event.payload)?;
    let transformed = transform_results(&deps.results, &deps.store, deps.tracker.as_ref(), &state.input).await?;
    Ok(state.answer(&transformed)?)
}
