//! `data-uploads` — POST /data/uploads (API Gateway HTTP API, payload 2.0).
//! Input: `{exchange, files: [{pair, timeframe, sha256, size_bytes}], markets?: {sha256, size_bytes}}` (SHA-256 in
//! hex). Output: 200 `{exchange, expires_at, files: [{pair, timeframe, key, url, method, headers}], markets?}`:
//! one pre-signed PUT per file at its layout key, good for 15 minutes and only for exactly those bytes; 400 naming
//! the field; 503 when the PUTs cannot be signed. Nothing is written by asking.
//! Environment: MARKET_DATA_S3_URI (required), AWS_ENDPOINT_URL (local stack only).
//! IAM: s3:PutObject on the market-data prefix (the URLs carry the function's permission); s3:GetObject of the
//! markets snapshots and s3:ListBucket of the prefix (the current snapshot's version and GET).

use data_uploads::{Deps, Settings, handle};
use tradai::settings::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        signer: tradai::aws::s3_objects(&aws, &settings.market_data.bucket),
        location: settings.market_data,
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
