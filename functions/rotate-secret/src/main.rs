//! `rotate-secret` — the rotation function of MLflow's three secrets (Secrets Manager → Lambda, every
//! `SecretRotationDays`): the functions' admin (`MLFLOW_CREDENTIALS_SECRET`), the strategy containers' user
//! (`STRATEGY_MLFLOW_CREDENTIALS_SECRET`) and MLflow's database (`MLFLOW_DATABASE_SECRET`).
//! Input: Secrets Manager's `{Step, SecretId, ClientRequestToken}`. Output: null; a step that fails is an error, and
//! Secrets Manager leaves the current version as it was.
//! Environment: MLFLOW_TRACKING_URI, the three secrets' ARNs, MLFLOW_DATABASE_INSTANCE, MLFLOW_CLUSTER,
//! MLFLOW_SERVICE, AWS_ENDPOINT_URL (local stack only).
//! IAM: secretsmanager:DescribeSecret, GetSecretValue, PutSecretValue and UpdateSecretVersionStage on the three
//! secrets, secretsmanager:GetRandomPassword, rds:ModifyDBInstance and rds:DescribeDBInstances on MLflow's database,
//! ecs:UpdateService on MLflow's service.

use rotate_secret::{Database, Deps, Settings, handle};
use tradai::rotation::SecretsManagerVersions;
use tradai::settings::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tradai::telemetry::init();
    let settings = Settings::from_env(&Env::process())?;
    let aws = tradai::aws::sdk_config(&settings.aws).await;
    let deps = Deps {
        secrets: SecretsManagerVersions::new(aws_sdk_secretsmanager::Client::new(&aws)),
        database: Database {
            rds: aws_sdk_rds::Client::new(&aws),
            ecs: aws_sdk_ecs::Client::new(&aws),
            instance: settings.database_instance.clone(),
            cluster: settings.mlflow_cluster.clone(),
            service: settings.mlflow_service.clone(),
            wait: std::time::Duration::from_secs(120),
        },
        settings,
    };
    lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&deps, event))).await
}
