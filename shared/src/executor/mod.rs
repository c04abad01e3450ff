//! Executors: where a submitted job is handed off, chosen by `EXECUTOR_MODE`. One port, one adapter per mode.

mod ecs;
mod inspect;
mod local;
mod progress;
mod sqs;
mod stepfunctions;
mod stop;

use std::future::Future;
use std::path::PathBuf;

pub use ecs::{ContainerContext, EcsTasks, TaskPlacement, container_environment};
pub use inspect::{AwsInspector, InspectError, RunInspector, RunState};
pub use local::{LocalProcess, inherited, start_entrypoint};
pub use progress::{StepFunctionsProgress, WorkflowProgress, last_entered};
pub use sqs::SqsQueue;
pub use stepfunctions::{StepFunctions, execution_arn};
pub(crate) use stop::cluster_of;
pub use stop::{AwsStopper, StopError, Stopper};

use crate::backtest::{BacktestJob, FieldError, Status};
use crate::settings::{Env, SettingsError};
use crate::store::RecordUpdate;

/// Where submitted jobs go (`EXECUTOR_MODE`).
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
    /// the PATH) as a local process, logging to `LOCAL_LOG_DIR` when set, with the launcher's region, credentials
    /// and endpoint (`inherited`) as a task gets them from its role.
    Local {
        entrypoint: PathBuf,
        log_dir: Option<PathBuf>,
        inherited: Vec<(String, String)>,
    },
}

impl ExecutorMode {
    /// The mode `EXECUTOR_MODE` selects, with what that mode needs.
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Self::named_by(env, "EXECUTOR_MODE", env.optional("EXECUTOR_MODE").as_deref())
    }

    /// How the queue consumer launches jobs (`LAUNCH_MODE`): `stepfunctions` (the default) or `ecs`.
    pub fn for_launch(env: &Env) -> Result<Self, SettingsError> {
        match env.optional("LAUNCH_MODE").as_deref().unwrap_or("stepfunctions") {
            mode @ ("stepfunctions" | "ecs") => Self::named_by(env, "LAUNCH_MODE", Some(mode)),
            other => Err(SettingsError::new(
                "LAUNCH_MODE",
                format!("unknown mode {other:?}; expected stepfunctions or ecs"),
            )),
        }
    }

    /// The mode `mode` (as variable `variable` names it), with what that mode needs.
    fn named_by(env: &Env, variable: &'static str, mode: Option<&str>) -> Result<Self, SettingsError> {
        let required_by = |mode: &str| format!("required when {variable}={mode}");
        let mode = match mode {
            None => ExecutorMode::None,
            Some("sqs") => {
                let queue_url = env
                    .http_url("BACKTEST_QUEUE_URL")?
                    .ok_or_else(|| SettingsError::new("BACKTEST_QUEUE_URL", required_by("sqs")))?;
                if !queue_url.ends_with(".fifo") {
                    return Err(SettingsError::new(
                        "BACKTEST_QUEUE_URL",
                        format!("{queue_url:?} is not a FIFO queue (its name must end in .fifo)"),
                    ));
                }
                ExecutorMode::Sqs { queue_url }
            }
            Some("stepfunctions") => {
                let arn = env
                    .optional("BACKTEST_WORKFLOW_ARN")
                    .ok_or_else(|| SettingsError::new("BACKTEST_WORKFLOW_ARN", required_by("stepfunctions")))?;
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
                    env.optional(name)
                        .ok_or_else(|| SettingsError::new(name, required_by("ecs")))
                };
                let subnets = list(Some(required("ECS_SUBNETS")?));
                if subnets.is_empty() {
                    return Err(SettingsError::new("ECS_SUBNETS", "names no subnet"));
                }
                ExecutorMode::Ecs(TaskPlacement {
                    cluster: required("ECS_CLUSTER")?,
                    task_prefix: task_prefix(env),
                    subnets,
                    security_groups: list(env.optional("ECS_SECURITY_GROUPS")),
                    container_name: env
                        .optional("ECS_CONTAINER_NAME")
                        .unwrap_or_else(|| "strategy".to_owned()),
                })
            }
            Some("local") => ExecutorMode::Local {
                entrypoint: PathBuf::from(
                    env.optional("LOCAL_ENTRYPOINT")
                        .unwrap_or_else(|| "tradai-entrypoint".to_owned()),
                ),
                log_dir: env.optional("LOCAL_LOG_DIR").map(PathBuf::from),
                inherited: inherited(env),
            },
            Some(other) => {
                return Err(SettingsError::new(
                    variable,
                    format!("unknown mode {other:?}; expected sqs, stepfunctions, ecs, local or unset"),
                ));
            }
        };
        Ok(mode)
    }
}

/// The task definition family prefix (`ECS_TASK_PREFIX`, default `strategy-`): a strategy's family is the prefix
/// and its name.
pub fn task_prefix(env: &Env) -> String {
    env.optional("ECS_TASK_PREFIX")
        .unwrap_or_else(|| "strategy-".to_owned())
}

