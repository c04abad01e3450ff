//! PrepareConfig: the strategy's base config with the run's overrides merged over it and the run's own fields set,
//! written to `temp/{run_id}/config.yaml`, and the run's manifest with its fingerprint (`tradai::workflow::prepare`).
//! Answers the state with `prepared`: the task definition, the image, the container's complete environment and
//! the manifest — or `cached_from` and the summary when an earlier run of the same inputs answered the job.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::executor::{ContainerContext, task_prefix};
use tradai::objects::ObjectStore;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;
use tradai::workflow::StepInput;
use tradai::workflow::prepare::{PrepareDeps, ValidatedJob, prepare_config};

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    /// `S3_CONFIG_BUCKET`: where merged run configs are written.
    pub config_bucket: String,
    /// `S3_RESULTS_BUCKET`: where the run's manifest is written.
    pub results_bucket: String,
    /// What the strategy container is told.
    pub context: ContainerContext,
    /// `ECS_TASK_PREFIX` (default `strategy-`).
    pub task_prefix: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            config_bucket: env.bucket("S3_CONFIG_BUCKET")?,
            results_bucket: env.bucket("S3_RESULTS_BUCKET")?,
            context: ContainerContext::from_env(env)?,
            task_prefix: task_prefix(env),
        })
    }
}

/// What the step needs: the configs and results buckets, the job table (a walk-forward's out-of-sample run reads
/// the best parameters of its in-sample hyperopt there; the fingerprint and the result cache are there), what
/// strategy containers are told, and the task family prefix.
pub struct Deps<O, W> {
    pub configs: O,
    pub results: O,
    pub jobs: W,
    pub context: ContainerContext,
    /// The task definition family is this prefix and the strategy name (`strategy-EmaCross`).
    pub task_prefix: String,
}

/// Answers the state with `prepared` added.
pub async fn handle<O: ObjectStore, W: WorkflowStore>(
    deps: &Deps<O, W>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let state = StepInput::<ValidatedJob>::parse(event.payload)?;
    let step = PrepareDeps {
        configs: &deps.configs,
        results: &deps.results,
        jobs: &deps.jobs,
        context: &deps.context,
        task_prefix: &deps.task_prefix,
    };
    let prepared = prepare_config(&step, &state.input).await?;
    Ok(state.answer(&prepared)?)
}
