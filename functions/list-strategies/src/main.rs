//! `list-strategies` — GET /strategies (API Gateway HTTP API, payload 2.0).
//! Input: query `limit` (1 to 100, default 50), `cursor` (the previous page's `next_cursor`).
//! Output: 200 `{strategies: [{name, description, aliases, tags, latest_version, ...}], next_cursor}`; 400 naming
//! the parameter; 503 when MLflow is unavailable (timeouts of 1 s to connect and 3 s per attempt, one retry, and a
//! circuit breaker that answers at once after five failures in a row).
//! Environment: MLFLOW_TRACKING_URI (required), MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (basic auth).
//! IAM: none (MLflow is reached over the VPC).

use list_strategies::{Deps, Settings, handle};
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