/// A comma-separated list, without empty items.
fn list(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

/// What a launcher started for a job, recorded on it so that a cancel can stop it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handoff {
    pub execution_arn: Option<String>,
    pub task_arn: Option<String>,
}

impl Handoff {
    /// The fields to record on the job; `None` when nothing was started yet (a queued message).
    pub fn record_update(&self) -> Option<RecordUpdate> {
        if self.execution_arn.is_none() && self.task_arn.is_none() {
            return None;
        }
        Some(RecordUpdate {
            execution_arn: self.execution_arn.clone(),
            task_arn: self.task_arn.clone(),
            ..RecordUpdate::default()
        })
    }
}

/// Hands jobs to whatever will run them.
pub trait Launcher: Send + Sync {
    /// The status a job has once this launcher holds it.
    fn handoff_status(&self) -> Status;

    /// Hands `job` off. On `Ok` the job will run (or wait its turn); on `Err` nothing was handed off.
    fn launch(&self, job: &BacktestJob) -> impl Future<Output = Result<Handoff, LaunchError>> + Send;

    /// Whether this launcher can ever take `job`: a job it never could is refused before it is recorded (naming the
    /// field to change), not failed at launch. Launchers without limits of their own take every valid job.
    fn admits(&self, _job: &BacktestJob) -> Result<(), FieldError> {
        Ok(())
    }
}

/// No executor configured: jobs are recorded and stay PENDING until someone hands them off.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExecutor;

impl Launcher for NoExecutor {
    fn handoff_status(&self) -> Status {
        Status::Pending
    }

    async fn launch(&self, _job: &BacktestJob) -> Result<Handoff, LaunchError> {
        Ok(Handoff::default())
    }
}

/// The executor selected by the settings.
#[derive(Debug, Clone)]
pub enum Executor {
    None(NoExecutor),
    Sqs(SqsQueue),
    StepFunctions(StepFunctions),
    Ecs(EcsTasks),
    Local(LocalProcess),
}

impl Launcher for Executor {
    fn handoff_status(&self) -> Status {
        match self {
            Executor::None(none) => none.handoff_status(),
            Executor::Sqs(queue) => queue.handoff_status(),
            Executor::StepFunctions(workflow) => workflow.handoff_status(),
            Executor::Ecs(tasks) => tasks.handoff_status(),
            Executor::Local(process) => process.handoff_status(),
        }
    }

    fn admits(&self, job: &BacktestJob) -> Result<(), FieldError> {
        match self {
            Executor::Ecs(tasks) => tasks.admits(job),
            _ => Ok(()),
        }
    }

    async fn launch(&self, job: &BacktestJob) -> Result<Handoff, LaunchError> {
        match self {
            Executor::None(none) => none.launch(job).await,
            Executor::Sqs(queue) => queue.launch(job).await,
            Executor::StepFunctions(workflow) => workflow.launch(job).await,
            Executor::Ecs(tasks) => tasks.launch(job).await,
            Executor::Local(process) => process.launch(job).await,
        }
    }
}

impl Executor {
    /// The executor for `mode`, with its clients made from `aws`; containers are told `context`.
    pub fn new(mode: &ExecutorMode, context: ContainerContext, aws: &aws_config::SdkConfig) -> Self {
        match mode {
            ExecutorMode::None => Executor::None(NoExecutor),
            ExecutorMode::Sqs { queue_url } => Executor::Sqs(SqsQueue::new(aws_sdk_sqs::Client::new(aws), queue_url)),
            ExecutorMode::StepFunctions { state_machine_arn } => {
                Executor::StepFunctions(StepFunctions::new(aws_sdk_sfn::Client::new(aws), state_machine_arn))
            }
            ExecutorMode::Ecs(placement) => {
                Executor::Ecs(EcsTasks::new(aws_sdk_ecs::Client::new(aws), placement.clone(), context))
            }
            ExecutorMode::Local {
                entrypoint,
                log_dir,
                inherited,
            } => Executor::Local(LocalProcess::new(
                entrypoint,
                context,
                log_dir.clone(),
                inherited.clone(),
            )),
        }
    }
}

impl ContainerContext {
    /// What a launcher tells strategy containers: `WORKFLOW_STATE_TABLE`, `MLFLOW_TRACKING_URI`,
    /// `S3_RESULTS_BUCKET` and `MARKET_DATA_S3_URI` as the launcher itself has them.
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(ContainerContext {
            workflow_table: env.workflow_table()?,
            mlflow_tracking_uri: env.optional_mlflow()?.map(|mlflow| mlflow.tracking_uri),
            results_bucket: env.optional_bucket("S3_RESULTS_BUCKET")?,
            market_data_uri: env
                .optional_market_data()?
                .map(|location| location.uri(&location.prefix)),
        })
    }
}

/// The hand-off did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the executor did not accept the job")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the executor refused the job: {0}")]
    Refused(String),
}

