//! `get-sweep` — GET /sweeps/{sweep_id} (API Gateway HTTP API, payload 2.0).
//! Input: the sweep id path parameter. Output: 200 `{sweep_id, status, strategy_name, strategy_version, runs,
//! progress: {queued, running, completed, failed, cancelled}, rank_by, leaderboard: {rank_by, better, best, rows},
//! failures, estimate, max_concurrency, tolerated_failure_percentage, created_at, updated_at, error?,
//! execution_arn?, submitted_by?, cancelled_by?}`; 400 malformed id; 404 unknown; 503 when DynamoDB is unavailable.
//! Environment: WORKFLOW_STATE_TABLE, SWEEP_TABLE, AWS_ENDPOINT_URL (local only).
//! IAM: dynamodb:GetItem on the sweep table; dynamodb:BatchGetItem on the job table.

use get_sweep::{Deps, Settings, handle};
use tradai::settings::Env;
use tradai::store::DynamoDbStore;
use tradai::sweep::DynamoDbSweeps;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        sweeps: DynamoDbSweeps::new(dynamodb.clone(), &settings.sweep_table),
        jobs: DynamoDbStore::new(dynamodb, &settings.workflow_table),
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
