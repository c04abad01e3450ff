//! PrepareConfig: the strategy's base config (its version's `config_path`, YAML or JSON, from S3) with the run's
//! `config_overrides` merged over it and the run's own fields set, written to `temp/{run_id}/config.yaml`; answers
//! what RunBacktest needs: the task definition, the image, and the container's complete environment.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tradai::backtest::BacktestJob;
use tradai::executor::ContainerContext;
use tradai::market_data::S3Objects;
use tradai::workflow::prepare::{exchange_of, run_config, run_config_key, workflow_environment};
use tradai::workflow::{StepError, run_id_of};

/// What the step needs: S3, the configs bucket, what strategy containers are told, and the task family prefix.
pub struct Deps {
    pub s3: aws_sdk_s3::Client,
    pub config_bucket: String,
    pub context: ContainerContext,
    /// The task definition family is this prefix and the strategy name (`strategy-EmaCross`).
    pub task_prefix: String,
}

/// Answers the state with `prepared` added.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let mut state = event.payload;
    let run_id = run_id_of(&state)?;
    let job: BacktestJob = serde_path_to_error::deserialize(&state)
        .map_err(|error| StepError::invalid_input(format!("the state is not a backtest job: {error}")))?;
    let strategy = &state["strategy"];
    let (Some(version), Some(ecr_url), Some(base_uri)) = (
        strategy["version"].as_u64().and_then(|v| u32::try_from(v).ok()),
        strategy["ecr_url"].as_str(),
        strategy["config_path"].as_str(),
    ) else {
        return Err(
            StepError::invalid_input("the state has no validated strategy {version, ecr_url, config_path}").into(),
        );
    };
    let (bucket, key) = tradai::market_data::s3_object(base_uri)
        .ok_or_else(|| StepError::named("MissingConfig", format!("config_path {base_uri} is not an s3:// URI")))?;
    let bytes = S3Objects::new(deps.s3.clone(), bucket)
        .get_object(key)
        .await
        .map_err(|error| StepError::transient("reading the base config", &error))?
        .ok_or_else(|| StepError::named("MissingConfig", format!("the config {base_uri} does not exist")))?;
    let base = tradai::config::parse_document(&bytes)
        .map_err(|error| StepError::named("InvalidConfig", format!("{base_uri}: {error}")))?;
    let config = run_config(base, &job, version);
    let exchange = exchange_of(&config);

    let key = run_config_key(&job);
    let text = serde_json::to_vec_pretty(&config)
        .map_err(|error| StepError::invalid_input(format!("the merged config cannot be written: {error}")))?;
    S3Objects::new(deps.s3.clone(), &deps.config_bucket)
        .put_object(&key, text)
        .await
        .map_err(|error| StepError::transient("writing the merged config", &error))?;
    let config_path = format!("s3://{}/{key}", deps.config_bucket);
    tracing::info!(%run_id, %config_path, version, "run config prepared");

    let prepared = json!({
        "config_path": config_path,
        "ecr_url": ecr_url,
        "strategy_name": job.request.strategy_name,
        "strategy_version": version,
        "experiment_name": job.request.experiment_name,
        "exchange": exchange,
        "task_definition": format!("{}{}", deps.task_prefix, job.request.strategy_name),
        "environment": workflow_environment(&job, &deps.context, version, &config_path, &exchange),
    });
    if let Value::Object(fields) = &mut state {
        fields.insert("prepared".to_owned(), prepared);
    }
    Ok(state)
}
