//! A sweep as it is recorded: the validated request, the strategy version every child runs, the estimate, and
//! where the sweep is in its life. Its children are ordinary backtest jobs whose run ids are made of the sweep's id
//! and their place in it, so each is recorded, started and found again by that id alone.

use serde::{Deserialize, Serialize};

use super::estimate::Estimate;
use super::parameters::{Parameter, StrategyParameters};
use super::request::{Plan, SweepRequest};
use super::space::Combination;
use super::walk_forward::{WalkForward, Window};
use crate::backtest::{BacktestRequest, Hyperopt, RunId, Status, StrategyVersion, WorkflowRecord};
use crate::time::Timestamp;

/// The identity of a sweep: a version 4 UUID, as a run id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SweepId(RunId);

impl SweepId {
    /// A fresh random sweep id.
    pub fn new() -> Self {
        Self(RunId::new())
    }

    /// The run id of the sweep's child at `index` (from 0).
    pub fn child(self, index: usize) -> RunId {
        RunId::derived(format!("sweep/{self}/child/{index}").as_bytes())
    }
}

impl Default for SweepId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::str::FromStr for SweepId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<RunId>().map(Self).map_err(|_| {
            format!(
                "sweep_id must be a UUID v4, got {:?}",
                text.chars().take(64).collect::<String>()
            )
        })
    }
}

impl std::fmt::Display for SweepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One sweep as the sweep table keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    pub sweep_id: SweepId,
    pub status: Status,
    pub strategy_name: String,
    /// The version every child runs: the request's version or alias, resolved once when the sweep was submitted,
    /// so moving an alias during the sweep changes none of its children.
    pub strategy_version: u32,
    pub request: SweepRequest,
    /// How many children the sweep runs.
    pub runs: usize,
    pub estimate: Estimate,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The sweep workflow's execution, once it was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// One line saying why the sweep failed (FAILED only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// The MLflow parent run its children are nested under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow_run_id: Option<String>,
    /// Why MLflow did not take the parent run (the sweep still ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_error: Option<String>,
}

impl SweepRecord {
    /// A new PENDING sweep `sweep_id` of `request`, every child running `strategy_version`, created `at`.
    pub fn new(
        sweep_id: SweepId,
        request: SweepRequest,
        strategy_version: u32,
        runs: usize,
        estimate: Estimate,
        at: Timestamp,
    ) -> Self {
        Self {
            sweep_id,
            status: Status::Pending,
            strategy_name: request.base.strategy_name.clone(),
            strategy_version,
            request,
            runs,
            estimate,
            created_at: at,
            updated_at: at,
            execution_arn: None,
            error: None,
            submitted_by: None,
            cancelled_by: None,
            mlflow_run_id: None,
            tracking_error: None,
        }
    }

    /// The same sweep, submitted by `caller`.
    pub fn submitted_by(mut self, caller: Option<String>) -> Self {
        self.submitted_by = caller;
        self
    }

    /// The run ids of the children, in the sweep's order.
    pub fn child_ids(&self) -> Vec<RunId> {
        (0..self.runs).map(|index| self.sweep_id.child(index)).collect()
    }
}

/// The backtest of one combination: the sweep's base, pinned to `version`, with the combination's hyperoptable
/// parameters as the run's strategy parameters and its config settings merged into the overrides.
pub fn child_request(base: &BacktestRequest, version: u32, combination: &Combination) -> BacktestRequest {
    let mut request = base.clone();
    request.strategy_version = StrategyVersion::Number(version);
    apply_combination(&mut request, combination);
    request
}

/// Sets `combination` on `request`: its hyperoptable parameters as the run's strategy parameters, its config
/// settings merged into the overrides.
pub fn apply_combination(request: &mut BacktestRequest, combination: &Combination) {
    let split = StrategyParameters::new(&request.strategy_name, combination);
    request.config.config_overrides.extend(split.config);
    request.config.parameters.extend(
        combination
            .iter()
            .filter(|(parameter, _)| matches!(parameter, Parameter::Hyperoptable { .. }))
            .map(|(parameter, value)| (parameter.clone(), value.clone())),
    );
}

/// The child jobs of `sweep`, PENDING until the sweep workflow starts each: one per combination of its space, or
/// for a walk-forward its [`window_jobs`] (`combinations` is then empty).
pub fn child_jobs(sweep: &SweepRecord, combinations: &[Combination]) -> Vec<WorkflowRecord> {
    if let Plan::WalkForward { plan, windows } = &sweep.request.plan {
        return window_jobs(sweep, plan, windows);
    }
    combinations
        .iter()
        .enumerate()
        .map(|(index, combination)| {
            pending_child(
                sweep,
                sweep.sweep_id.child(index),
                child_request(&sweep.request.base, sweep.strategy_version, combination),
            )
        })
        .collect()
}

