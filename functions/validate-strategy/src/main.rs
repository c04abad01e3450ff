//! `validate-strategy` — the workflow's ValidateStrategy step (Step Functions → Lambda).
//! Input: the workflow state (`run_id`, `strategy_name`, `strategy_version` as a number or an alias).
//! Output: the state with `strategy: {version, ecr_url, config_path, tags}` (the version pinned).
//! Errors: `StrategyNotFound`, `StrategyArchived`, `MissingImage`, `MissingConfig` (each naming what is missing),
//! `InvalidInput`, `TransientDependency` (MLflow, ECR or S3 did not answer; the state machine retries).
//! Environment: MLFLOW_TRACKING_URI (required), AWS_ENDPOINT_URL (local stand-ins only).
//! IAM: ecr:DescribeImages on the strategy repositories; s3:GetObject (HeadObject) on the configs bucket.

use tradai::mlflow::MlflowClient;
use tradai::settings::Settings;
use validate_strategy::{Deps, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env()?;
    let registry = MlflowClient::new(settings.mlflow()?)?;
    let aws = tradai::aws::sdk_config(&settings).await;
    let deps = Deps {
        registry,
        ecr: aws_sdk_ecr::Client::new(&aws),
        s3: tradai::aws::s3_client(&aws),
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
