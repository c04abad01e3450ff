//! Configuration, read once per cold start from the environment. A missing or malformed variable stops the
//! cold start with a message that names it.

use std::path::PathBuf;

use crate::executor::TaskPlacement;
use crate::market_data::DataLocation;

/// Default table name, as in the original design.
pub const DEFAULT_WORKFLOW_TABLE: &str = "tradai-workflow-state";
/// Default idempotency table name.
pub const DEFAULT_IDEMPOTENCY_TABLE: &str = "tradai-idempotency";

/// Everything the functions read from their environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `WORKFLOW_STATE_TABLE`: the job table.
    pub workflow_table: String,
    /// `IDEMPOTENCY_TABLE`: where `Idempotency-Key` claims are kept.
    pub idempotency_table: String,
    /// `EXECUTOR_MODE` and what that mode needs.
    pub executor: ExecutorMode,
    /// `MLFLOW_TRACKING_URI`: MLflow's address, also the base of links shown to users.
    pub mlflow_tracking_uri: Option<String>,
    /// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`: MLflow's basic-auth credentials, both or neither.
    pub mlflow_credentials: Option<(String, String)>,
    /// `AWS_ENDPOINT_URL`: one endpoint for every AWS service (the local stand-ins); unset on AWS.
    pub aws_endpoint_url: Option<String>,
    /// `ECS_CLUSTER`: the cluster strategy containers run in.
    pub ecs_cluster: Option<String>,
    /// `S3_RESULTS_BUCKET`: where strategy containers put raw results.
    pub results_bucket: Option<String>,
    /// `MARKET_DATA_S3_URI`: where candles are kept, in Freqtrade's layout.
    pub market_data: Option<DataLocation>,
    /// `S3_CONFIG_BUCKET`: strategies' base configs and merged run configs.
    pub config_bucket: Option<String>,
}

/// Where submitted jobs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutorMode {
    /// `EXECUTOR_MODE` unset: jobs are recorded and stay PENDING.
    None,
    /// `EXECUTOR_MODE=sqs`: the FIFO queue at `BACKTEST_QUEUE_URL`.
    Sqs { queue_url: String },
    /// `EXECUTOR_MODE=stepfunctions`: the backtest workflow at `BACKTEST_WORKFLOW_ARN`.
    StepFunctions { state_machine_arn: String },
    /// `EXECUTOR_MODE=ecs`: tasks in `ECS_CLUSTER`, family `ECS_TASK_PREFIX` + strategy, on `ECS_SUBNETS` with
    /// `ECS_SECURITY_GROUPS`, overriding container `ECS_CONTAINER_NAME`.
    Ecs(TaskPlacement),
    /// `EXECUTOR_MODE=local` (development): the entrypoint at `LOCAL_ENTRYPOINT` (default `tradai-entrypoint` on
    /// the PATH) as a local process, logging to `LOCAL_LOG_DIR` when set.
    Local {
        entrypoint: PathBuf,
        log_dir: Option<PathBuf>,
    },
}

/// A variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

impl SettingsError {
    fn new(name: &'static str, problem: impl Into<String>) -> Self {
        Self {
            name,
            problem: problem.into(),
        }
    }
}

impl Settings {
    /// How to reach MLflow, for functions that cannot work without it.
    pub fn mlflow(&self) -> Result<crate::mlflow::MlflowOptions, SettingsError> {
        let uri = self
            .mlflow_tracking_uri
            .clone()
            .ok_or_else(|| SettingsError::new("MLFLOW_TRACKING_URI", "required by this function"))?;
        let mut options = crate::mlflow::MlflowOptions::new(uri);
        options.credentials = self.mlflow_credentials.clone();
        Ok(options)
    }

    /// Where market data is, for functions that cannot work without it.
    pub fn market_data(&self) -> Result<DataLocation, SettingsError> {
        self.market_data
            .clone()
            .ok_or_else(|| SettingsError::new("MARKET_DATA_S3_URI", "required by this function"))
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };

