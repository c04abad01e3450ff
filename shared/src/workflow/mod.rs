//! The backtest workflow's Lambda steps (`statemachine/backtest.asl.json`): for each, the part of the state it
//! reads, its logic behind the ports it needs, and what it adds to the state; and the errors, with stable names,
//! that the state machine's Retry and Catch match on.

pub mod cache;
pub mod cleanup;
pub mod completion;
mod error;
pub mod failure;
#[cfg(test)]
pub(crate) mod fakes;
pub mod freshness;
pub mod prepare;
mod state;
pub mod transform;
pub mod validate;

pub use error::{ErrorType, StepError};
pub use state::{Failure, RunRef, StepInput};

/// A Lambda step of the workflow: its state's name in the state machine (also what `failed_step` records) and the
/// function that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    ValidateStrategy,
    CheckDataFreshness,
    PrepareConfig,
    TransformResults,
    NotifyCompletion,
    CleanupResources,
    MarkFailed,
    /// The sweep workflow's last step (`statemachine/sweep.asl.json`).
    FinishSweep,
}

impl Step {
    pub const ALL: &[Step] = &[
        Step::ValidateStrategy,
        Step::CheckDataFreshness,
        Step::PrepareConfig,
        Step::TransformResults,
        Step::NotifyCompletion,
        Step::CleanupResources,
        Step::MarkFailed,
        Step::FinishSweep,
    ];

    /// The state's name in `statemachine/backtest.asl.json` (FinishSweep: in `statemachine/sweep.asl.json`).
    pub fn state_name(self) -> &'static str {
        match self {
            Step::ValidateStrategy => "ValidateStrategy",
            Step::CheckDataFreshness => "CheckDataFreshness",
            Step::PrepareConfig => "PrepareConfig",
            Step::TransformResults => "TransformResults",
            Step::NotifyCompletion => "NotifyCompletion",
            Step::CleanupResources => "CleanupResources",
            Step::MarkFailed => "MarkFailed",
            Step::FinishSweep => "FinishSweep",
        }
    }

    /// The function crate (and events folder) that runs the step.
    pub fn function(self) -> &'static str {
        match self {
            Step::ValidateStrategy => "validate-strategy",
            Step::CheckDataFreshness => "check-data-freshness",
            Step::PrepareConfig => "prepare-config",
            Step::TransformResults => "transform-results",
            Step::NotifyCompletion => "notify-completion",
            Step::CleanupResources => "cleanup-resources",
            Step::MarkFailed => "mark-failed",
            Step::FinishSweep => "finish-sweep",
        }
    }

    /// The step whose function is `function`.
    pub fn of_function(function: &str) -> Option<Step> {
        Self::ALL.iter().copied().find(|step| step.function() == function)
    }

    /// Every error the step's function can answer with.
    pub fn raises(self) -> &'static [ErrorType] {
        match self {
            Step::ValidateStrategy => validate::RAISES,
            Step::CheckDataFreshness => freshness::RAISES,
            Step::PrepareConfig => prepare::RAISES,
            Step::TransformResults => transform::RAISES,
            Step::NotifyCompletion => completion::RAISES,
            Step::CleanupResources => cleanup::RAISES,
            Step::MarkFailed => failure::RAISES,
            Step::FinishSweep => crate::sweep::finish::RAISES,
        }
    }
}
