//! `get-strategy` — GET /strategies/{name} (API Gateway HTTP API, payload 2.0).
//! Input: the strategy name path parameter. Output: 200 `{name, description, aliases, tags, latest_version,
//! versions: [{version, status, aliases, tags, run_id, source, created_at_ms}]}` (newest first); 400 for a
//! malformed name; 404 for an unregistered one; 503 when MLflow is unavailable.
//! Environment: MLFLOW_TRACKING_URI (required), MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (basic auth).
//! IAM: none (MLflow is reached over the VPC).

use get_strategy::{Deps, Settings, handle};
use tradai::mlflow::MlflowClient;
use tradai::settings::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let deps = Deps {
        registry: MlflowClient::new(settings.mlflow)?,
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
