//! Reading configuration from the environment, once per cold start. Each function has its own settings struct
//! of exactly the variables it needs, read with these readers; a missing or malformed variable stops the cold
//! start with a message that names it. Nothing outside settings reads the environment.

use std::collections::HashMap;

use crate::executor::{ContainerContext, ExecutorMode};
use crate::market_data::DataLocation;
use crate::mlflow::{Credentials, MlflowOptions};

/// Default table name, as in the original design.
pub const DEFAULT_WORKFLOW_TABLE: &str = "tradai-workflow-state";
/// Default idempotency table name.
pub const DEFAULT_IDEMPOTENCY_TABLE: &str = "tradai-idempotency";
/// Default sweep table name.
pub const DEFAULT_SWEEP_TABLE: &str = "tradai-sweeps";

/// What a strategy task is given: CPU units (1024 = 1 vCPU) and memory in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSize {
    pub cpu: u32,
    pub memory_mib: u32,
}

/// A variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

impl SettingsError {
    pub fn new(name: &'static str, problem: impl Into<String>) -> Self {
        Self {
            name,
            problem: problem.into(),
        }
    }
}

/// The environment as a function starts with it. Values are trimmed; empty ones count as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Variables given by the caller (a test, or an environment built for a child process).
    pub fn from_vars<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            vars: vars
                .into_iter()
                .map(|(name, value)| (name.into(), value.into().trim().to_owned()))
                .filter(|(_, value)| !value.is_empty())
                .collect(),
        }
    }

    /// The value of `name`, if set.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// The value of `name`; unset is an error.
    pub fn required(&self, name: &'static str) -> Result<String, SettingsError> {
        self.optional(name)
            .ok_or_else(|| SettingsError::new(name, "required by this function"))
    }

    /// `name` parsed by `parse` (which says what is wrong), or `default` when unset.
    pub fn parsed<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, SettingsError> {
        match self.optional(name) {
            None => Ok(default),
            Some(text) => parse(&text).map_err(|problem| SettingsError::new(name, problem)),
        }
    }

    /// A DynamoDB table name, `default` when unset.
    pub fn table(&self, name: &'static str, default: &str) -> Result<String, SettingsError> {
        let table = self.optional(name).unwrap_or_else(|| default.to_owned());
        let valid = (3..=255).contains(&table.len())
            && table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if valid {
            Ok(table)
        } else {
            Err(SettingsError::new(
                name,
                format!("{table:?} is not a valid DynamoDB table name"),
            ))
        }
    }

    /// The job table (`WORKFLOW_STATE_TABLE`, default `tradai-workflow-state`).
    pub fn workflow_table(&self) -> Result<String, SettingsError> {
        self.table("WORKFLOW_STATE_TABLE", DEFAULT_WORKFLOW_TABLE)
    }

    /// An S3 bucket name, required.
    pub fn bucket(&self, name: &'static str) -> Result<String, SettingsError> {
        self.optional_bucket(name)?
            .ok_or_else(|| SettingsError::new(name, "required by this function"))
    }

    /// An S3 bucket name, if set.
    pub fn optional_bucket(&self, name: &'static str) -> Result<Option<String>, SettingsError> {
        let Some(bucket) = self.optional(name) else {
            return Ok(None);
        };
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if valid {
            Ok(Some(bucket))
        } else {
            Err(SettingsError::new(name, format!("{bucket:?} is not an S3 bucket name")))
        }
    }

    /// An absolute http(s) URL with a host, without a trailing slash, if set.
    pub fn http_url(&self, name: &'static str) -> Result<Option<String>, SettingsError> {
        self.optional(name).map(|value| http_url(name, value)).transpose()
    }

    /// An ARN of `service` (`sns`, `states`, …), required.
    pub fn arn(&self, name: &'static str, service: &str) -> Result<String, SettingsError> {
        let arn = self
            .optional(name)
            .ok_or_else(|| SettingsError::new(name, "required by this function"))?;
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() == 6 && parts[0] == "arn" && parts[2] == service && !parts[5].is_empty() {
            Ok(arn)
        } else {
            Err(SettingsError::new(name, format!("{arn:?} is not an {service} ARN")))
        }
    }

    /// Where candles are kept (`MARKET_DATA_S3_URI`, `s3://bucket/prefix`), if set.
    pub fn optional_market_data(&self) -> Result<Option<DataLocation>, SettingsError> {
        self.optional("MARKET_DATA_S3_URI")
            .map(|uri| DataLocation::parse(&uri).map_err(|problem| SettingsError::new("MARKET_DATA_S3_URI", problem)))
            .transpose()
    }

    /// Where candles are kept, for functions that cannot work without them.
    pub fn market_data(&self) -> Result<DataLocation, SettingsError> {
        self.optional_market_data()?
            .ok_or_else(|| SettingsError::new("MARKET_DATA_S3_URI", "required by this function"))
    }

    /// How strategy tasks are sized: `STRATEGY_TASK_CPU` (CPU units, default 1024) and `STRATEGY_TASK_MEMORY`
    /// (MiB, default 2048).
    pub fn strategy_task_size(&self) -> Result<TaskSize, SettingsError> {
        let number = |text: &str| {
            text.parse::<u32>()
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| format!("{text:?} is not a positive whole number"))
        };
        Ok(TaskSize {
            cpu: self.parsed("STRATEGY_TASK_CPU", 1024, number)?,
            memory_mib: self.parsed("STRATEGY_TASK_MEMORY", 2048, number)?,
        })
    }

    /// The stage the function runs in (`ENVIRONMENT`, default `dev`): every metric's `Environment` dimension.
    pub fn environment(&self) -> String {
        self.optional("ENVIRONMENT").unwrap_or_else(|| "dev".to_owned())
    }

    /// How to reach MLflow (`MLFLOW_TRACKING_URI`), if configured, with basic auth from `MLFLOW_CREDENTIALS_SECRET`
    /// (a Secrets Manager secret, read on first use) or `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`
    /// (both or neither; not with the secret).
    pub fn optional_mlflow(&self) -> Result<Option<MlflowOptions>, SettingsError> {
        let given = match (
            self.optional("MLFLOW_TRACKING_USERNAME"),
            self.optional("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(user), Some(password)) => Some(Credentials::given(user, password)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(SettingsError::new(
                    "MLFLOW_TRACKING_PASSWORD",
                    "required with MLFLOW_TRACKING_USERNAME",
                ));
            }
            (None, Some(_)) => {
                return Err(SettingsError::new(
                    "MLFLOW_TRACKING_USERNAME",
                    "required with MLFLOW_TRACKING_PASSWORD",
                ));
            }
        };
        let credentials = match (self.optional("MLFLOW_CREDENTIALS_SECRET"), given) {
            (Some(_), Some(_)) => {
                return Err(SettingsError::new(
                    "MLFLOW_CREDENTIALS_SECRET",
                    "names the credentials: set it or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, not both",
                ));
            }
            (Some(secret), None) => Credentials::Secret(secret),
            (None, given) => given.unwrap_or_default(),
        };
        Ok(self.http_url("MLFLOW_TRACKING_URI")?.map(|uri| {
            let mut options = MlflowOptions::new(uri);
            options.credentials = credentials;
            options
        }))
    }

    /// How to reach MLflow, for functions that cannot work without it.
    pub fn mlflow(&self) -> Result<MlflowOptions, SettingsError> {
        self.optional_mlflow()?
            .ok_or_else(|| SettingsError::new("MLFLOW_TRACKING_URI", "required by this function"))
    }

    /// What every AWS client is built with.
    pub fn aws(&self) -> Result<AwsSettings, SettingsError> {
        Ok(AwsSettings {
            endpoint_url: self.http_url("AWS_ENDPOINT_URL")?,
            timeouts: SdkTimeouts::default(),
            app_name: self.optional("AWS_LAMBDA_FUNCTION_NAME"),
        })
    }
}

