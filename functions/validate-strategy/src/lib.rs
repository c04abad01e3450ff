//! ValidateStrategy: the requested version (or alias) is registered and not archived, its image is in ECR and its
//! base config in S3 (`tradai::workflow::validate`). Answers the state with `strategy` added, the version pinned.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::images::ImageRegistry;
use tradai::mlflow::{MlflowOptions, ModelRegistry};
use tradai::objects::ObjectStore;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::workflow::StepInput;
use tradai::workflow::validate::{StrategyRequest, validate_strategy};

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub mlflow: MlflowOptions,
    /// `S3_CONFIG_BUCKET`: where base configs are (a version's `config_path` may name another bucket).
    pub config_bucket: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            mlflow: env.mlflow()?,
            config_bucket: env.bucket("S3_CONFIG_BUCKET")?,
        })
    }
}

/// What the step needs: the model registry, the image registry and the configs' object store.
pub struct Deps<R, I, O> {
    pub registry: R,
    pub images: I,
    pub configs: O,
}

/// Answers the state with `strategy: {version, ecr_url, config_path, tags}` added.
pub async fn handle<R: ModelRegistry, I: ImageRegistry, O: ObjectStore>(
    deps: &Deps<R, I, O>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let state = StepInput::<StrategyRequest>::parse(event.payload)?;
    let validated = validate_strategy(&deps.registry, &deps.images, &deps.configs, &state.input).await?;
    Ok(state.answer(&validated)?)
}
