//! What the workflow's step functions share: the state they read, and errors with stable names that the state
//! machine's Retry and Catch match on.

pub mod failure;
pub mod prepare;

use lambda_runtime::Diagnostic;
use serde_json::Value;

use crate::backtest::RunId;
use crate::report::chain;

/// A step failure: a stable PascalCase name (the state machine matches it) and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    pub name: &'static str,
    pub message: String,
}

impl StepError {
    /// The state is not what this step needs; retrying cannot help.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self {
            name: "InvalidInput",
            message: message.into(),
        }
    }

    /// A dependency failed in a way a retry may fix.
    pub fn transient(what: &str, error: &dyn std::error::Error) -> Self {
        Self {
            name: "TransientDependency",
            message: format!("{what}: {}", chain(error)),
        }
    }
}

impl From<StepError> for Diagnostic {
    fn from(error: StepError) -> Self {
        tracing::error!(error_type = error.name, message = %error.message, "step failed");
        Diagnostic {
            error_type: error.name.to_owned(),
            error_message: error.message,
        }
    }
}

impl StepError {
    /// A failure retrying cannot fix, named for the state machine.
    pub fn named(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }
}

/// The run id of a workflow state (`$.run_id`).
pub fn run_id_of(state: &Value) -> Result<RunId, StepError> {
    let text = state
        .get("run_id")
        .and_then(Value::as_str)
        .ok_or_else(|| StepError::invalid_input("the state has no run_id"))?;
    text.parse()
        .map_err(|error: crate::backtest::InvalidRunId| StepError::invalid_input(error.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_run_id_must_be_there_and_valid() {
        assert!(run_id_of(&json!({"run_id": "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10"})).is_ok());
        assert_eq!(run_id_of(&json!({})).expect_err("missing").name, "InvalidInput");
        assert_eq!(
            run_id_of(&json!({"run_id": 7})).expect_err("a number").name,
            "InvalidInput"
        );
        assert_eq!(
            run_id_of(&json!({"run_id": "x"})).expect_err("malformed").name,
            "InvalidInput"
        );
    }
}
