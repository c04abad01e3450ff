//! `data-freshness` — POST /data/freshness (API Gateway HTTP API, payload 2.0).
//! Input: JSON `{symbols, timeframe, exchange? = "binance", max_age_hours? = 24}`.
//! Output: 200 `{exchange, timeframe, max_age_hours, checked_at, all_fresh, symbols: {"BTC/USDT": {first_candle,
//! last_candle, age_hours, is_fresh, row_count, last_modified, key} | {error, is_fresh: false, key}}}`; 400 naming
//! the field; 503 when S3 is unavailable. Reads only each file's footer (ranged GETs), never a whole file.
//! Environment: MARKET_DATA_S3_URI (required, `s3://bucket/prefix`), AWS_ENDPOINT_URL (local stack only).
//! IAM: s3:GetObject on the market-data prefix.

use data_freshness::{Deps, Settings, handle};
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
