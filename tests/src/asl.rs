//! The state machines and the steps' errors, checked against each other: every name in a Retry's or Catch's
//! `ErrorEquals` is one that something in that state can raise (the step's function, the service integration, or
//! Step Functions itself), and every error a Lambda step can raise is retried or caught there, by name or by
//! `States.ALL`. A misspelled name in the ASL would otherwise only fail at run time, inside the state machine.

use std::collections::BTreeSet;

use serde_json::Value;
use tradai::workflow::Step;

/// Errors Step Functions raises itself (the `States.` names of the ASL specification).
const STATES_ERRORS: &[&str] = &[
    "States.ALL",
    "States.HeartbeatTimeout",
    "States.Timeout",
    "States.TaskFailed",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ParameterPathFailure",
    "States.QueryEvaluationError",
    "States.BranchFailed",
    "States.NoChoiceMatched",
    "States.IntrinsicFailure",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
];

/// Errors a task's service integration raises, by the resource's integration (`lambda:invoke`, `ecs:runTask`).
fn integration_errors(resource: &str) -> &'static [&'static str] {
    let service = resource.trim_start_matches("arn:aws:states:::");
    if service.starts_with("lambda:invoke") {
        &[
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "Lambda.ClientExecutionTimeoutException",
            "Lambda.Unknown",
        ]
    } else if service.starts_with("ecs:runTask") {
        // A non-empty `Failures` list from RunTask is `AmazonECS.Unknown`; ECS's own API errors are `ECS.*`.
        &[
            "AmazonECS.Unknown",
            "ECS.AmazonECSException",
            "ECS.AccessDeniedException",
            "ECS.ClientException",
            "ECS.ServerException",
            "ECS.ThrottlingException",
            "ECS.PlatformUnknownException",
            "ECS.PlatformTaskDefinitionIncompatibilityException",
        ]
    } else if service.starts_with("states:startExecution") {
        &[
            "StepFunctions.ExecutionAlreadyExistsException",
            "StepFunctions.ExecutionLimitExceededException",
        ]
    } else {
        &[]
    }
}

/// `${ValidateStrategyFunctionArn}` → the ValidateStrategy step (its function crate is `validate-strategy`).
fn step_of(function_name: &str) -> Option<Step> {
    let logical = function_name.strip_prefix("${")?.strip_suffix("Arn}")?;
    Step::of_function(&tradai_local::template::crate_of(logical))
}

/// What state `name` may raise, and for a Lambda step the errors its function raises.
struct Raises {
    allowed: BTreeSet<String>,
    from_step: Vec<&'static str>,
}

fn raises(name: &str, state: &Value, problems: &mut Vec<String>) -> Raises {
    let mut allowed: BTreeSet<String> = STATES_ERRORS.iter().map(|error| (*error).to_owned()).collect();
    let mut from_step = Vec::new();
    let resource = state["Resource"].as_str().unwrap_or_default();
    allowed.extend(integration_errors(resource).iter().map(|error| (*error).to_owned()));
    if resource.contains("lambda:invoke") {
        let function = state["Parameters"]["FunctionName"].as_str().unwrap_or_default();
        match step_of(function) {
            Some(step) => from_step = step.raises().iter().map(|error| error.name()).collect(),
            None => problems.push(format!("state {name} invokes {function}, which is no workflow step")),
        }
    }
    // A Map or Parallel state fails with whatever its inner states let through.
    for inner in inner_states(state) {
        for (inner_name, inner_state) in inner {
            let inner = raises(inner_name, inner_state, &mut Vec::new());
            allowed.extend(inner.allowed);
            allowed.extend(inner.from_step.iter().map(|error| (*error).to_owned()));
        }
    }
    allowed.extend(from_step.iter().map(|error| (*error).to_owned()));
    Raises { allowed, from_step }
}

