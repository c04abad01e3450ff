//! `delete-datasets` — DELETE /data/datasets (API Gateway HTTP API, payload 2.0).
//! Input: query `exchange` (required), `pairs` (comma-separated) with their `timeframe`, `markets=true` for the
//! exchange's markets snapshot. Output: 200 `{exchange, deleted: [key], missing: [key]}`; 400 naming the
//! parameter; 503 when S3 is unavailable. The current versions are deleted; pinned versions stay readable.
//! Environment: MARKET_DATA_S3_URI (required), AWS_ENDPOINT_URL (local stack only).
//! IAM: s3:ListBucket on the market-data bucket (limited to its prefix), s3:DeleteObject on the prefix.

use delete_datasets::{Deps, Settings, handle};
use tradai::settings::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        objects: tradai::aws::s3_objects(&aws, &settings.market_data.bucket),
        location: settings.market_data,
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