        let workflow_table = match get("WORKFLOW_STATE_TABLE") {
            Some(table) => table_name("WORKFLOW_STATE_TABLE", table)?,
            None => DEFAULT_WORKFLOW_TABLE.to_owned(),
        };
        let idempotency_table = match get("IDEMPOTENCY_TABLE") {
            Some(table) => table_name("IDEMPOTENCY_TABLE", table)?,
            None => DEFAULT_IDEMPOTENCY_TABLE.to_owned(),
        };
        let executor = match get("EXECUTOR_MODE").as_deref() {
            None => ExecutorMode::None,
            Some("sqs") => {
                let queue_url = get("BACKTEST_QUEUE_URL")
                    .ok_or_else(|| SettingsError::new("BACKTEST_QUEUE_URL", "required when EXECUTOR_MODE=sqs"))?;
                let queue_url = http_url("BACKTEST_QUEUE_URL", queue_url)?;
                if !queue_url.ends_with(".fifo") {
                    return Err(SettingsError::new(
                        "BACKTEST_QUEUE_URL",
                        format!("{queue_url:?} is not a FIFO queue (its name must end in .fifo)"),
                    ));
                }
                ExecutorMode::Sqs { queue_url }
            }
            Some("stepfunctions") => {
                let arn = get("BACKTEST_WORKFLOW_ARN").ok_or_else(|| {
                    SettingsError::new("BACKTEST_WORKFLOW_ARN", "required when EXECUTOR_MODE=stepfunctions")
                })?;
                if !arn.starts_with("arn:") || !arn.contains(":stateMachine:") {
                    return Err(SettingsError::new(
                        "BACKTEST_WORKFLOW_ARN",
                        format!("{arn:?} is not a state machine ARN"),
                    ));
                }
                ExecutorMode::StepFunctions { state_machine_arn: arn }
            }
            Some("ecs") => {
                let required = |name: &'static str| {
                    get(name).ok_or_else(|| SettingsError::new(name, "required when EXECUTOR_MODE=ecs"))
                };
                let list = |text: Option<String>| -> Vec<String> {
                    text.unwrap_or_default()
                        .split(',')
                        .map(|item| item.trim().to_owned())
                        .filter(|item| !item.is_empty())
                        .collect()
                };
                let subnets = list(Some(required("ECS_SUBNETS")?));
                if subnets.is_empty() {
                    return Err(SettingsError::new("ECS_SUBNETS", "names no subnet"));
                }
                ExecutorMode::Ecs(TaskPlacement {
                    cluster: required("ECS_CLUSTER")?,
                    task_prefix: get("ECS_TASK_PREFIX").unwrap_or_else(|| "strategy-".to_owned()),
                    subnets,
                    security_groups: list(get("ECS_SECURITY_GROUPS")),
                    container_name: get("ECS_CONTAINER_NAME").unwrap_or_else(|| "strategy".to_owned()),
                })
            }
            Some("local") => ExecutorMode::Local {
                entrypoint: PathBuf::from(get("LOCAL_ENTRYPOINT").unwrap_or_else(|| "tradai-entrypoint".to_owned())),
                log_dir: get("LOCAL_LOG_DIR").map(PathBuf::from),
            },
            Some(other) => {
                return Err(SettingsError::new(
                    "EXECUTOR_MODE",
                    format!("unknown mode {other:?}; expected sqs, stepfunctions, ecs, local or unset"),
                ));
            }
        };
        let mlflow_tracking_uri = get("MLFLOW_TRACKING_URI")
            .map(|uri| http_url("MLFLOW_TRACKING_URI", uri))
            .transpose()?;
        let mlflow_credentials = match (get("MLFLOW_TRACKING_USERNAME"), get("MLFLOW_TRACKING_PASSWORD")) {
            (Some(user), Some(password)) => Some((user, password)),
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
        let aws_endpoint_url = get("AWS_ENDPOINT_URL")
            .map(|url| http_url("AWS_ENDPOINT_URL", url))
            .transpose()?;
        let ecs_cluster = get("ECS_CLUSTER");
        let results_bucket = get("S3_RESULTS_BUCKET");
        let config_bucket = get("S3_CONFIG_BUCKET");
        let market_data = get("MARKET_DATA_S3_URI")
            .map(|uri| DataLocation::parse(&uri).map_err(|problem| SettingsError::new("MARKET_DATA_S3_URI", problem)))
            .transpose()?;
        Ok(Self {
            workflow_table,
            idempotency_table,
            executor,
            mlflow_tracking_uri,
            mlflow_credentials,
            aws_endpoint_url,
            ecs_cluster,
            results_bucket,
            market_data,
            config_bucket,
        })
    }
}

