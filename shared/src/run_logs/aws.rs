//! The AWS side of a run's logs: the tasks from the execution's history (`TaskSubmitted` events of
//! `ecs:runTask`, whose output is RunTask's answer) or from ECS, the streams from the task definitions' awslogs
//! configuration, the lines from CloudWatch Logs.

use aws_sdk_ecs::types::LogDriver;
use aws_sdk_sfn::types::HistoryEventType;
use serde_json::Value;

use super::{LogLine, LogSource, LogStream, RunTask, RunTasks, SourceError, StreamPage};
use crate::backtest::WorkflowRecord;
use crate::executor::cluster_of;
use crate::time::Timestamp;

/// Finds a job's tasks in its execution's history (Step Functions) or, for a task started directly, in ECS.
#[derive(Debug, Clone)]
pub struct AwsRunTasks {
    sfn: aws_sdk_sfn::Client,
    ecs: aws_sdk_ecs::Client,
}

impl AwsRunTasks {
    pub fn new(sfn: aws_sdk_sfn::Client, ecs: aws_sdk_ecs::Client) -> Self {
        Self { sfn, ecs }
    }

    async fn tasks_in_history(&self, execution_arn: &str) -> Result<Vec<RunTask>, SourceError> {
        let mut tasks: Vec<RunTask> = Vec::new();
        let mut token = None;
        loop {
            let page = match self
                .sfn
                .get_execution_history()
                .execution_arn(execution_arn)
                .include_execution_data(true)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(page) => page,
                Err(error) => match error.into_service_error() {
                    error if error.is_execution_does_not_exist() => return Ok(tasks),
                    error => return Err(SourceError::new(format!("the history of {execution_arn}"), error)),
                },
            };
            for event in page.events() {
                let Some(details) = event
                    .task_submitted_event_details()
                    .filter(|_| event.r#type() == &HistoryEventType::TaskSubmitted)
                    .filter(|details| details.resource_type() == "ecs")
                else {
                    continue;
                };
                let task = details.output().and_then(submitted_task);
                // A retry with the same client token answers with the task already started.
                if let Some(task) = task.filter(|task| tasks.iter().all(|seen| seen.task_arn != task.task_arn)) {
                    tasks.push(task);
                }
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(tasks);
            }
        }
    }

    async fn task_in_ecs(&self, task_arn: &str) -> Result<RunTask, SourceError> {
        let described = self
            .ecs
            .describe_tasks()
            .set_cluster(cluster_of(task_arn).map(str::to_owned))
            .tasks(task_arn)
            .send()
            .await
            .map_err(|error| SourceError::new(format!("ECS about {task_arn}"), error.into_service_error()))?;
        // ECS forgets a task about an hour after it stopped: then only its ARN is known.
        let task = described.tasks().first();
        Ok(RunTask {
            task_arn: task_arn.to_owned(),
            task_definition_arn: task.and_then(|task| task.task_definition_arn.clone()),
            container: task.and_then(|task| task.containers().first()?.name.clone()),
            capacity_provider: task.and_then(|task| task.capacity_provider_name.clone()),
        })
    }
}

/// The task RunTask's answer (`TaskSubmitted` output, PascalCase) names.
fn submitted_task(output: &str) -> Option<RunTask> {
    let answer: Value = serde_json::from_str(output).ok()?;
    let task = &answer["Tasks"][0];
    let text = |value: &Value| value.as_str().map(str::to_owned);
    Some(RunTask {
        task_arn: text(&task["TaskArn"])?,
        task_definition_arn: text(&task["TaskDefinitionArn"]),
        container: text(&task["Containers"][0]["Name"]),
        capacity_provider: text(&task["CapacityProviderName"]),
    })
}

impl RunTasks for AwsRunTasks {
    async fn tasks(&self, record: &WorkflowRecord) -> Result<Vec<RunTask>, SourceError> {
        if let Some(execution) = &record.execution_arn {
            return self.tasks_in_history(execution).await;
        }
        match &record.task_arn {
            Some(task) => Ok(vec![self.task_in_ecs(task).await?]),
            None => Ok(Vec::new()),
        }
    }
}

/// Reads containers' awslogs streams from CloudWatch Logs.
#[derive(Debug, Clone)]
pub struct CloudWatchLogs {
    logs: aws_sdk_cloudwatchlogs::Client,
    ecs: aws_sdk_ecs::Client,
}

