//! CleanupResources: removes the run's temporary objects (`temp/{run_id}/` in the configs bucket), idempotently
//! (`tradai::workflow::cleanup`). Answers the state with `cleanup: {deleted_objects}` added.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::objects::ObjectStore;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::workflow::cleanup::cleanup_resources;
use tradai::workflow::{RunRef, StepInput};

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub config_bucket: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            config_bucket: env.bucket("S3_CONFIG_BUCKET")?,
        })
    }
}

/// What the step needs: the configs bucket.
pub struct Deps<O> {
    pub configs: O,
}

/// Answers the state with `cleanup: {deleted_objects}` added.
pub async fn handle<O: ObjectStore>(deps: &Deps<O>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let state = StepInput::<RunRef>::parse(event.payload)?;
    let cleaned = cleanup_resources(&deps.configs, &state.input).await?;
    Ok(state.answer(&cleaned)?)
}
