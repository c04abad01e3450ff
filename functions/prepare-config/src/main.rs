//! `prepare-config` — the workflow's PrepareConfig step (Step Functions → Lambda).
//! Input: the workflow state after ValidateStrategy (the job, and `strategy: {version, ecr_url, config_path}`).
//! Output: the state with `prepared: {config_path, ecr_url, strategy_name, strategy_version, experiment_name,
//! exchange, task_definition, environment, manifest_path, fingerprint[, cached_from]}` (and `summary` when the job
//! was answered from the cache); the merged config at `temp/{run_id}/config.yaml` of the configs bucket (written as
//! JSON, which YAML readers and Freqtrade both read), the manifest at `results/{run_id}/manifest.json` of the
//! results bucket, the fingerprint on the job.
//! A run that takes its parameters from a hyperopt run (`config.parameters_from`, a walk-forward's out-of-sample run)
//! gets that run's best parameters, read from its job record.
//! Errors: `InvalidInput`, `MissingConfig`, `InvalidConfig`, `StaleMarketData` (a candle file is not there),
//! `JobEnded` (cancelled while it was answered from the cache), `TransientDependency` (S3, DynamoDB; the state
//! machine retries).
//! Environment: S3_CONFIG_BUCKET and S3_RESULTS_BUCKET (required), WORKFLOW_STATE_TABLE (read, and passed on),
//! MLFLOW_TRACKING_URI, MARKET_DATA_S3_URI (hashed, and passed on to the container), ECS_TASK_PREFIX (default
//! `strategy-`), AWS_ENDPOINT_URL.
//! IAM: s3:GetObject on the configs bucket; s3:PutObject on its temp/*; s3:GetObject and s3:GetObjectVersion on the
//! market-data bucket; s3:GetObject and s3:PutObject on results/* (a re-run reads its original's manifest) and on
//! object-hashes/* (the hashes of object versions read before), s3:ListBucket of both prefixes; dynamodb:GetItem,
//! UpdateItem and Query (the fingerprint index) on the job table.

use prepare_config::{Deps, Settings, handle};
use tradai::settings::Env;
use tradai::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        configs: tradai::aws::s3_objects(&aws, &settings.config_bucket),
        results: tradai::aws::s3_objects(&aws, &settings.results_bucket),
        jobs: DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.context.workflow_table),
        context: settings.context,
        task_prefix: settings.task_prefix,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
