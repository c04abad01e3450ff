//! Where a job's workflow is: the state its Step Functions execution entered last, for a person watching it.

use std::future::Future;

use aws_sdk_sfn::types::HistoryEvent;

use super::InspectError;

/// How many of an execution's newest history events are searched for the state it entered last (a Task state
/// adds a handful of events after it is entered).
const NEWEST_EVENTS: i32 = 25;

/// Finds the workflow state an execution is in.
pub trait WorkflowProgress: Send + Sync {
    /// The state execution `execution_arn` entered last; `None` when none is among its newest events.
    fn current_step(&self, execution_arn: &str) -> impl Future<Output = Result<Option<String>, InspectError>> + Send;
}

/// Reads the newest events of the execution's history (GetExecutionHistory, newest first).
#[derive(Debug, Clone)]
pub struct StepFunctionsProgress {
    sfn: aws_sdk_sfn::Client,
}

impl StepFunctionsProgress {
    pub fn new(sfn: aws_sdk_sfn::Client) -> Self {
        Self { sfn }
    }
}

/// The name of the state entered last among `newest_first`.
pub fn last_entered(newest_first: &[HistoryEvent]) -> Option<String> {
    newest_first.iter().find_map(|event| {
        event
            .state_entered_event_details()
            .map(|details| details.name().to_owned())
    })
}

impl WorkflowProgress for StepFunctionsProgress {
    async fn current_step(&self, execution_arn: &str) -> Result<Option<String>, InspectError> {
        let page = self
            .sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .include_execution_data(false)
            .max_results(NEWEST_EVENTS)
            .send()
            .await
            .map_err(|error| InspectError {
                what: format!("the history of {execution_arn}"),
                source: Box::new(error.into_service_error()),
            })?;
        Ok(last_entered(page.events()))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sfn::primitives::DateTime;
    use aws_sdk_sfn::types::{HistoryEventType, StateEnteredEventDetails};

    use super::*;

    fn event(kind: HistoryEventType, entered: Option<&str>) -> HistoryEvent {
        HistoryEvent::builder()
            .timestamp(DateTime::from_secs(0))
            .r#type(kind)
            .id(1)
            .set_state_entered_event_details(
                entered.map(|name| StateEnteredEventDetails::builder().name(name).build().expect("details")),
            )
            .build()
            .expect("an event")
    }

    #[test]
    fn the_step_is_the_state_entered_last() {
        let newest_first = [
            event(HistoryEventType::TaskSubmitted, None),
            event(HistoryEventType::TaskScheduled, None),
            event(HistoryEventType::TaskStateEntered, Some("RunBacktest")),
            event(HistoryEventType::TaskStateExited, None),
            event(HistoryEventType::TaskStateEntered, Some("PrepareConfig")),
        ];
        assert_eq!(last_entered(&newest_first).as_deref(), Some("RunBacktest"));
        assert_eq!(last_entered(&newest_first[..2]), None);
    }
}
