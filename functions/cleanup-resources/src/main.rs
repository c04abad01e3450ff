//! `cleanup-resources` — the workflow's CleanupResources step (Step Functions → Lambda).
//! Input: the workflow state, with `run_id`. Output: the state with `cleanup: {deleted_objects}`.
//! Errors: `InvalidInput` (no or malformed run_id), `TransientDependency` (S3 failed; the state machine retries).
//! Environment: S3_CONFIG_BUCKET (required), AWS_ENDPOINT_URL (local stack only).
//! IAM: s3:ListBucket (prefix temp/) and s3:DeleteObject on temp/* of the configs bucket.

use cleanup_resources::{Deps, Settings, handle};
use tradai::settings::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        configs: tradai::aws::s3_objects(&aws, &settings.config_bucket),
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