impl CloudWatchLogs {
    pub fn new(logs: aws_sdk_cloudwatchlogs::Client, ecs: aws_sdk_ecs::Client) -> Self {
        Self { logs, ecs }
    }
}

/// The stream the awslogs driver writes a task's container to: `<prefix>/<container>/<task id>`.
pub fn awslogs_stream(prefix: &str, container: &str, task_arn: &str) -> String {
    let task_id = task_arn.rsplit('/').next().unwrap_or(task_arn);
    format!("{prefix}/{container}/{task_id}")
}

impl LogSource for CloudWatchLogs {
    async fn stream_of(&self, task: &RunTask) -> Result<Option<LogStream>, SourceError> {
        let Some(definition_arn) = &task.task_definition_arn else {
            return Ok(None);
        };
        let described = self
            .ecs
            .describe_task_definition()
            .task_definition(definition_arn)
            .send()
            .await
            .map_err(|error| SourceError::new(format!("ECS about {definition_arn}"), error.into_service_error()))?;
        let containers = described
            .task_definition()
            .map(|definition| definition.container_definitions())
            .unwrap_or_default();
        let container = match &task.container {
            Some(name) => containers.iter().find(|container| container.name() == Some(name)),
            None => containers.first(),
        };
        let Some((container, logging)) =
            container.and_then(|container| Some((container.name()?, container.log_configuration()?)))
        else {
            return Ok(None);
        };
        let options = logging.options();
        let (Some(group), Some(prefix)) = (
            options.and_then(|options| options.get("awslogs-group")),
            options.and_then(|options| options.get("awslogs-stream-prefix")),
        ) else {
            // Without a prefix the stream is named by the container's Docker id, which ECS does not report.
            return Ok(None);
        };
        if logging.log_driver() != &LogDriver::Awslogs {
            return Ok(None);
        }
        Ok(Some(LogStream {
            log_group: group.clone(),
            log_stream: awslogs_stream(prefix, container, &task.task_arn),
        }))
    }

    async fn read(&self, stream: &LogStream, token: Option<&str>, limit: usize) -> Result<StreamPage, SourceError> {
        let answer = self
            .logs
            .get_log_events()
            .log_group_name(&stream.log_group)
            .log_stream_name(&stream.log_stream)
            .start_from_head(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_next_token(token.map(str::to_owned))
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => match error.into_service_error() {
                // The task has not printed yet (the driver makes the stream with the first line).
                error if error.is_resource_not_found_exception() => {
                    return Ok(StreamPage {
                        lines: Vec::new(),
                        next_token: token.map(str::to_owned),
                    });
                }
                error => {
                    return Err(SourceError::new(
                        format!("CloudWatch Logs about {}", stream.log_stream),
                        error,
                    ));
                }
            },
        };
        let lines = answer
            .events()
            .iter()
            .map(|event| LogLine {
                timestamp: event
                    .timestamp()
                    .and_then(Timestamp::from_epoch_millis)
                    .unwrap_or_else(Timestamp::now),
                message: event
                    .message()
                    .unwrap_or_default()
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            })
            .collect();
        Ok(StreamPage {
            lines,
            next_token: answer.next_forward_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submitted_task_is_read_from_run_tasks_answer() {
        let output = r#"{"Failures":[],"Tasks":[{"TaskArn":"arn:aws:ecs:us-east-1:1:task/c/abc",
            "TaskDefinitionArn":"arn:aws:ecs:us-east-1:1:task-definition/strategy-x:4",
            "CapacityProviderName":"FARGATE_SPOT","Containers":[{"Name":"strategy"}]}]}"#;
        assert_eq!(
            submitted_task(output),
            Some(RunTask {
                task_arn: "arn:aws:ecs:us-east-1:1:task/c/abc".into(),
                task_definition_arn: Some("arn:aws:ecs:us-east-1:1:task-definition/strategy-x:4".into()),
                container: Some("strategy".into()),
                capacity_provider: Some("FARGATE_SPOT".into()),
            })
        );
        assert_eq!(
            submitted_task(r#"{"Tasks":[],"Failures":[{"Reason":"no capacity"}]}"#),
            None
        );
    }

    #[test]
    fn the_stream_is_named_as_the_awslogs_driver_names_it() {
        assert_eq!(
            awslogs_stream(
                "strategy-x",
                "strategy",
                "arn:aws:ecs:us-east-1:1:task/tradai-dev/0f1e2d"
            ),
            "strategy-x/strategy/0f1e2d"
        );
    }
}
