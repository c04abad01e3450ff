//! `check-data-freshness` — the workflow's CheckDataFreshness step (Step Functions → Lambda).
//! Input: the workflow state (`run_id`, `config.symbols`, `config.timeframe`, optional `exchange`,
//! `max_age_hours` = 24, `allow_stale` = false). Output: the state with `data_freshness` (the per-pair report).
//! Errors: `StaleMarketData` (pairs too old or missing, named), `InvalidInput`, `TransientDependency` (S3).
//! Environment: MARKET_DATA_S3_URI (required), AWS_ENDPOINT_URL (local stack only).
//! IAM: s3:GetObject on the market-data prefix (ranged reads of footers only).

use check_data_freshness::{Deps, Settings, handle};
use tradai::settings::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        objects: tradai::aws::s3_objects(&aws, &settings.market_data.bucket),
        location: settings.market_data,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