/// How the AWS clients are built: `AWS_ENDPOINT_URL`, one endpoint for every AWS service (the local stack), unset
/// on AWS, and the timeouts of every call. Region and credentials come the standard way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub endpoint_url: Option<String>,
    pub timeouts: SdkTimeouts,
    /// Who calls: the function's name (`AWS_LAMBDA_FUNCTION_NAME`, set by Lambda and by `cargo lambda watch`),
    /// sent as the SDK's app name in every call's User-Agent (`app/<name>`), so a call can be told by its caller
    /// (the local stack records who made each call, to check it against that function's role). Without it the SDK
    /// takes `AWS_SDK_UA_APP_ID`, which the local ECS sets for a strategy task.
    pub app_name: Option<String>,
}

/// How long an AWS call may take, so that no client waits forever on a network that dropped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkTimeouts {
    /// To open the connection.
    pub connect: std::time::Duration,
    /// For one attempt, until the answer (a streamed body is read after it).
    pub attempt: std::time::Duration,
    /// For the whole operation, its retries included.
    pub operation: std::time::Duration,
}

impl Default for SdkTimeouts {
    /// 3 s to connect, 20 s an attempt, 60 s an operation: far above what a healthy call takes (milliseconds), and
    /// within every function's own timeout but the shortest, where Lambda's timeout ends the call anyway.
    fn default() -> Self {
        Self {
            connect: std::time::Duration::from_secs(3),
            attempt: std::time::Duration::from_secs(20),
            operation: std::time::Duration::from_secs(60),
        }
    }
}