/// The children of window `window` of a walk-forward: its in-sample hyperopt, then its out-of-sample backtest.
pub fn window_children(sweep_id: SweepId, window: &Window) -> (RunId, RunId) {
    let first = window.index as usize * 2;
    (sweep_id.child(first), sweep_id.child(first + 1))
}

/// A walk-forward's children, two per window in the windows' order: the in-sample hyperopt of its training days,
/// then the out-of-sample backtest of its test days with the parameters that hyperopt found (`parameters_from`).
fn window_jobs(sweep: &SweepRecord, plan: &WalkForward, windows: &[Window]) -> Vec<WorkflowRecord> {
    let mut base = sweep.request.base.clone();
    base.strategy_version = StrategyVersion::Number(sweep.strategy_version);
    windows
        .iter()
        .flat_map(|window| {
            let (in_sample_id, out_of_sample_id) = window_children(sweep.sweep_id, window);
            let mut in_sample = base.clone();
            in_sample.config.start_date = window.train_start;
            in_sample.config.end_date = window.train_end;
            in_sample.config.hyperopt = Some(Hyperopt {
                epochs: plan.epochs,
                loss: plan.loss.clone(),
            });
            let mut out_of_sample = base.clone();
            out_of_sample.config.start_date = window.test_start;
            out_of_sample.config.end_date = window.test_end;
            out_of_sample.config.parameters_from = Some(in_sample_id);
            [(in_sample_id, in_sample), (out_of_sample_id, out_of_sample)]
        })
        .map(|(run_id, request)| pending_child(sweep, run_id, request))
        .collect()
}

fn pending_child(sweep: &SweepRecord, run_id: RunId, request: BacktestRequest) -> WorkflowRecord {
    let mut job = WorkflowRecord::new(run_id, request, Status::Pending, sweep.created_at)
        .submitted_by(sweep.submitted_by.clone());
    job.sweep_id = Some(sweep.sweep_id);
    job
}

