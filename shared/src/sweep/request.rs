//! `POST /sweeps`: the backtest every child runs (the fields of `POST /backtest`, validated the same way), what
//! varies between children, and how the sweep runs.
//!
//! ```json
//! {"strategy_name": "SampleStrategy", "strategy_version": "production",
//!  "config": {"timeframe": "5m", "symbols": ["BTC/USDT"], "start_date": "2025-01-01", "end_date": "2025-06-01"},
//!  "space": {"grid": {"buy_rsi": [25, 30, 35], "stoploss": [-0.05, -0.1]}},
//!  "rank_by": "sharpe", "max_concurrency": 20, "tolerated_failure_percentage": 10, "dry_run": false}
//! ```
//! or, in place of `space`, `"walk_forward": {"windows": 3, "train_days": 60, "test_days": 30}`: each window
//! hyperopts the strategy's own spaces on its training days, then backtests the best parameters on its test days.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::leaderboard::RankBy;
use super::parameters::Parameter;
use super::space::ParameterSpace;
use super::walk_forward::{WalkForward, Window};
use crate::backtest::BacktestRequest;
use crate::validation::{FieldError, ValidationErrors, check, json_kind, parse_json};

/// How many children run at once when the request does not say.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 10;
/// The most children a sweep may run at once (a Distributed Map runs up to 10 000; the account's Fargate Spot vCPU
/// quota is the real bound, and a sweep should leave room for other work).
pub const MAX_CONCURRENCY: u32 = 500;

/// A validated sweep request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRequest {
    /// The backtest every child runs, before its own parameters.
    pub base: BacktestRequest,
    pub plan: Plan,
    pub rank_by: RankBy,
    pub max_concurrency: u32,
    /// The share of children that may fail, in percent, before the sweep fails (0 to 100).
    pub tolerated_failure_percentage: f64,
    /// Answer the estimate only: record nothing, run nothing.
    pub dry_run: bool,
}

/// What the children are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// One backtest per combination of the space.
    Space(ParameterSpace),
    /// Per window, a hyperopt of the training days and a backtest of the test days.
    WalkForward { plan: WalkForward, windows: Vec<Window> },
}

/// The sweep's own fields; the rest of the body is the base backtest.
const SWEEP_FIELDS: &[&str] = &[
    "space",
    "walk_forward",
    "rank_by",
    "max_concurrency",
    "tolerated_failure_percentage",
    "dry_run",
];

impl SweepRequest {
    /// Parses and validates a JSON body, reporting every error at its field. `today` (UTC) bounds the dates as
    /// for a backtest.
    pub fn from_json(body: &[u8], today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut object: Map<String, Value> = parse_json(body)?;
        let own: Map<String, Value> = SWEEP_FIELDS
            .iter()
            .filter_map(|field| object.remove(*field).map(|value| ((*field).to_owned(), value)))
            .collect();
        let base_body = serde_json::to_vec(&object)
            .map_err(|error| ValidationErrors::one("body", format!("not a valid request: {error}")))?;
        let base = BacktestRequest::from_json(&base_body, today);
        let mut errors = base.as_ref().err().map(|e| e.errors().to_vec()).unwrap_or_default();

        let plan = match (own.get("space"), own.get("walk_forward")) {
            (Some(space), None) => collect(&mut errors, ParameterSpace::from_json("space", space)).map(Plan::Space),
            (None, Some(walk_forward)) => walk_forward_plan(&mut errors, walk_forward, base.as_ref().ok()),
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(
                    "walk_forward",
                    "give space or walk_forward, not both: a walk-forward hyperopts the strategy's own spaces",
                ));
                None
            }
            (None, None) => {
                errors.push(FieldError::new("space", "space (or walk_forward) is required"));
                None
            }
        };
        match (&base, &plan) {
            (Ok(base), Some(Plan::Space(space))) => overridden_twice(&mut errors, base, space),
            (Ok(base), Some(Plan::WalkForward { .. })) if !base.config.parameters.is_empty() => {
                errors.push(FieldError::new(
                    "config.parameters",
                    "a walk-forward finds the parameters by hyperopt in each window; give none",
                ));
            }
            _ => {}
        }
        let rank_by = match own.get("rank_by") {
            None => Some(RankBy::default()),
            Some(Value::String(name)) => check(&mut errors, "rank_by", RankBy::parse(name)),
            Some(other) => {
                errors.push(FieldError::new(
                    "rank_by",
                    format!("rank_by must be a metric's name, not {}", json_kind(other)),
                ));
                None
            }
        };
        let max_concurrency = match own.get("max_concurrency") {
            None => Some(DEFAULT_MAX_CONCURRENCY),
            Some(value) => {
                let concurrency = value.as_u64().and_then(|n| u32::try_from(n).ok());
                let valid = concurrency.filter(|n| (1..=MAX_CONCURRENCY).contains(n));
                if valid.is_none() {
                    errors.push(FieldError::new(
                        "max_concurrency",
                        format!("max_concurrency must be a whole number from 1 to {MAX_CONCURRENCY}"),
                    ));
                }
                valid
            }
        };
        let tolerated = match own.get("tolerated_failure_percentage") {
            None => Some(0.0),
            Some(value) => {
                let valid = value.as_f64().filter(|p| (0.0..=100.0).contains(p));
                if valid.is_none() {
                    errors.push(FieldError::new(
                        "tolerated_failure_percentage",
                        "tolerated_failure_percentage must be a number from 0 to 100",
                    ));
                }
                valid
            }
        };
        let dry_run = match own.get("dry_run") {
            None => Some(false),
            Some(Value::Bool(dry_run)) => Some(*dry_run),
            Some(other) => {
                errors.push(FieldError::new(
                    "dry_run",
                    format!("dry_run must be true or false, not {}", json_kind(other)),
                ));
                None
            }
        };
        match (base, plan, rank_by, max_concurrency, tolerated, dry_run) {
            (Ok(base), Some(plan), Some(rank_by), Some(max_concurrency), Some(tolerated), Some(dry_run))
                if errors.is_empty() =>
            {
                Ok(Self {
                    base,
                    plan,
                    rank_by,
                    max_concurrency,
                    tolerated_failure_percentage: tolerated,
                    dry_run,
                })
            }
            _ => Err(ValidationErrors(errors)),
        }
    }

    /// How many backtests the sweep runs (a walk-forward: a hyperopt and a backtest per window).
    pub fn children(&self) -> usize {
        match &self.plan {
            Plan::Space(space) => space.count().unwrap_or(usize::MAX),
            Plan::WalkForward { windows, .. } => windows.len() * 2,
        }
    }
}

