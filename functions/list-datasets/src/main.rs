//! `list-datasets` — GET /data/datasets (API Gateway HTTP API, payload 2.0).
//! Input: optional query `exchange`. Output: 200 `{datasets: [{exchange, symbol, timeframe, trading_mode, key,
//! size_bytes, last_modified}]}` sorted by key; 400 for an unknown parameter; 503 when S3 is unavailable.
//! Environment: MARKET_DATA_S3_URI (required), AWS_ENDPOINT_URL (local stack only).
//! IAM: s3:ListBucket on the market-data bucket (limited to its prefix).

use list_datasets::{Deps, Settings, handle};
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
