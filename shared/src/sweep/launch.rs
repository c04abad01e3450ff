//! Starting and stopping a sweep's workflow: one execution of the sweep state machine per sweep, named by its id,
//! so a retried start finds the execution it started instead of starting a second one.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::record::SweepRecord;
use crate::executor::{LaunchError, StopError, execution_arn};

/// The sweep workflow's input: the sweep, where its children's list is, and how the map runs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepInput {
    pub sweep_id: String,
    /// The S3 object the Distributed Map reads its items from (`ItemReader`, `s3:getObject`).
    pub items: ItemsObject,
    pub max_concurrency: u32,
    /// A float: Step Functions takes a whole number too, moto's parser only a float.
    pub tolerated_failure_percentage: f64,
}

/// An S3 object as the `ItemReader` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemsObject {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
}

/// Starts and stops sweep workflows.
pub trait SweepLauncher: Send + Sync {
    /// Starts the workflow of `sweep` with `input`, or finds the one started before; answers its execution ARN.
    fn start(
        &self,
        sweep: &SweepRecord,
        input: &SweepInput,
    ) -> impl Future<Output = Result<String, LaunchError>> + Send;

    /// The execution of sweep `sweep`'s workflow, named by its id, and its status (`RUNNING`, `SUCCEEDED`, …), if
    /// one was started.
    fn execution(
        &self,
        sweep: &SweepRecord,
    ) -> impl Future<Output = Result<Option<(String, String)>, LaunchError>> + Send;

    /// Stops the execution `execution_arn` (stopping one that ended is not an error).
    fn stop(&self, execution_arn: &str, reason: &str) -> impl Future<Output = Result<(), StopError>> + Send;
}

/// Sweep workflows on AWS Step Functions.
#[derive(Debug, Clone)]
pub struct StepFunctionsSweeps {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctionsSweeps {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

impl SweepLauncher for StepFunctionsSweeps {
    async fn start(&self, sweep: &SweepRecord, input: &SweepInput) -> Result<String, LaunchError> {
        let name = sweep.sweep_id.to_string();
        let text = serde_json::to_string(input).map_err(LaunchError::unavailable)?;
        let started = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(&name)
            .input(text)
            .send()
            .await;
        match started {
            Ok(started) => Ok(started.execution_arn),
            Err(error) => match error.into_service_error() {
                error if error.is_execution_already_exists() => Ok(execution_arn(&self.state_machine_arn, &name)),
                error => Err(LaunchError::unavailable(error)),
            },
        }
    }

    async fn execution(&self, sweep: &SweepRecord) -> Result<Option<(String, String)>, LaunchError> {
        let arn = execution_arn(&self.state_machine_arn, &sweep.sweep_id.to_string());
        match self.client.describe_execution().execution_arn(&arn).send().await {
            Ok(described) => Ok(Some((arn, described.status.as_str().to_owned()))),
            Err(error) => match error.into_service_error() {
                error if error.is_execution_does_not_exist() => Ok(None),
                error => Err(LaunchError::unavailable(error)),
            },
        }
    }

    async fn stop(&self, execution_arn: &str, reason: &str) -> Result<(), StopError> {
        let stopped = self
            .client
            .stop_execution()
            .execution_arn(execution_arn)
            .error("Cancelled")
            .cause(reason)
            .send()
            .await;
        match stopped {
            Ok(_) => Ok(()),
            Err(error) => match error.into_service_error() {
                error if error.is_execution_does_not_exist() => Ok(()),
                error => Err(StopError {
                    what: format!("sweep execution {execution_arn}"),
                    source: Box::new(error),
                }),
            },
        }
    }
}
