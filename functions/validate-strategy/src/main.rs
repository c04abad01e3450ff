//! `validate-strategy` — the workflow's ValidateStrategy step (Step Functions → Lambda).
//! Input: the workflow state (`run_id`, `strategy_name`, `strategy_version` as a number or an alias).
//! Output: the state with `strategy: {version, ecr_url, config_path, tags}` (the version pinned).
//! Errors: `StrategyNotFound`, `StrategyArchived`, `MissingImage`, `MissingConfig` (each naming what is missing),
//! `InvalidInput`, `TransientDependency` (MLflow, ECR or S3 did not answer; the state machine retries).
//! Environment: MLFLOW_TRACKING_URI (required), MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD,
//! S3_CONFIG_BUCKET (required), AWS_ENDPOINT_URL (local stack only).
//! IAM: ecr:DescribeImages on the strategy repositories; s3:GetObject (HeadObject) on the configs bucket.

use tradai::images::EcrImages;
use tradai::mlflow::MlflowClient;
use tradai::settings::Env;
use validate_strategy::{Deps, Settings, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        registry: MlflowClient::new(settings.mlflow)?,
        images: EcrImages::new(aws_sdk_ecr::Client::new(&aws)),
        configs: tradai::aws::s3_objects(&aws, &settings.config_bucket),
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