/// The `States` maps nested in a Map (`ItemProcessor`, or the older `Iterator`) or Parallel (`Branches`) state.
fn inner_states(state: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let mut found: Vec<&serde_json::Map<String, Value>> = ["ItemProcessor", "Iterator"]
        .iter()
        .filter_map(|key| state[*key]["States"].as_object())
        .collect();
    if let Some(branches) = state["Branches"].as_array() {
        found.extend(branches.iter().filter_map(|branch| branch["States"].as_object()));
    }
    found
}

/// What is wrong with `definition`'s error handling; empty when nothing is.
pub fn check(definition: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(states) = definition["States"].as_object() {
        check_states(states, &mut problems);
    } else {
        problems.push("the definition has no States".to_owned());
    }
    problems
}

fn check_states(states: &serde_json::Map<String, Value>, problems: &mut Vec<String>) {
    for (name, state) in states {
        for inner in inner_states(state) {
            check_states(inner, problems);
        }
        let handlers: Vec<&Value> = ["Retry", "Catch"]
            .iter()
            .filter_map(|key| state[*key].as_array())
            .flatten()
            .collect();
        if handlers.is_empty() && state["Type"] != "Task" {
            continue;
        }
        let raises = raises(name, state, problems);
        let mut handled = BTreeSet::new();
        for handler in handlers {
            for error in handler["ErrorEquals"].as_array().into_iter().flatten() {
                let error = error.as_str().unwrap_or_default();
                if !raises.allowed.contains(error) {
                    problems.push(format!(
                        "state {name}: ErrorEquals names {error}, which nothing in it raises"
                    ));
                }
                handled.insert(error);
            }
        }
        if handled.contains("States.ALL") {
            continue;
        }
        for error in raises.from_step {
            if !handled.contains(error) {
                problems.push(format!(
                    "state {name}: its step can raise {error}, which it neither retries nor catches"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(function: &str, retry: &[&str], catch: &[&str]) -> Value {
        json!({"States": {"Step": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload.$": "$"},
            "Retry": [{"ErrorEquals": retry}],
            "Catch": [{"ErrorEquals": catch, "Next": "Failed"}],
            "End": true
        }, "Failed": {"Type": "Fail"}}})
    }

    #[test]
    fn a_step_that_catches_all_and_retries_what_it_raises_passes() {
        let definition = task(
            "${CheckDataFreshnessFunctionArn}",
            &["Lambda.ServiceException", "TransientDependency"],
            &["States.ALL"],
        );
        assert_eq!(check(&definition), Vec::<String>::new());
    }

    #[test]
    fn a_misspelled_error_name_is_found() {
        let definition = task(
            "${CheckDataFreshnessFunctionArn}",
            &["TransientDependancy"],
            &["States.ALL"],
        );
        assert_eq!(
            check(&definition),
            ["state Step: ErrorEquals names TransientDependancy, which nothing in it raises"]
        );
    }

    #[test]
    fn an_error_the_step_raises_must_be_retried_or_caught() {
        let definition = task(
            "${CheckDataFreshnessFunctionArn}",
            &["TransientDependency"],
            &["StaleMarketData"],
        );
        assert_eq!(
            check(&definition),
            ["state Step: its step can raise InvalidInput, which it neither retries nor catches"]
        );
    }

    #[test]
    fn an_error_of_another_step_or_an_unknown_function_is_found() {
        let definition = task("${CleanupResourcesFunctionArn}", &["StaleMarketData"], &["States.ALL"]);
        assert_eq!(check(&definition).len(), 1, "{:?}", check(&definition));
        let unknown = task("${NoSuchFunctionArn}", &[], &["States.ALL"]);
        assert!(check(&unknown)[0].contains("no workflow step"), "{:?}", check(&unknown));
    }

    #[test]
    fn an_ecs_task_may_catch_what_ecs_raises() {
        let definition = json!({"States": {"Run": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
            "Catch": [{"ErrorEquals": ["AmazonECS.Unknown", "ECS.AmazonECSException"], "Next": "Fallback"},
                      {"ErrorEquals": ["States.ALL"], "Next": "Fallback"}], "End": true},
            "Fallback": {"Type": "Pass", "End": true}}});
        assert_eq!(check(&definition), Vec::<String>::new());
    }
}