fn collect<T>(errors: &mut Vec<FieldError>, result: Result<T, ValidationErrors>) -> Option<T> {
    result
        .map_err(|error| errors.extend(error.errors().iter().cloned()))
        .ok()
}

fn walk_forward_plan(errors: &mut Vec<FieldError>, value: &Value, base: Option<&BacktestRequest>) -> Option<Plan> {
    let plan: WalkForward = match serde_json::from_value(value.clone()) {
        Ok(plan) => plan,
        Err(error) => {
            errors.push(FieldError::new(
                "walk_forward",
                format!(
                    "walk_forward is {{windows, train_days, test_days}}, whole numbers, with optional epochs and \
                     loss: {error}"
                ),
            ));
            return None;
        }
    };
    let config = &base?.config;
    let windows = collect(errors, plan.windows("walk_forward", config.start_date, config.end_date))?;
    Some(Plan::WalkForward { plan, windows })
}

/// A setting varied by the space and also fixed by the base's overrides would be silently won by one of them.
fn overridden_twice(errors: &mut Vec<FieldError>, base: &BacktestRequest, space: &ParameterSpace) {
    let field = match space {
        ParameterSpace::Grid(_) => "space.grid",
        ParameterSpace::Random { .. } => "space.random.ranges",
    };
    for parameter in space.parameters() {
        if let Parameter::Config(name) = parameter
            && base.config.config_overrides.contains_key(name)
        {
            errors.push(FieldError::new(
                format!("{field}.{name}"),
                format!("{name} is varied by the space and also set in config.config_overrides: give it once"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date")
    }

    fn body(extra: Value) -> Vec<u8> {
        let mut request = json!({
            "strategy_name": "SampleStrategy",
            "strategy_version": "production",
            "config": {
                "timeframe": "5m",
                "symbols": ["BTC/USDT", "ETH/USDT"],
                "start_date": "2025-01-01",
                "end_date": "2025-06-01",
            },
        });
        if let (Some(request), Value::Object(extra)) = (request.as_object_mut(), extra) {
            request.extend(extra);
        }
        serde_json::to_vec(&request).expect("JSON")
    }

    fn fields(extra: Value) -> Vec<String> {
        SweepRequest::from_json(&body(extra), today())
            .expect_err("an invalid sweep")
            .errors()
            .iter()
            .map(|error| error.field.clone())
            .collect()
    }

    #[test]
    fn a_grid_sweep_with_defaults() {
        let request = SweepRequest::from_json(
            &body(json!({"space": {"grid": {"buy_rsi": [25, 30, 35], "stoploss": [-0.05, -0.1]}}})),
            today(),
        )
        .expect("a valid sweep");
        assert_eq!(request.children(), 6);
        assert_eq!(request.rank_by, RankBy::default());
        assert_eq!(request.max_concurrency, DEFAULT_MAX_CONCURRENCY);
        assert_eq!(request.tolerated_failure_percentage, 0.0);
        assert!(!request.dry_run);
        assert_eq!(request.base.strategy_name, "SampleStrategy");
        assert_eq!(request.base.experiment_name, "backtests/SampleStrategy");
    }

    #[test]
    fn the_sweeps_own_settings_are_read() {
        let request = SweepRequest::from_json(
            &body(json!({
                "space": {"random": {"samples": 12, "ranges": {"buy_rsi": {"low": 20, "high": 40}}}},
                "rank_by": "max_drawdown_pct", "max_concurrency": 4, "tolerated_failure_percentage": 12.5,
                "dry_run": true,
            })),
            today(),
        )
        .expect("a valid sweep");
        assert_eq!(request.children(), 12);
        assert_eq!(request.rank_by.metric(), "max_drawdown_pct");
        assert_eq!(request.max_concurrency, 4);
        assert_eq!(request.tolerated_failure_percentage, 12.5);
        assert!(request.dry_run);
    }

    #[test]
    fn a_walk_forward_plans_its_windows_over_the_base_dates() {
        let request = SweepRequest::from_json(
            &body(json!({"walk_forward": {"windows": 3, "train_days": 60, "test_days": 30}})),
            today(),
        )
        .expect("150 of 151 days");
        let Plan::WalkForward { windows, .. } = &request.plan else {
            panic!("a walk-forward plan")
        };
        assert_eq!(windows.len(), 3);
        assert_eq!(request.children(), 6);
        assert_eq!(
            fields(json!({"walk_forward": {"windows": 3, "train_days": 90, "test_days": 30}})),
            ["walk_forward"]
        );
        assert_eq!(
            fields(json!({"walk_forward": {"windows": 3, "train_days": 60}})),
            ["walk_forward"]
        );
        assert_eq!(
            fields(json!({"walk_forward": {"windows": 0, "train_days": 60, "test_days": 30}})),
            ["walk_forward.windows"]
        );
    }

    #[test]
    fn every_mistake_is_named_the_base_and_the_sweep_alike() {
        assert_eq!(fields(json!({})), ["space"]);
        assert_eq!(
            fields(
                json!({"space": {"grid": {"buy_rsi": []}}, "rank_by": "equity", "max_concurrency": 0,
                          "tolerated_failure_percentage": 101, "dry_run": "yes", "strategy_name": ""})
            ),
            [
                "strategy_name",
                "space.grid.buy_rsi",
                "rank_by",
                "max_concurrency",
                "tolerated_failure_percentage",
                "dry_run"
            ]
        );
        assert_eq!(
            fields(
                json!({"space": {"grid": {"buy_rsi": [1]}}, "walk_forward": {"windows": 1, "train_days": 1, "test_days": 1}})
            ),
            ["walk_forward"]
        );
        assert_eq!(
            fields(json!({"space": {"grid": {"buy_rsi": [1]}}, "spaces": {}})),
            ["spaces"]
        );
    }

    #[test]
    fn a_request_reads_back_as_it_was_stored() {
        for extra in [
            json!({"space": {"grid": {"buy_rsi": [25, 30], "buy.trend": ["ema"], "stoploss": [-0.05]}}}),
            json!({"space": {"random": {"samples": 3, "seed": 9, "ranges": {
                "buy_rsi": {"low": 20, "high": 40}, "stoploss": {"low": -0.2, "high": -0.02},
                "buy_flag": {"choices": [true, false]}}}}, "rank_by": "calmar"}),
            json!({"walk_forward": {"windows": 2, "train_days": 30, "test_days": 10}}),
        ] {
            let request = SweepRequest::from_json(&body(extra), today()).expect("a valid sweep");
            let stored = serde_json::to_string(&request).expect("JSON");
            let read: SweepRequest = serde_json::from_str(&stored).expect("reads back");
            assert_eq!(read, request, "{stored}");
        }
    }

    #[test]
    fn a_setting_in_both_the_space_and_the_overrides_is_refused() {
        let mut request: Value =
            serde_json::from_slice(&body(json!({"space": {"grid": {"stoploss": [-0.05, -0.1]}}}))).expect("JSON");
        request["config"]["config_overrides"] = json!({"stoploss": -0.2});
        let errors =
            SweepRequest::from_json(&serde_json::to_vec(&request).expect("JSON"), today()).expect_err("stoploss twice");
        assert_eq!(errors.errors()[0].field, "space.grid.stoploss");
    }
}
