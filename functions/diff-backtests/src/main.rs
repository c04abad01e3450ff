//! `diff-backtests` — GET /backtests/diff?a=RUN_ID&b=RUN_ID (API Gateway HTTP API, payload 2.0).
//! Output: 200 `{a, b, same_inputs, code, run, parameters, strategy_parameters, data, engine, metrics}`: each change
//! a JSON path with both runs' values; data: the candle files (and markets snapshot) whose contents differ, with
//! their pair, both object versions and the dates the candles changed over (both versions read); metrics: each
//! summary metric of both runs and `b - a`. 400 naming `a` or `b`; 404 an unknown run; 409 a run without a
//! manifest; 503 when DynamoDB or S3 is unavailable.
//! Environment: WORKFLOW_STATE_TABLE, S3_RESULTS_BUCKET, MARKET_DATA_S3_URI, AWS_ENDPOINT_URL (local only).
//! IAM: dynamodb:GetItem on the job table; s3:GetObject on results/*; s3:GetObject and s3:GetObjectVersion on the
//! market-data prefix.

use diff_backtests::{Deps, Settings, handle};
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        store: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.workflow_table),
        results: tradai::aws::s3_objects(&aws, &settings.results_bucket),
        market_data: tradai::aws::s3_objects(&aws, &settings.market_data.bucket),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
