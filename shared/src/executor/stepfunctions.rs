use aws_sdk_sfn::Client;

use super::{Handoff, LaunchError, Launcher};
use crate::backtest::{BacktestJob, Status};

/// `EXECUTOR_MODE=stepfunctions`: one execution of the backtest workflow per job, named by its run id, so a
/// retried hand-off finds the execution it started instead of starting a second one.
#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The ARN of the execution named `name`: executions live beside their state machine.
    fn execution_arn(&self, name: &str) -> String {
        execution_arn(&self.state_machine_arn, name)
    }
}

/// The ARN of the execution named `name` of state machine `state_machine_arn` (a job's execution is named by its
/// run id, so its ARN is known before anything is recorded).
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

impl Launcher for StepFunctions {
    fn handoff_status(&self) -> Status {
        Status::Queued
    }

    async fn launch(&self, job: &BacktestJob) -> Result<Handoff, LaunchError> {
        let input = serde_json::to_string(job).map_err(LaunchError::unavailable)?;
        let name = job.run_id.to_string();
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(&name)
            .input(input)
            .send()
            .await;
        let execution_arn = match result {
            Ok(started) => started.execution_arn,
            Err(error) => match error.into_service_error() {
                // Started before, by an earlier attempt of this very hand-off.
                error if error.is_execution_already_exists() => self.execution_arn(&name),
                error => return Err(LaunchError::unavailable(error)),
            },
        };
        Ok(Handoff {
            execution_arn: Some(execution_arn),
            task_arn: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arns_sit_beside_their_state_machine() {
        let config = aws_sdk_sfn::Config::builder().behavior_version_latest().build();
        let workflow = StepFunctions::new(
            Client::from_conf(config),
            "arn:aws:states:us-east-1:123456789012:stateMachine:tradai-backtest-dev",
        );
        assert_eq!(
            workflow.execution_arn("3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10"),
            "arn:aws:states:us-east-1:123456789012:execution:tradai-backtest-dev:3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10"
        );
    }
}