/// The combination a child ran, read back from its job: its strategy parameters and the varied config settings.
pub fn child_combination(job: &WorkflowRecord, varied: &[&Parameter]) -> Combination {
    let mut combination = job.config.parameters.clone();
    for parameter in varied {
        if let Parameter::Config(name) = parameter
            && let Some(value) = job.config.config_overrides.get(name)
        {
            combination.insert((*parameter).clone(), value.clone());
        }
    }
    combination
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::sweep::estimate::{EngineTime, SweepShape, estimate};
    use crate::sweep::request::Plan;

    pub(crate) fn sweep(space: serde_json::Value) -> (SweepRecord, Vec<Combination>) {
        let body = json!({"strategy_name": "EmaCross", "strategy_version": "production",
            "config": {"timeframe": "5m", "symbols": ["BTC/USDT"], "start_date": "2026-01-01",
                "end_date": "2026-02-01", "config_overrides": {"max_open_trades": 2}},
            "space": space});
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date");
        let request = SweepRequest::from_json(body.to_string().as_bytes(), today).expect("a sweep");
        let Plan::Space(space) = &request.plan else {
            panic!("a space")
        };
        let combinations = space.combinations().expect("combinations");
        let shape = SweepShape {
            children: combinations.len(),
            candle_pairs: 8_928,
            max_concurrency: 10,
            task_cpu: 1024,
            task_memory_mib: 2048,
        };
        let record = SweepRecord::new(
            SweepId::new(),
            request,
            3,
            combinations.len(),
            estimate(shape, EngineTime::Assumed),
            Timestamp::now(),
        )
        .submitted_by(Some("arn:aws:iam::123456789012:user/quant".into()));
        (record, combinations)
    }

    #[test]
    fn children_run_the_pinned_version_with_their_combination_and_are_found_by_their_place() {
        let (sweep, combinations) = sweep(json!({"grid": {"buy_ema_fast": [5, 8], "stoploss": [-0.05, -0.1]}}));
        let jobs = child_jobs(&sweep, &combinations);
        assert_eq!(jobs.len(), 4);
        assert_eq!(jobs.iter().map(|job| job.run_id).collect::<Vec<_>>(), sweep.child_ids());
        let first = &jobs[0];
        assert_eq!(first.run_id, sweep.sweep_id.child(0));
        assert_eq!(first.status, Status::Pending);
        assert_eq!(first.strategy_version, StrategyVersion::Number(3));
        assert_eq!(first.sweep_id, Some(sweep.sweep_id));
        assert_eq!(first.submitted_by, sweep.submitted_by);
        assert_eq!(
            serde_json::to_value(&first.config.parameters).expect("JSON"),
            json!({"buy_ema_fast": 5})
        );
        assert_eq!(
            serde_json::Value::Object(first.config.config_overrides.clone()),
            json!({"max_open_trades": 2, "stoploss": -0.05}),
            "the base's overrides kept, the varied setting added"
        );
        let Plan::Space(space) = &sweep.request.plan else {
            panic!("a space")
        };
        for (job, combination) in jobs.iter().zip(&combinations) {
            assert_eq!(&child_combination(job, &space.parameters()), combination);
        }
    }

    /// A walk-forward of 3 windows of 15 training and 5 test days over January 2026, every child on version 3.
    pub(crate) fn walk_forward_sweep() -> SweepRecord {
        let body = json!({"strategy_name": "EmaCross", "strategy_version": "production",
            "config": {"timeframe": "5m", "symbols": ["BTC/USDT"], "start_date": "2026-01-01",
                "end_date": "2026-02-01"},
            "walk_forward": {"windows": 3, "train_days": 15, "test_days": 5, "epochs": 12}});
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date");
        let request = SweepRequest::from_json(body.to_string().as_bytes(), today).expect("a walk-forward");
        let shape = SweepShape {
            children: request.children(),
            candle_pairs: 8_928,
            max_concurrency: 10,
            task_cpu: 1024,
            task_memory_mib: 2048,
        };
        let runs = request.children();
        SweepRecord::new(
            SweepId::new(),
            request,
            3,
            runs,
            estimate(shape, EngineTime::Assumed),
            Timestamp::now(),
        )
    }

    #[test]
    fn a_walk_forward_hyperopts_each_windows_training_days_then_backtests_its_test_days_with_what_it_found() {
        let sweep = walk_forward_sweep();
        let jobs = child_jobs(&sweep, &[]);
        assert_eq!(jobs.len(), 6);
        assert_eq!(jobs.iter().map(|job| job.run_id).collect::<Vec<_>>(), sweep.child_ids());
        let Plan::WalkForward { windows, .. } = &sweep.request.plan else {
            panic!("a walk-forward")
        };
        for (window, pair) in windows.iter().zip(jobs.chunks(2)) {
            let (in_sample, out_of_sample) = (&pair[0], &pair[1]);
            assert_eq!(
                (in_sample.run_id, out_of_sample.run_id),
                window_children(sweep.sweep_id, window)
            );
            assert_eq!(
                (in_sample.config.start_date, in_sample.config.end_date),
                (window.train_start, window.train_end)
            );
            assert_eq!(
                in_sample.config.hyperopt,
                Some(Hyperopt {
                    epochs: 12,
                    loss: "SharpeHyperOptLoss".into()
                })
            );
            assert_eq!(
                (out_of_sample.config.start_date, out_of_sample.config.end_date),
                (window.test_start, window.test_end)
            );
            assert_eq!(out_of_sample.config.hyperopt, None);
            assert_eq!(out_of_sample.config.parameters_from, Some(in_sample.run_id));
            for job in pair {
                assert_eq!(job.strategy_version, StrategyVersion::Number(3));
                assert_eq!(job.sweep_id, Some(sweep.sweep_id));
                assert_eq!(job.status, Status::Pending);
            }
        }
    }

    #[test]
    fn a_sweep_asked_without_the_cache_runs_every_child_fresh() {
        let (grid, combinations) = sweep(json!({"grid": {"buy_ema_fast": [5, 8]}}));
        assert!(
            child_jobs(&grid, &combinations).iter().all(|job| !job.config.no_cache),
            "by default the cache answers a child whose inputs ran already"
        );
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date");
        let fresh = |plan: (&str, serde_json::Value)| {
            let mut body = json!({"strategy_name": "EmaCross", "strategy_version": "production", "no_cache": true,
                "config": {"timeframe": "5m", "symbols": ["BTC/USDT"], "start_date": "2026-01-01",
                    "end_date": "2026-02-01"}});
            body[plan.0] = plan.1;
            SweepRequest::from_json(body.to_string().as_bytes(), today).expect("a sweep")
        };
        let mut grid = grid;
        grid.request = fresh(("space", json!({"grid": {"buy_ema_fast": [5, 8]}})));
        let mut walk_forward = walk_forward_sweep();
        walk_forward.request = fresh(("walk_forward", json!({"windows": 3, "train_days": 15, "test_days": 5})));
        let children: Vec<WorkflowRecord> = child_jobs(&grid, &combinations)
            .into_iter()
            .chain(child_jobs(&walk_forward, &[]))
            .collect();
        assert_eq!(children.len(), 2 + 6);
        assert!(
            children.iter().all(|job| job.config.no_cache),
            "the sweep's no_cache is every child's"
        );
    }

    #[test]
    fn a_sweep_record_survives_json_and_its_ids_parse() {
        let (sweep, _) = sweep(json!({"random": {"samples": 3, "seed": 7,
            "ranges": {"buy_ema_fast": {"low": 4, "high": 15}}}}));
        let read: SweepRecord = serde_json::from_value(serde_json::to_value(&sweep).expect("JSON")).expect("read");
        assert_eq!(read, sweep);
        assert_eq!(sweep.sweep_id.to_string().parse::<SweepId>(), Ok(sweep.sweep_id));
        assert!("nope".parse::<SweepId>().expect_err("refused").contains("sweep_id"));
    }
}