impl LaunchError {
    pub(crate) fn unavailable<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        LaunchError::Unavailable(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(vars: &[(&str, &str)]) -> Result<ExecutorMode, SettingsError> {
        ExecutorMode::from_env(&Env::from_vars(vars.iter().copied()))
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        assert_eq!(mode(&[]).expect("valid"), ExecutorMode::None);
    }

    #[test]
    fn sqs_mode_reads_its_queue() {
        let url = "http://127.0.0.1:4566/000000000000/tradai-backtest.fifo";
        let mode = mode(&[("EXECUTOR_MODE", "sqs"), ("BACKTEST_QUEUE_URL", url)]).expect("valid");
        assert_eq!(mode, ExecutorMode::Sqs { queue_url: url.into() });
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
        ];
        for (vars, name) in cases {
            let error = mode(vars).expect_err("rejected");
            assert_eq!(error.name, *name);
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn each_executor_mode_reads_what_it_needs() {
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:tradai-backtest-dev";
        let workflow = mode(&[("EXECUTOR_MODE", "stepfunctions"), ("BACKTEST_WORKFLOW_ARN", arn)]).expect("ok");
        assert_eq!(
            workflow,
            ExecutorMode::StepFunctions {
                state_machine_arn: arn.into()
            }
        );

        let ecs = mode(&[
            ("EXECUTOR_MODE", "ecs"),
            ("ECS_CLUSTER", "tradai-dev"),
            ("ECS_SUBNETS", "subnet-a, subnet-b,"),
            ("ECS_SECURITY_GROUPS", "sg-1"),
        ])
        .expect("ok");
        let ExecutorMode::Ecs(placement) = ecs else {
            panic!("not ecs")
        };
        assert_eq!(placement.subnets, ["subnet-a", "subnet-b"]);
        assert_eq!(
            (placement.task_prefix.as_str(), placement.container_name.as_str()),
            ("strategy-", "strategy")
        );

        let missing = mode(&[("EXECUTOR_MODE", "ecs"), ("ECS_CLUSTER", "c")]).expect_err("no subnets");
        assert_eq!(missing.name, "ECS_SUBNETS");
        let local = mode(&[
            ("EXECUTOR_MODE", "local"),
            ("LOCAL_LOG_DIR", "/tmp/tradai"),
            ("AWS_REGION", "eu-west-1"),
            ("EXECUTOR_SECRET", "not passed on"),
        ])
        .expect("ok");
        let expected = ExecutorMode::Local {
            entrypoint: PathBuf::from("tradai-entrypoint"),
            log_dir: Some(PathBuf::from("/tmp/tradai")),
            inherited: vec![("AWS_REGION".to_owned(), "eu-west-1".to_owned())],
        };
        assert_eq!(local, expected);

        let wrong = mode(&[("EXECUTOR_MODE", "stepfunctions"), ("BACKTEST_WORKFLOW_ARN", "tradai")]);
        assert_eq!(wrong.expect_err("not an ARN").name, "BACKTEST_WORKFLOW_ARN");
    }

    #[test]
    fn containers_are_told_where_the_job_mlflow_and_the_data_are() {
        let env = Env::from_vars([
            ("WORKFLOW_STATE_TABLE", "jobs"),
            ("MLFLOW_TRACKING_URI", "http://mlflow:5000/"),
            ("MARKET_DATA_S3_URI", "s3://data/ohlcv"),
        ]);
        let context = ContainerContext::from_env(&env).expect("valid");
        assert_eq!(context.workflow_table, "jobs");
        assert_eq!(context.mlflow_tracking_uri.as_deref(), Some("http://mlflow:5000"));
        assert_eq!(context.results_bucket, None);
        assert_eq!(context.market_data_uri.as_deref(), Some("s3://data/ohlcv/"));
    }

    #[test]
    fn the_consumer_launches_with_step_functions_unless_told_ecs() {
        let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:tradai-backtest-dev";
        let launch = |vars: &[(&str, &str)]| ExecutorMode::for_launch(&Env::from_vars(vars.iter().copied()));
        assert_eq!(
            launch(&[("BACKTEST_WORKFLOW_ARN", arn), ("EXECUTOR_MODE", "sqs")]).expect("valid"),
            ExecutorMode::StepFunctions {
                state_machine_arn: arn.into()
            }
        );
        let missing = launch(&[]).expect_err("no workflow");
        assert_eq!(missing.name, "BACKTEST_WORKFLOW_ARN");
        assert!(missing.problem.contains("LAUNCH_MODE=stepfunctions"), "{missing}");
        assert_eq!(
            launch(&[("LAUNCH_MODE", "sqs")]).expect_err("a loop").name,
            "LAUNCH_MODE"
        );
        let ecs = launch(&[
            ("LAUNCH_MODE", "ecs"),
            ("ECS_CLUSTER", "c"),
            ("ECS_SUBNETS", "subnet-a"),
        ]);
        assert!(matches!(ecs, Ok(ExecutorMode::Ecs(_))), "{ecs:?}");
    }
}
