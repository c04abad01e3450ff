//! Parameter sweeps: one backtest per combination of a strategy's parameters, asked for by a [`SweepRequest`]. A
//! [`ParameterSpace`] (a grid of
//! values per parameter, or seeded random samples from ranges) is validated and expanded into [`Combination`]s;
//! each combination reaches its backtest as Freqtrade loads strategy parameters ([`StrategyParameters`]: the
//! parameter file beside the strategy, and config keys for the settings the config would otherwise override). What
//! a sweep will cost and take is [`estimate`]d before it starts; its children are ranked on a [`Leaderboard`], drawn by [`sweep_svg`]; a
//! walk-forward splits the date range into [`Window`]s of training and test days, each reported in-sample against
//! out-of-sample with the out-of-sample trades [`stitch`]ed into one curve. A space may vary only what the
//! strategy version [`Declared`].

pub mod declared;
pub mod estimate;
pub mod finish;
pub mod launch;
pub mod leaderboard;
pub mod parameters;
pub mod picture;
pub mod record;
pub mod request;
pub mod service;
pub mod space;
pub mod store;
pub mod walk_forward;
pub mod windows;

pub use declared::Declared;
pub use estimate::{EngineTime, Estimate, SweepShape, estimate};
pub use finish::{FinishInput, Finished, finish_sweep};
pub use launch::{ItemsObject, StepFunctionsSweeps, SweepInput, SweepLauncher};
pub use leaderboard::{Child, Leaderboard, RankBy, leaderboard};
pub use parameters::{Parameter, StrategyParameters};
pub use picture::sweep_svg;
pub use record::{SweepId, SweepRecord, apply_combination, child_combination, child_jobs, child_request};
pub use request::{Plan, SweepRequest};
pub use service::{
    CancelSweepError, Planned, Progress, SubmitSweepError, SweepCancelled, SweepPorts, SweepReport, SweepSubmission,
    UnstartedSweeps, cancel_sweep, report, scan_unstarted, submit_sweep,
};
pub use space::{Combination, MAX_COMBINATIONS, ParameterSpace};
pub use store::{DynamoDbSweeps, MemorySweeps, SweepStore, SweepUpdate};
pub use walk_forward::{WalkForward, Window};
pub use windows::{Stitched, WindowReport, stitch, window_reports};
