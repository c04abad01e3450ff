//! How a run fails: one variant per way, each with the exit code it ends the process with and the error it came
//! from. The job records the failure's one line (the message and its causes).

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use tradai::mlflow::RegistryError;
use tradai::objects::ObjectError;
use tradai::store::StoreError;

use crate::exit;

type Source = Box<dyn Error + Send + Sync>;

/// Why a run did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunFailure {
    /// MLflow did not answer before the wait ran out.
    #[error("MLflow at {uri} did not answer within {waited:?}")]
    MlflowUnavailable {
        uri: String,
        waited: Duration,
        #[source]
        source: Source,
    },
    /// The job table did not answer.
    #[error("the workflow store is unavailable")]
    Store(#[source] StoreError),
    /// The run's folder could not be made.
    #[error("cannot prepare {}", folder.display())]
    Workspace {
        folder: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The run's config or market data could not be fetched or read.
    #[error("{what}")]
    Inputs {
        what: String,
        #[source]
        source: Option<Source>,
    },
    /// The engine could not be started.
    #[error("cannot start the engine {program}")]
    EngineStart {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the engine failed.
    #[error("the engine was lost")]
    EngineLost(#[source] std::io::Error),
    /// The engine exited non-zero; `said` is its last error line (or last line).
    #[error("the engine exited with {code}: {said}")]
    EngineExited { code: String, said: String },
    /// The engine exited 0 but logged an error, as Freqtrade does on many failures.
    #[error("the engine reported an error: {said}")]
    EngineReported { said: String },
    /// The engine exited cleanly but left no usable result.
    #[error("{0}")]
    Result(String),
    /// MLflow refused the run's params, metrics or artifact.
    #[error("MLflow logging failed")]
    Tracking(#[source] RegistryError),
    /// The raw result could not be uploaded.
    #[error("{what}")]
    Upload {
        what: String,
        #[source]
        source: Option<ObjectError>,
    },
    /// Everything is safe but the job's record: the job is left as it is.
    #[error("the result is safe but the job could not be updated")]
    Record(#[source] StoreError),
}

impl RunFailure {
    /// The exit code the process ends with.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunFailure::MlflowUnavailable { .. }
            | RunFailure::Store(_)
            | RunFailure::Tracking(_)
            | RunFailure::Upload { .. }
            | RunFailure::Record(_) => exit::DEPENDENCY,
            RunFailure::Workspace { .. }
            | RunFailure::EngineStart { .. }
            | RunFailure::EngineLost(_)
            | RunFailure::EngineExited { .. }
            | RunFailure::EngineReported { .. } => exit::ENGINE,
            RunFailure::Inputs { .. } => exit::INPUTS,
            RunFailure::Result(_) => exit::RESULT,
        }
    }

    /// Whether the job should record this failure: not when recording is what failed.
    pub fn is_recorded(&self) -> bool {
        !matches!(self, RunFailure::Record(_))
    }

    /// The inputs could not be had, for `what` reason.
    pub fn inputs(what: impl Into<String>) -> Self {
        RunFailure::Inputs {
            what: what.into(),
            source: None,
        }
    }

    /// The inputs could not be had: `what`, because of `source`.
    pub fn inputs_because(what: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Self {
        RunFailure::Inputs {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_exit_code_and_keeps_its_cause() {
        let failure = RunFailure::inputs_because("the config s3://c/x.yaml", std::io::Error::other("bad YAML"));
        assert_eq!(failure.exit_code(), exit::INPUTS);
        assert_eq!(tradai::report::chain(&failure), "the config s3://c/x.yaml: bad YAML");
        let exited = RunFailure::EngineExited {
            code: "1".into(),
            said: "No data found.".into(),
        };
        assert_eq!(exited.to_string(), "the engine exited with 1: No data found.");
        assert_eq!(exited.exit_code(), exit::ENGINE);
        assert_eq!(RunFailure::Result("no result".into()).exit_code(), exit::RESULT);
        assert!(!RunFailure::Record(StoreError::Unavailable(std::io::Error::other("down").into())).is_recorded());
    }
}