/// What the functions that read candles need: `MARKET_DATA_S3_URI` (required) and the AWS clients' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketDataSettings {
    pub aws: AwsSettings,
    pub market_data: DataLocation,
}

impl MarketDataSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            market_data: env.market_data()?,
        })
    }
}

/// What a function that only reads or writes jobs needs: the job table and how to reach AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTableSettings {
    pub aws: AwsSettings,
    pub workflow_table: String,
}

impl JobTableSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
        })
    }
}

/// What the routes that start jobs need: the job table, where Idempotency-Key claims live (`IDEMPOTENCY_TABLE`,
/// default `tradai-idempotency`), the executor and what strategy containers are told, and the stage
/// (`ENVIRONMENT`, the dimension of the submission metric).
#[derive(Debug, Clone)]
pub struct LaunchSettings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    pub idempotency_table: String,
    pub executor: ExecutorMode,
    /// What strategy containers are told (`ecs` and `local` modes).
    pub context: ContainerContext,
    pub environment: String,
}

impl LaunchSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            idempotency_table: env.table("IDEMPOTENCY_TABLE", DEFAULT_IDEMPOTENCY_TABLE)?,
            executor: ExecutorMode::from_env(env)?,
            context: ContainerContext::from_env(env)?,
            environment: env.environment(),
        })
    }
}

/// What the routes that read jobs need: the job table, and MLflow's address as the base of the links to a job's
/// MLflow run (`MLFLOW_TRACKING_URI`, optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReadSettings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    pub mlflow_ui: Option<String>,
}

impl JobReadSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            mlflow_ui: env.http_url("MLFLOW_TRACKING_URI")?,
        })
    }
}

/// What the routes that read the model registry need: MLflow (required).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    pub mlflow: MlflowOptions,
}

impl RegistrySettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self { mlflow: env.mlflow()? })
    }
}

