//! The workflow's errors: one enum whose variants are the names the state machine's Retry and Catch match on.
//! `error_type()` gives that name; a step answers an error as a `lambda_runtime::Diagnostic` whose message is the
//! one line MarkFailed records, causes included.

use std::error::Error;

use lambda_runtime::Diagnostic;

use crate::report::chain;

type Source = Box<dyn Error + Send + Sync>;

/// Why a workflow step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The requested strategy version or alias is not in the registry.
    #[error("strategy {name} version {version} is not registered")]
    StrategyNotFound { name: String, version: String },
    #[error("strategy {name} version {version} is archived")]
    StrategyArchived { name: String, version: u32 },
    /// The version names no image, or its image is not in the registry.
    #[error("{0}")]
    MissingImage(String),
    /// The version names no base config, or the config is not there.
    #[error("{0}")]
    MissingConfig(String),
    /// The base config is there but is not a YAML or JSON document.
    #[error("{uri}")]
    InvalidConfig {
        uri: String,
        #[source]
        source: Source,
    },
    /// The run's pairs have no candles recent enough (and the run does not allow stale data).
    #[error("{0}")]
    StaleMarketData(String),
    /// The engine left no result where the step reads it.
    #[error("{0}")]
    MissingResult(String),
    /// The engine's result cannot be read or summarised.
    #[error("{0}")]
    InvalidResult(#[source] crate::results::ResultError),
    /// The job ended (a cancel) while the step worked.
    #[error("{0}")]
    JobEnded(String),
    /// The state is not what the step needs; retrying cannot help.
    #[error("{what}")]
    InvalidInput {
        what: String,
        #[source]
        source: Option<Source>,
    },
    /// A dependency failed in a way a retry may fix.
    #[error("{what}")]
    TransientDependency {
        what: String,
        #[source]
        source: Source,
    },
}

/// The name of a [`StepError`], as the state machine spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorType {
    StrategyNotFound,
    StrategyArchived,
    MissingImage,
    MissingConfig,
    InvalidConfig,
    StaleMarketData,
    MissingResult,
    InvalidResult,
    JobEnded,
    InvalidInput,
    TransientDependency,
}

impl ErrorType {
    /// Every error a step can raise.
    pub const ALL: &[ErrorType] = &[
        ErrorType::StrategyNotFound,
        ErrorType::StrategyArchived,
        ErrorType::MissingImage,
        ErrorType::MissingConfig,
        ErrorType::InvalidConfig,
        ErrorType::StaleMarketData,
        ErrorType::MissingResult,
        ErrorType::InvalidResult,
        ErrorType::JobEnded,
        ErrorType::InvalidInput,
        ErrorType::TransientDependency,
    ];

    /// The stable PascalCase name in `ErrorEquals`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorType::StrategyNotFound => "StrategyNotFound",
            ErrorType::StrategyArchived => "StrategyArchived",
            ErrorType::MissingImage => "MissingImage",
            ErrorType::MissingConfig => "MissingConfig",
            ErrorType::InvalidConfig => "InvalidConfig",
            ErrorType::StaleMarketData => "StaleMarketData",
            ErrorType::MissingResult => "MissingResult",
            ErrorType::InvalidResult => "InvalidResult",
            ErrorType::JobEnded => "JobEnded",
            ErrorType::InvalidInput => "InvalidInput",
            ErrorType::TransientDependency => "TransientDependency",
        }
    }

    /// The error type named `name`, if a step can raise it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|error| error.name() == name)
    }
}

impl StepError {
    /// The state lacks what the step needs, or has it malformed.
    pub fn invalid_input(what: impl Into<String>) -> Self {
        StepError::InvalidInput {
            what: what.into(),
            source: None,
        }
    }

    /// The state cannot be read, for the reason `source` gives.
    pub fn invalid_state(what: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Self {
        StepError::InvalidInput {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }

    /// `what` failed in a way a retry may fix.
    pub fn transient(what: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Self {
        StepError::TransientDependency {
            what: what.into(),
            source: Box::new(source),
        }
    }

    /// The name the state machine matches.
    pub fn error_type(&self) -> ErrorType {
        match self {
            StepError::StrategyNotFound { .. } => ErrorType::StrategyNotFound,
            StepError::StrategyArchived { .. } => ErrorType::StrategyArchived,
            StepError::MissingImage(_) => ErrorType::MissingImage,
            StepError::MissingConfig(_) => ErrorType::MissingConfig,
            StepError::InvalidConfig { .. } => ErrorType::InvalidConfig,
            StepError::StaleMarketData(_) => ErrorType::StaleMarketData,
            StepError::MissingResult(_) => ErrorType::MissingResult,
            StepError::InvalidResult(_) => ErrorType::InvalidResult,
            StepError::JobEnded(_) => ErrorType::JobEnded,
            StepError::InvalidInput { .. } => ErrorType::InvalidInput,
            StepError::TransientDependency { .. } => ErrorType::TransientDependency,
        }
    }
}

impl From<StepError> for Diagnostic {
    fn from(error: StepError) -> Self {
        let error_type = error.error_type().name();
        let message = chain(&error);
        tracing::error!(error_type, %message, "step failed");
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_type_has_one_name() {
        for error in ErrorType::ALL {
            assert_eq!(ErrorType::from_name(error.name()), Some(*error));
        }
        let names: std::collections::BTreeSet<&str> = ErrorType::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), ErrorType::ALL.len());
        assert_eq!(ErrorType::from_name("TransientDependancy"), None);
    }

    #[test]
    fn the_diagnostic_names_the_error_and_keeps_its_causes() {
        let error = StepError::transient("reading the base config", std::io::Error::other("connection reset"));
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "TransientDependency");
        assert_eq!(diagnostic.error_message, "reading the base config: connection reset");
        let archived = StepError::StrategyArchived {
            name: "EmaCross".into(),
            version: 4,
        };
        assert_eq!(
            Diagnostic::from(archived).error_message,
            "strategy EmaCross version 4 is archived"
        );
    }
}
