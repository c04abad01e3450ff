//! `cleanup-resources` — the workflow's CleanupResources step (Step Functions → Lambda).
//! Input: the workflow state, with `run_id`. Output: the state with `cleanup: {deleted_objects}`.
//! Errors: `InvalidInput` (no or malformed run_id), `TransientDependency` (S3 failed; the state machine retries).
//! Environment: S3_CONFIG_BUCKET (required), AWS_ENDPOINT_URL (local stand-ins only).
//! IAM: s3:ListBucket (prefix temp/) and s3:DeleteObject on temp/* of the configs bucket.

use cleanup_resources::{Deps, handle};
use tradai::market_data::S3Objects;
use tradai::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env()?;
    let bucket = settings
        .config_bucket
        .clone()
        .ok_or("environment variable S3_CONFIG_BUCKET: required")?;
    let aws = tradai::aws::sdk_config(&settings).await;
    let deps = Deps {
        configs: S3Objects::new(tradai::aws::s3_client(&aws), bucket),
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