/// An absolute http(s) URL with a host, without a trailing slash.
fn http_url(name: &'static str, value: String) -> Result<String, SettingsError> {
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() && !value.contains(char::is_whitespace) => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(SettingsError::new(name, format!("{value:?} is not an http(s) URL"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        Env::from_vars(vars.iter().copied())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let env = env(&[("WORKFLOW_STATE_TABLE", "  ")]);
        assert_eq!(env.workflow_table().expect("valid"), DEFAULT_WORKFLOW_TABLE);
        assert!(env.optional_mlflow().expect("valid").is_none());
        assert_eq!(env.aws().expect("valid"), AwsSettings::default());
    }

    #[test]
    fn errors_name_the_variable() {
        type Read = fn(&Env) -> Result<(), SettingsError>;
        let cases: [(Env, Read, &str); 9] = [
            (
                env(&[("WORKFLOW_STATE_TABLE", "no spaces allowed")]),
                |e| e.workflow_table().map(drop),
                "WORKFLOW_STATE_TABLE",
            ),
            (
                env(&[("MLFLOW_TRACKING_URI", "mlflow:5000")]),
                |e| e.optional_mlflow().map(drop),
                "MLFLOW_TRACKING_URI",
            ),
            (
                env(&[("AWS_ENDPOINT_URL", "http://")]),
                |e| e.aws().map(drop),
                "AWS_ENDPOINT_URL",
            ),
            (env(&[]), |e| e.mlflow().map(drop), "MLFLOW_TRACKING_URI"),
            (
                env(&[("MLFLOW_TRACKING_URI", "http://m"), ("MLFLOW_TRACKING_USERNAME", "u")]),
                |e| e.mlflow().map(drop),
                "MLFLOW_TRACKING_PASSWORD",
            ),
            (
                env(&[
                    ("MLFLOW_TRACKING_URI", "http://m"),
                    ("MLFLOW_CREDENTIALS_SECRET", "tradai/dev/mlflow"),
                    ("MLFLOW_TRACKING_USERNAME", "u"),
                    ("MLFLOW_TRACKING_PASSWORD", "p"),
                ]),
                |e| e.mlflow().map(drop),
                "MLFLOW_CREDENTIALS_SECRET",
            ),
            (
                env(&[("S3_CONFIG_BUCKET", "Not_A_Bucket")]),
                |e| e.bucket("S3_CONFIG_BUCKET").map(drop),
                "S3_CONFIG_BUCKET",
            ),
            (
                env(&[("MARKET_DATA_S3_URI", "ohlcv")]),
                |e| e.market_data().map(drop),
                "MARKET_DATA_S3_URI",
            ),
            (
                env(&[("NOTIFICATION_TOPIC_ARN", "arn:aws:sqs:us-east-1:1:q")]),
                |e| e.arn("NOTIFICATION_TOPIC_ARN", "sns").map(drop),
                "NOTIFICATION_TOPIC_ARN",
            ),
        ];
        for (env, read, name) in cases {
            let error = read(&env).expect_err("rejected");
            assert_eq!(error.name, name);
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn urls_lose_their_trailing_slash() {
        let mlflow = env(&[("MLFLOW_TRACKING_URI", "http://mlflow.tradai.local:5000/")])
            .mlflow()
            .expect("valid");
        assert_eq!(mlflow.tracking_uri, "http://mlflow.tradai.local:5000");
    }

    #[test]
    fn arns_and_credentials_are_read_whole() {
        let env = env(&[
            (
                "NOTIFICATION_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:tradai-notifications",
            ),
            ("MLFLOW_TRACKING_URI", "http://m:5000"),
            ("MLFLOW_TRACKING_USERNAME", "tradai"),
            ("MLFLOW_TRACKING_PASSWORD", "secret"),
        ]);
        assert!(env.arn("NOTIFICATION_TOPIC_ARN", "sns").is_ok());
        assert_eq!(
            env.mlflow().expect("valid").credentials,
            Credentials::given("tradai", "secret")
        );
        let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tradai/dev/mlflow-AbCdEf";
        let from_secret = Env::from_vars([
            ("MLFLOW_TRACKING_URI", "http://m:5000"),
            ("MLFLOW_CREDENTIALS_SECRET", secret),
        ]);
        assert_eq!(
            from_secret.mlflow().expect("valid").credentials,
            Credentials::Secret(secret.to_owned())
        );
    }
}
