//! The backtest domain: run ids, statuses and their transitions, the request a user submits, and the job record.

mod record;
mod request;
mod run_id;
mod status;

pub use record::{BacktestJob, WorkflowRecord};
pub use request::{
    BacktestConfig, BacktestRequest, FieldError, Hyperopt, MAX_OVERRIDES_BYTES, OVERRIDABLE_SETTINGS, StrategyVersion,
    Symbol, Timeframe, ValidationErrors, validate_strategy_name,
};
pub use run_id::{InvalidRunId, RunId};
pub use status::Status;
