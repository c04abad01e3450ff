//! The workflow state as the steps see it. The state machine hands every Lambda step the whole state and takes
//! the step's answer as the next state, so a step reads the part it needs as a typed struct and answers the state
//! it was given with its own keys added: keys it does not know pass through untouched for the steps after it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StepError;
use crate::backtest::RunId;

/// What a step reads when the run id is all it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct RunRef {
    pub run_id: RunId,
}

/// A step's input: what the step reads, typed, and the state it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInput<T> {
    pub input: T,
    /// The state as it came: always a JSON object.
    state: Value,
}

impl<T: DeserializeOwned> StepInput<T> {
    /// Reads `state`; a state without what the step needs is `InvalidInput`, naming the field.
    pub fn parse(state: Value) -> Result<Self, StepError> {
        if !state.is_object() {
            return Err(not_an_object());
        }
        let input = serde_path_to_error::deserialize(&state).map_err(|error| {
            let what = match error.path().to_string().as_str() {
                "." => "the state".to_owned(),
                path => format!("the state's {path}"),
            };
            StepError::invalid_state(what, error.into_inner())
        })?;
        Ok(Self { input, state })
    }
}

fn not_an_object() -> StepError {
    StepError::invalid_input("the state is not a JSON object")
}

impl<T> StepInput<T> {
    /// The state, with the fields of `added` (a struct of the keys this step writes) set over it.
    pub fn answer(self, added: &impl Serialize) -> Result<Value, StepError> {
        let Value::Object(mut state) = self.state else {
            return Err(not_an_object());
        };
        match serde_json::to_value(added) {
            Ok(Value::Object(fields)) => state.extend(fields),
            Ok(_) => return Err(StepError::invalid_input("a step's answer must be a set of keys")),
            Err(error) => return Err(StepError::invalid_state("the step's answer cannot be written", error)),
        }
        Ok(Value::Object(state))
    }
}

/// What a Catch puts under `$.error`: the error's name and its cause (a Lambda error body as JSON text, the
/// stopped task as JSON for a failed `ecs:runTask.sync`, or plain text). A bare string is taken as the cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CaughtError")]
pub struct Failure {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

impl Failure {
    /// How an execution that ended outside its failure path (`ABORTED`, `TIMED_OUT`, `FAILED`) is told.
    pub fn ended_execution(status: &str) -> Self {
        Failure {
            error: format!("Execution{status}"),
            cause: format!("the workflow execution ended {status}"),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CaughtError {
    Caught {
        #[serde(rename = "Error", default)]
        error: Option<String>,
        #[serde(rename = "Cause", default)]
        cause: Option<String>,
    },
    Text(String),
    Other(serde::de::IgnoredAny),
}

impl From<CaughtError> for Failure {
    fn from(caught: CaughtError) -> Self {
        match caught {
            CaughtError::Caught { error, cause } => Failure {
                error: error.unwrap_or_default(),
                cause: cause.unwrap_or_default(),
            },
            CaughtError::Text(cause) => Failure {
                error: String::new(),
                cause,
            },
            CaughtError::Other(_) => Failure::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Reads {
        run_id: RunId,
    }

    #[derive(Serialize)]
    struct Adds {
        cleanup: u32,
    }

    #[test]
    fn unknown_keys_pass_through_and_the_answer_adds_the_steps_own() {
        let state = json!({"run_id": "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10", "prepared": {"x": 1}, "cleanup": 0});
        let input = StepInput::<Reads>::parse(state).expect("readable");
        assert_eq!(input.input.run_id.to_string(), "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10");
        let answer = input.answer(&Adds { cleanup: 2 }).expect("answered");
        assert_eq!(
            answer,
            json!({"run_id": "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10", "prepared": {"x": 1}, "cleanup": 2})
        );
    }

    #[test]
    fn a_state_without_what_the_step_reads_is_invalid_input_naming_the_field() {
        for (state, field) in [
            (json!({}), "run_id"),
            (json!({"run_id": "x"}), "run_id"),
            (json!([1]), "object"),
        ] {
            let error = StepInput::<Reads>::parse(state).expect_err("refused");
            assert_eq!(error.error_type(), super::super::ErrorType::InvalidInput);
            let message = crate::report::chain(&error);
            assert!(message.contains(field), "{message}");
        }
    }

    #[test]
    fn a_caught_error_is_read_in_every_form_step_functions_gives() {
        let read = |value: Value| serde_json::from_value::<Failure>(value).expect("readable");
        assert_eq!(
            read(json!({"Error": "States.TaskFailed", "Cause": "{}"})),
            Failure {
                error: "States.TaskFailed".into(),
                cause: "{}".into()
            }
        );
        assert_eq!(read(json!("exited with 1")).cause, "exited with 1");
        assert_eq!(read(json!({"Error": "States.Timeout"})).cause, "");
        assert_eq!(read(json!(7)), Failure::default());
    }
}
