use std::future::Future;

use crate::backtest::WorkflowRecord;

/// Stops whatever runs a job: its Step Functions execution, its ECS task.
pub trait Stopper: Send + Sync {
    /// Asks everything known to run `record` to stop, giving `reason`. Answers whether anything was asked;
    /// stopping something already stopped is not an error.
    fn stop(&self, record: &WorkflowRecord, reason: &str) -> impl Future<Output = Result<bool, StopError>> + Send;
}

/// A stop request that did not reach its service.
#[derive(Debug, thiserror::Error)]
#[error("could not stop {what}")]
pub struct StopError {
    pub what: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Stops executions with Step Functions' StopExecution and tasks with ECS's StopTask.
#[derive(Debug, Clone)]
pub struct AwsStopper {
    sfn: aws_sdk_sfn::Client,
    ecs: aws_sdk_ecs::Client,
    cluster: Option<String>,
    workflow: Option<String>,
}

impl AwsStopper {
    /// `cluster` is where tasks run when a task ARN does not name its cluster (old-style ARNs).
    pub fn new(sfn: aws_sdk_sfn::Client, ecs: aws_sdk_ecs::Client, cluster: Option<String>) -> Self {
        Self {
            sfn,
            ecs,
            cluster,
            workflow: None,
        }
    }

    /// The same stopper, also stopping the execution of `state_machine_arn` named by a job's run id when none is
    /// recorded on the job (a cancel that arrives before the hand-off recorded it).
    pub fn with_workflow(mut self, state_machine_arn: Option<String>) -> Self {
        self.workflow = state_machine_arn;
        self
    }
}

/// The cluster named in a new-style task ARN, `arn:...:task/<cluster>/<id>`.
pub(crate) fn cluster_of(task_arn: &str) -> Option<&str> {
    let path = task_arn.split_once(":task/")?.1;
    let (cluster, _) = path.split_once('/')?;
    (!cluster.is_empty()).then_some(cluster)
}

impl Stopper for AwsStopper {
    async fn stop(&self, record: &WorkflowRecord, reason: &str) -> Result<bool, StopError> {
        let mut asked = false;
        if let Some(execution) = &record.execution_arn {
            self.sfn
                .stop_execution()
                .execution_arn(execution)
                .error("Cancelled")
                .cause(reason)
                .send()
                .await
                .map_err(|error| StopError {
                    what: format!("execution {execution}"),
                    source: Box::new(error.into_service_error()),
                })?;
            asked = true;
        } else if let Some(workflow) = &self.workflow {
            let execution = super::execution_arn(workflow, &record.run_id.to_string());
            let stopped = self
                .sfn
                .stop_execution()
                .execution_arn(&execution)
                .error("Cancelled")
                .cause(reason)
                .send()
                .await;
            asked = match stopped {
                Ok(_) => true,
                // Nothing was started for the job (yet): there is nothing to stop, and a later start finds it
                // CANCELLED.
                Err(error) => match error.into_service_error() {
                    error if error.is_execution_does_not_exist() => false,
                    error => {
                        return Err(StopError {
                            what: format!("execution {execution}"),
                            source: Box::new(error),
                        });
                    }
                },
            };
        }
        if let Some(task) = &record.task_arn {
            let cluster = cluster_of(task).map(str::to_owned).or_else(|| self.cluster.clone());
            self.ecs
                .stop_task()
                .set_cluster(cluster)
                .task(task)
                .reason(reason.chars().take(255).collect::<String>())
                .send()
                .await
                .map_err(|error| StopError {
                    what: format!("task {task}"),
                    source: Box::new(error.into_service_error()),
                })?;
            asked = true;
        }
        Ok(asked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_comes_from_new_style_task_arns() {
        assert_eq!(
            cluster_of("arn:aws:ecs:us-east-1:123456789012:task/tradai-dev/0f1e2d3c"),
            Some("tradai-dev")
        );
        assert_eq!(cluster_of("arn:aws:ecs:us-east-1:123456789012:task/0f1e2d3c"), None);
    }
}
