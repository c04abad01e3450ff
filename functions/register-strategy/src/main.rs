//! `register-strategy` — POST /strategies (API Gateway HTTP API, payload 2.0).
//! Input: `{name, image, base_config, timeframe, pairs, warmup_days?, description?, alias?, parameters?}` (the base
//! config's YAML or JSON text; `parameters` the hyperoptable parameters a sweep may vary, with their ranges). Output: 201 `{name, version, created, aliases, image, config_path, task_definition, tags}`;
//! 200 with the same body when this release was registered before; 400 naming the field (`image` when it is not in
//! ECR); 503 when ECR, S3, ECS or MLflow does not answer. Nothing is written unless every field is good.
//! Environment: MLFLOW_TRACKING_URI (required), MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD,
//! S3_CONFIG_BUCKET (required), ECS_TASK_PREFIX, STRATEGY_TASK_CPU, STRATEGY_TASK_MEMORY, STRATEGY_TASK_ROLE_ARN,
//! STRATEGY_EXECUTION_ROLE_ARN, STRATEGY_LOG_GROUP, AWS_ENDPOINT_URL (local stack only).
//! IAM: ecr:DescribeImages on the strategy repositories; s3:PutObject under strategies/ in the configs bucket;
//! ecs:RegisterTaskDefinition; iam:PassRole on the strategy task and execution roles.

use register_strategy::{Deps, Settings, handle};
use tradai::images::EcrImages;
use tradai::mlflow::MlflowClient;
use tradai::registration::EcsTaskDefinitions;
use tradai::settings::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        registry: MlflowClient::new(settings.mlflow)?,
        images: EcrImages::new(aws_sdk_ecr::Client::new(&aws)),
        configs: tradai::aws::s3_objects(&aws, &settings.config_bucket),
        tasks: EcsTaskDefinitions::new(aws_sdk_ecs::Client::new(&aws), settings.shape),
        task_prefix: settings.task_prefix,
        strategy_user: settings.strategy_user,
    };
    lambda_http::run(lambda_http::service_fn(|request| handle(&deps, request))).await
}
