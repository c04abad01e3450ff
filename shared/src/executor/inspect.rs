use std::future::Future;

use super::stop::cluster_of;
use crate::backtest::WorkflowRecord;

/// Whether what runs a job is still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// The recorded execution or task is still going.
    Alive,
    /// What was recorded ended (or no longer exists), as said.
    Ended(String),
    /// Nothing that runs the job was recorded: the hand-off never happened (or its answer was lost).
    Unrecorded,
}

/// Finds out whether the execution or task recorded on a job still runs.
pub trait RunInspector: Send + Sync {
    fn inspect(&self, record: &WorkflowRecord) -> impl Future<Output = Result<RunState, InspectError>> + Send;
}

/// The service that knows did not answer.
#[derive(Debug, thiserror::Error)]
#[error("could not describe {what}")]
pub struct InspectError {
    pub what: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Asks Step Functions (DescribeExecution) and ECS (DescribeTasks).
#[derive(Debug, Clone)]
pub struct AwsInspector {
    sfn: aws_sdk_sfn::Client,
    ecs: aws_sdk_ecs::Client,
    cluster: Option<String>,
}

impl AwsInspector {
    /// `cluster` is where tasks run when a task ARN does not name its cluster (old-style ARNs).
    pub fn new(sfn: aws_sdk_sfn::Client, ecs: aws_sdk_ecs::Client, cluster: Option<String>) -> Self {
        Self { sfn, ecs, cluster }
    }

    async fn execution(&self, arn: &str) -> Result<RunState, InspectError> {
        match self.sfn.describe_execution().execution_arn(arn).send().await {
            Ok(described) if described.status.as_str() == "RUNNING" => Ok(RunState::Alive),
            Ok(described) => Ok(RunState::Ended(format!(
                "its execution ended {}",
                described.status.as_str()
            ))),
            Err(error) => match error.into_service_error() {
                error if error.is_execution_does_not_exist() => {
                    Ok(RunState::Ended("its execution does not exist".into()))
                }
                error => Err(InspectError {
                    what: format!("execution {arn}"),
                    source: Box::new(error),
                }),
            },
        }
    }

    async fn task(&self, arn: &str) -> Result<RunState, InspectError> {
        let cluster = cluster_of(arn).map(str::to_owned).or_else(|| self.cluster.clone());
        let described = self
            .ecs
            .describe_tasks()
            .set_cluster(cluster)
            .tasks(arn)
            .send()
            .await
            .map_err(|error| InspectError {
                what: format!("task {arn}"),
                source: Box::new(error.into_service_error()),
            })?;
        Ok(match described.tasks().first() {
            Some(task) if task.last_status() != Some("STOPPED") => RunState::Alive,
            Some(task) => RunState::Ended(format!(
                "its task stopped: {}",
                task.stopped_reason().unwrap_or("no reason given")
            )),
            None => RunState::Ended("its task does not exist".into()),
        })
    }
}

impl RunInspector for AwsInspector {
    async fn inspect(&self, record: &WorkflowRecord) -> Result<RunState, InspectError> {
        let mut state = RunState::Unrecorded;
        for found in [
            match &record.execution_arn {
                Some(arn) => Some(self.execution(arn).await?),
                None => None,
            },
            match &record.task_arn {
                Some(arn) => Some(self.task(arn).await?),
                None => None,
            },
        ]
        .into_iter()
        .flatten()
        {
            // Alive if anything recorded is alive; otherwise what ended says why.
            state = match (state, found) {
                (RunState::Alive, _) | (_, RunState::Alive) => RunState::Alive,
                (RunState::Ended(first), RunState::Ended(second)) => RunState::Ended(format!("{first}; {second}")),
                (_, ended) => ended,
            };
        }
        Ok(state)
    }
}
