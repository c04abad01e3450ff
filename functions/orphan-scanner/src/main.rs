//! `orphan-scanner` — EventBridge schedule `rate(15 minutes)`.
//! Input: the scheduled event (ignored). Output: `{orphan_count, jobs_marked_failed: [run_id], not_judged}`.
//! Marks FAILED (conditionally on the status and `updated_at` it read) each RUNNING job whose heartbeat is older
//! than MAX_RUNNING_MINUTES and each QUEUED job older than MAX_QUEUED_MINUTES whose execution or task is gone or
//! was never started (DescribeExecution / DescribeTasks when an ARN is recorded); publishes `OrphanedJobs`
//! (namespace `TradAI/Backtests`, dimension `Environment`, in CloudWatch's embedded metric format on standard
//! output) and alerts to ALERT_TOPIC_ARN listing the run ids.
//! Environment: WORKFLOW_STATE_TABLE, MAX_RUNNING_MINUTES (90), MAX_QUEUED_MINUTES (60), ALERT_TOPIC_ARN (required),
//! ENVIRONMENT (dev), ECS_CLUSTER, SWEEP_TABLE and SWEEP_WORKFLOW_ARN (sweeps left PENDING longer than
//! MAX_QUEUED_MINUTES by a submission that stopped: RUNNING when their workflow runs, else FAILED with their
//! PENDING children), AWS_ENDPOINT_URL (local stack only).
//! IAM: dynamodb:Query on the status index, dynamodb:UpdateItem on the table; states:DescribeExecution;
//! ecs:DescribeTasks; dynamodb:Scan and dynamodb:UpdateItem on the sweep table; sns:Publish on the alert topic (and
//! its key); the metric needs only the log permissions.

use orphan_scanner::{Deps, Settings, SweepScan, handle};
use tradai::executor::AwsInspector;
use tradai::metrics::EmfMetrics;
use tradai::notify::SnsTopic;
use tradai::settings::Env;
use tradai::store::DynamoDbStore;
use tradai::sweep::{DynamoDbSweeps, StepFunctionsSweeps};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let sweeps = settings.sweep_workflow_arn.map(|arn| SweepScan {
        store: DynamoDbSweeps::new(dynamodb.clone(), &settings.sweep_table),
        launcher: StepFunctionsSweeps::new(sfn.clone(), arn),
    });
    let deps = Deps {
        store: DynamoDbStore::new(dynamodb, &settings.workflow_table),
        inspector: AwsInspector::new(sfn, aws_sdk_ecs::Client::new(&aws), settings.ecs_cluster),
        metrics: EmfMetrics::stdout(),
        alerts: SnsTopic::new(aws_sdk_sns::Client::new(&aws), settings.alert_topic_arn),
        limits: settings.limits,
        environment: settings.environment,
        sweeps,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
