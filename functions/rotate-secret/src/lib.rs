//! Which of MLflow's secrets a rotation is for, and where each one's password is also kept: the admin's and the
//! strategy user's in MLflow's user store ([`tradai::rotation::MlflowUser`]), the database's in RDS ([`Database`]),
//! whose new password MLflow reads only when it starts, so finishing it starts a new MLflow task.

use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tradai::mlflow::credentials::BasicAuth;
use tradai::mlflow::{Credentials, MlflowOptions};
use tradai::report::chain;
use tradai::rotation::{
    CURRENT, MlflowUser, PasswordHolder, RotationError, RotationEvent, SecretVersions, Version, rotate,
};
use tradai::settings::{AwsSettings, Env, SettingsError};

type Source = Box<dyn std::error::Error + Send + Sync>;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    /// `MLFLOW_TRACKING_URI`; each step logs in with the credentials it rotates (or the admin's).
    pub mlflow: MlflowOptions,
    /// `MLFLOW_CREDENTIALS_SECRET`, `STRATEGY_MLFLOW_CREDENTIALS_SECRET`, `MLFLOW_DATABASE_SECRET`: the secrets'
    /// ARNs (what Secrets Manager names in its events).
    pub admin_secret: String,
    pub strategy_secret: String,
    pub database_secret: String,
    /// `MLFLOW_DATABASE_INSTANCE`: the RDS instance whose master password the database secret holds.
    pub database_instance: String,
    /// `MLFLOW_CLUSTER` and `MLFLOW_SERVICE`: MLflow's ECS service, started again when the database password changed.
    pub mlflow_cluster: String,
    pub mlflow_service: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let mut mlflow = env.mlflow()?;
        mlflow.credentials = Credentials::None;
        Ok(Self {
            aws: env.aws()?,
            mlflow,
            admin_secret: env.arn("MLFLOW_CREDENTIALS_SECRET", "secretsmanager")?,
            strategy_secret: env.arn("STRATEGY_MLFLOW_CREDENTIALS_SECRET", "secretsmanager")?,
            database_secret: env.arn("MLFLOW_DATABASE_SECRET", "secretsmanager")?,
            database_instance: env.required("MLFLOW_DATABASE_INSTANCE")?,
            mlflow_cluster: env.required("MLFLOW_CLUSTER")?,
            mlflow_service: env.required("MLFLOW_SERVICE")?,
        })
    }
}

/// MLflow's database on RDS, and the MLflow service that reads its password when a task starts.
#[derive(Debug, Clone)]
pub struct Database {
    pub rds: aws_sdk_rds::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub instance: String,
    pub cluster: String,
    pub service: String,
    /// How long testSecret waits for RDS to apply the new password.
    pub wait: Duration,
}

impl PasswordHolder for Database {
    fn name(&self) -> String {
        format!("RDS instance {}", self.instance)
    }

    /// The master password, applied now (RDS applies it within seconds, with no restart; open connections stay).
    async fn set(&self, _current: &BasicAuth, pending: &BasicAuth) -> Result<(), Source> {
        self.rds
            .modify_db_instance()
            .db_instance_identifier(&self.instance)
            .master_user_password(&pending.password)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|error| Box::new(error.into_service_error()))?;
        Ok(())
    }

    /// RDS no longer lists the password as a pending change: it took it. (The function cannot log in to the
    /// database itself: no PostgreSQL client here, and the database admits MLflow's security group only.)
    async fn test(&self, _pending: &BasicAuth) -> Result<(), Source> {
        let started = tokio::time::Instant::now();
        loop {
            let answer = self
                .rds
                .describe_db_instances()
                .db_instance_identifier(&self.instance)
                .send()
                .await
                .map_err(|error| Box::new(error.into_service_error()))?;
            let instance = answer.db_instances().first().ok_or("RDS answered no instance")?;
            let pending = instance
                .pending_modified_values()
                .is_some_and(|values| values.master_user_password().is_some());
            if !pending {
                return Ok(());
            }
            if started.elapsed() >= self.wait {
                return Err(format!("RDS has not applied the new password after {} s", self.wait.as_secs()).into());
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }

    /// A new MLflow task, which reads the new password from the secret (connections the old task opens now fail).
    async fn finished(&self) -> Result<(), Source> {
        self.ecs
            .update_service()
            .cluster(&self.cluster)
            .service(&self.service)
            .force_new_deployment(true)
            .send()
            .await
            .map_err(|error| Box::new(error.into_service_error()))?;
        Ok(())
    }
}

/// What the handler needs.
pub struct Deps<S, D> {
    pub secrets: S,
    pub database: D,
    pub settings: Settings,
}

/// Whether `named` (an event's `SecretId`: an ARN, or a name when someone invokes the function by hand) is the secret
/// whose ARN is `arn` (which ends with the name and a six-character suffix).
fn is_secret(named: &str, arn: &str) -> bool {
    named == arn
        || arn
            .rsplit_once(":secret:")
            .and_then(|(_, name)| name.rsplit_once('-'))
            .is_some_and(|(name, _)| name == named)
}

/// Runs the event's step for the secret it names.
pub async fn handle<S: SecretVersions, D: PasswordHolder>(
    deps: &Deps<S, D>,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let event: RotationEvent = serde_json::from_value(event.payload)
        .map_err(|error| format!("not a rotation event ({{Step, SecretId, ClientRequestToken}}): {error}"))?;
    let settings = &deps.settings;
    let outcome = if is_secret(&event.secret_id, &settings.admin_secret) {
        rotate(&deps.secrets, &MlflowUser::admin(settings.mlflow.clone()), &event).await
    } else if is_secret(&event.secret_id, &settings.strategy_secret) {
        match admin(&deps.secrets, &settings.admin_secret).await {
            Ok(admin) => {
                rotate(
                    &deps.secrets,
                    &MlflowUser::set_by(settings.mlflow.clone(), admin),
                    &event,
                )
                .await
            }
            Err(error) => Err(error),
        }
    } else if is_secret(&event.secret_id, &settings.database_secret) {
        rotate(&deps.secrets, &deps.database, &event).await
    } else {
        Err(RotationError::UnknownSecret(event.secret_id.clone()))
    };
    match outcome {
        Ok(()) => {
            tracing::info!(secret = %event.secret_id, step = ?event.step, "done");
            Ok(Value::Null)
        }
        Err(error) => {
            let reason = chain(&error);
            tracing::error!(secret = %event.secret_id, step = ?event.step, %reason, "rotation step failed");
            Err(reason.into())
        }
    }
}

/// The admin's current credentials, which set the strategy user's password.
async fn admin(secrets: &impl SecretVersions, secret: &str) -> Result<BasicAuth, RotationError> {
    let malformed = || RotationError::Malformed {
        secret: secret.to_owned(),
    };
    let text = secrets
        .value(secret, Version::Stage(CURRENT))
        .await?
        .ok_or_else(malformed)?;
    serde_json::from_str(&text).map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_named_by_its_arn_or_its_name() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tradai/dev/mlflow-AbCdEf";
        assert!(is_secret(arn, arn));
        assert!(is_secret("tradai/dev/mlflow", arn));
        assert!(!is_secret("tradai/dev/mlflow-strategy", arn));
        assert!(!is_secret("tradai/dev/mlflow-AbCdEf-x", arn));
    }
}