/// DynamoDB's rule for table names: 3 to 255 of letters, digits, `_`, `-` and `.`.
fn table_name(name: &'static str, value: String) -> Result<String, SettingsError> {
    let valid = (3..=255).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(value)
    } else {
        Err(SettingsError::new(
            name,
            format!("{value:?} is not a valid DynamoDB table name"),
        ))
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
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = settings(&[]).expect("valid");
        assert_eq!(settings.workflow_table, DEFAULT_WORKFLOW_TABLE);
        assert_eq!(settings.executor, ExecutorMode::None);
        assert_eq!(settings.mlflow_tracking_uri, None);
    }

    #[test]
    fn sqs_mode_reads_its_queue() {
        let url = "http://127.0.0.1:4566/000000000000/tradai-backtest.fifo";
        let settings = settings(&[("EXECUTOR_MODE", "sqs"), ("BACKTEST_QUEUE_URL", url)]).expect("valid");
        assert_eq!(settings.executor, ExecutorMode::Sqs { queue_url: url.into() });
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("EXECUTOR_MODE", "sqs")], "BACKTEST_QUEUE_URL"),
            (
                &[("EXECUTOR_MODE", "sqs"), ("BACKTEST_QUEUE_URL", "http://h/q")],
                "BACKTEST_QUEUE_URL",
            ),
            (&[("EXECUTOR_MODE", "kubernetes")], "EXECUTOR_MODE"),
            (&[("WORKFLOW_STATE_TABLE", "no spaces allowed")], "WORKFLOW_STATE_TABLE"),
            (&[("MLFLOW_TRACKING_URI", "mlflow:5000")], "MLFLOW_TRACKING_URI"),
            (&[("AWS_ENDPOINT_URL", "http://")], "AWS_ENDPOINT_URL"),
        ];
        for (vars, name) in cases {
            let error = settings(vars).expect_err("rejected");
            assert_eq!(error.name, *name);
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn each_executor_mode_reads_what_it_needs() {
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:tradai-backtest-dev";
        let workflow = settings(&[("EXECUTOR_MODE", "stepfunctions"), ("BACKTEST_WORKFLOW_ARN", arn)]).expect("ok");
        assert_eq!(
            workflow.executor,
            ExecutorMode::StepFunctions {
                state_machine_arn: arn.into()
            }
        );

        let ecs = settings(&[
            ("EXECUTOR_MODE", "ecs"),
            ("ECS_CLUSTER", "tradai-dev"),
            ("ECS_SUBNETS", "subnet-a, subnet-b,"),
            ("ECS_SECURITY_GROUPS", "sg-1"),
        ])
        .expect("ok");
        let ExecutorMode::Ecs(placement) = ecs.executor else {
            panic!("not ecs")
        };
        assert_eq!(placement.subnets, ["subnet-a", "subnet-b"]);
        assert_eq!(
            (placement.task_prefix.as_str(), placement.container_name.as_str()),
            ("strategy-", "strategy")
        );

        let missing = settings(&[("EXECUTOR_MODE", "ecs"), ("ECS_CLUSTER", "c")]).expect_err("no subnets");
        assert_eq!(missing.name, "ECS_SUBNETS");
        let local = settings(&[("EXECUTOR_MODE", "local"), ("LOCAL_LOG_DIR", "/tmp/tradai")]).expect("ok");
        let expected = ExecutorMode::Local {
            entrypoint: PathBuf::from("tradai-entrypoint"),
            log_dir: Some(PathBuf::from("/tmp/tradai")),
        };
        assert_eq!(local.executor, expected);

        let wrong = settings(&[("EXECUTOR_MODE", "stepfunctions"), ("BACKTEST_WORKFLOW_ARN", "tradai")]);
        assert_eq!(wrong.expect_err("not an ARN").name, "BACKTEST_WORKFLOW_ARN");
    }

    #[test]
    fn urls_lose_their_trailing_slash() {
        let settings = settings(&[("MLFLOW_TRACKING_URI", "http://mlflow.tradai.local:5000/")]).expect("valid");
        assert_eq!(
            settings.mlflow_tracking_uri.as_deref(),
            Some("http://mlflow.tradai.local:5000")
        );
    }
}
