//! A walk-forward as its children stand: per window, what the in-sample hyperopt found on the training days
//! (its best epoch's metrics and parameters) beside what those parameters did on the test days that follow (the
//! out-of-sample backtest's summary), and their ratio; and the out-of-sample trades of every window stitched into one
//! equity curve over the test ranges, back to back. A strategy fitted to noise shows it here: in-sample numbers
//! that the out-of-sample ones do not come near.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::record::{SweepId, window_children};
use super::walk_forward::Window;
use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::results::EquityPoint;

/// The metrics compared in and out of sample, by the summary's names.
pub const COMPARED: &[&str] = &[
    "profit_total_pct",
    "profit_per_day_pct",
    "sharpe",
    "sortino",
    "win_rate",
    "max_drawdown_pct",
    "total_trades",
];

/// One side of a window: the child that ran it and, once it completed, its metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub run_id: RunId,
    pub status: Status,
    /// [`COMPARED`] as far as the run reported them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
}

/// One window of a walk-forward.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowReport {
    #[serde(flatten)]
    pub window: Window,
    pub in_sample: Side,
    pub out_of_sample: Side,
    /// The parameters the in-sample hyperopt found, which the out-of-sample backtest ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Out-of-sample over in-sample, per metric both sides have with a non-zero in-sample value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ratios: BTreeMap<String, f64>,
}

/// The out-of-sample history of the whole walk-forward.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stitched {
    /// The windows whose out-of-sample run completed, all of them in order.
    pub windows: usize,
    pub starting_balance: f64,
    pub final_balance: f64,
    pub profit_total_abs: f64,
    pub profit_total_pct: f64,
    pub total_trades: usize,
    /// Out-of-sample profit per day over in-sample profit per day, over all windows (walk-forward efficiency).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efficiency: Option<f64>,
    /// The closed-trade equity after each out-of-sample trade, every window's trades after the one before.
    pub equity: Vec<StitchedPoint>,
}

/// One point of the stitched curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StitchedPoint {
    pub at_ms: i64,
    pub balance: f64,
    pub window: u32,
}

/// The report of every window of walk-forward `sweep_id` from its recorded `children`.
pub fn window_reports(sweep_id: SweepId, windows: &[Window], children: &[WorkflowRecord]) -> Vec<WindowReport> {
    let by_id: BTreeMap<RunId, &WorkflowRecord> = children.iter().map(|child| (child.run_id, child)).collect();
    windows
        .iter()
        .map(|window| {
            let (in_id, out_id) = window_children(sweep_id, window);
            let (found, tested) = (by_id.get(&in_id).copied(), by_id.get(&out_id).copied());
            let in_sample = side(in_id, found, in_sample_metrics);
            let out_of_sample = side(out_id, tested, out_of_sample_metrics);
            let ratios = in_sample
                .metrics
                .iter()
                .filter(|(name, _)| name.as_str() != "total_trades")
                .filter_map(|(name, inside)| {
                    let outside = out_of_sample.metrics.get(name)?;
                    (*inside != 0.0).then(|| (name.clone(), outside / inside))
                })
                .collect();
            WindowReport {
                window: *window,
                parameters: found
                    .filter(|job| job.status == Status::Completed)
                    .and_then(|job| job.result.as_ref()?.get("params").cloned()),
                in_sample,
                out_of_sample,
                ratios,
            }
        })
        .collect()
}

/// Stitches the out-of-sample curves (`curves[i]` is window `i`'s closed-trade equity, starting at its starting
/// balance, or None when its run did not complete) into one: each window's trades continue from where the windows
/// before it ended. None when no window completed out of sample.
pub fn stitch(reports: &[WindowReport], curves: &[Option<Vec<EquityPoint>>]) -> Option<Stitched> {
    let profit_per_day = |side: &Side| side.metrics.get("profit_per_day_pct").copied().unwrap_or(0.0);
    let mut equity = Vec::new();
    let (mut start, mut balance, mut trades, mut windows) = (None, None, 0_usize, 0_usize);
    let (mut in_profit_per_day, mut out_profit_per_day) = (0.0, 0.0);
    for (report, curve) in reports.iter().zip(curves) {
        let Some(curve) = curve else { continue };
        let (Some(first), Some(last)) = (curve.first(), curve.last()) else {
            continue;
        };
        start.get_or_insert(first.balance);
        let offset = balance.map_or(0.0, |balance| balance - first.balance);
        equity.extend(curve.iter().map(|point| StitchedPoint {
            at_ms: point.at_ms,
            balance: point.balance + offset,
            window: report.window.index,
        }));
        balance = Some(last.balance + offset);
        trades += curve.len() - 1;
        windows += 1;
        in_profit_per_day += profit_per_day(&report.in_sample);
        out_profit_per_day += profit_per_day(&report.out_of_sample);
    }
    let (starting_balance, balance) = (start?, balance?);
    let profit = balance - starting_balance;
    Some(Stitched {
        windows,
        starting_balance,
        final_balance: balance,
        profit_total_abs: profit,
        profit_total_pct: if starting_balance == 0.0 {
            0.0
        } else {
            profit / starting_balance * 100.0
        },
        total_trades: trades,
        efficiency: (in_profit_per_day != 0.0).then(|| out_profit_per_day / in_profit_per_day),
        equity,
    })
}

fn side(run_id: RunId, job: Option<&WorkflowRecord>, metrics: fn(&Value) -> BTreeMap<String, f64>) -> Side {
    Side {
        run_id,
        status: job.map_or(Status::Pending, |job| job.status),
        metrics: job
            .filter(|job| job.status == Status::Completed)
            .and_then(|job| job.result.as_ref())
            .map(metrics)
            .unwrap_or_default(),
    }
}

/// A hyperopt's best epoch in the summary's terms: its metrics are Freqtrade's (ratios where the summary has
/// percent, `winrate` for `win_rate`, the account drawdown as a ratio).
fn in_sample_metrics(result: &Value) -> BTreeMap<String, f64> {
    let metrics = &result["metrics"];
    let number = |name: &str| metrics[name].as_f64();
    let mut found = BTreeMap::new();
    let mut put = |name: &str, value: Option<f64>| {
        if let Some(value) = value.filter(|value| value.is_finite()) {
            found.insert(name.to_owned(), value);
        }
    };
    let profit_pct = number("profit_total").map(|ratio| ratio * 100.0);
    put("profit_total_pct", profit_pct);
    put("profit_per_day_pct", per_day(profit_pct, number("backtest_days")));
    put("sharpe", number("sharpe"));
    put("sortino", number("sortino"));
    put("win_rate", number("winrate"));
    put(
        "max_drawdown_pct",
        number("max_drawdown_account").map(|ratio| ratio * 100.0),
    );
    put("total_trades", number("total_trades"));
    found
}

/// A backtest's recorded summary, by its own names.
fn out_of_sample_metrics(result: &Value) -> BTreeMap<String, f64> {
    let number = |name: &str| result[name].as_f64();
    let mut found: BTreeMap<String, f64> = COMPARED
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), number(name)?)))
        .filter(|(_, value)| value.is_finite())
        .collect();
    if let Some(value) = per_day(number("profit_total_pct"), number("backtest_days")) {
        found.insert("profit_per_day_pct".to_owned(), value);
    }
    found
}

fn per_day(profit_pct: Option<f64>, days: Option<f64>) -> Option<f64> {
    Some(profit_pct? / days.filter(|days| *days > 0.0)?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sweep::record::child_jobs;
    use crate::sweep::record::tests::walk_forward_sweep;
    use crate::sweep::request::Plan;

    fn finished(mut job: WorkflowRecord, result: Value) -> WorkflowRecord {
        job.status = Status::Completed;
        job.result = Some(result);
        job
    }

    fn point(day: i64, balance: f64) -> EquityPoint {
        EquityPoint {
            at_ms: day * 86_400_000,
            balance,
        }
    }

    #[test]
    fn each_window_compares_its_hyperopts_best_epoch_with_its_out_of_sample_summary() {
        let sweep = walk_forward_sweep();
        let Plan::WalkForward { windows, .. } = &sweep.request.plan else {
            panic!("a walk-forward")
        };
        let mut children = child_jobs(&sweep, &[]);
        children[0] = finished(
            children[0].clone(),
            json!({"mode": "hyperopt", "params": {"buy.buy_ema_fast": 9},
                "metrics": {"profit_total": 0.2, "backtest_days": 20, "sharpe": 4.0, "winrate": 0.6,
                    "max_drawdown_account": 0.05, "total_trades": 40, "sortino": "not a number"}}),
        );
        children[1] = finished(
            children[1].clone(),
            json!({"profit_total_pct": 2.5, "backtest_days": 5, "sharpe": 1.0, "win_rate": 0.5,
                "max_drawdown_pct": 4.0, "total_trades": 8, "sortino": 0.5}),
        );
        children[2].status = Status::Failed;
        let reports = window_reports(sweep.sweep_id, windows, &children);
        assert_eq!(reports.len(), 3);
        let first = &reports[0];
        assert_eq!(first.window, windows[0]);
        assert_eq!(first.parameters, Some(json!({"buy.buy_ema_fast": 9})));
        assert_eq!(first.in_sample.metrics["profit_total_pct"], 20.0);
        assert_eq!(first.in_sample.metrics["profit_per_day_pct"], 1.0);
        assert_eq!(first.in_sample.metrics["max_drawdown_pct"], 5.0);
        assert!(!first.in_sample.metrics.contains_key("sortino"), "not a number");
        assert_eq!(first.out_of_sample.metrics["profit_per_day_pct"], 0.5);
        assert_eq!(
            first.ratios["profit_per_day_pct"], 0.5,
            "half the profit per day out of sample"
        );
        assert_eq!(first.ratios["sharpe"], 0.25);
        assert!(
            !first.ratios.contains_key("total_trades"),
            "the ranges differ in length"
        );
        assert_eq!(reports[1].in_sample.status, Status::Failed);
        assert_eq!(reports[1].out_of_sample.status, Status::Pending);
        assert!(reports[1].parameters.is_none() && reports[1].ratios.is_empty());
    }

    #[test]
    fn out_of_sample_curves_continue_one_another_and_a_window_without_one_is_skipped() {
        let sweep = walk_forward_sweep();
        let Plan::WalkForward { windows, .. } = &sweep.request.plan else {
            panic!("a walk-forward")
        };
        let mut reports = window_reports(sweep.sweep_id, windows, &child_jobs(&sweep, &[]));
        reports[0].in_sample.metrics.insert("profit_per_day_pct".into(), 2.0);
        reports[0]
            .out_of_sample
            .metrics
            .insert("profit_per_day_pct".into(), 1.0);
        reports[2].in_sample.metrics.insert("profit_per_day_pct".into(), 2.0);
        reports[2]
            .out_of_sample
            .metrics
            .insert("profit_per_day_pct".into(), -0.5);
        let curves = [
            Some(vec![point(0, 1000.0), point(1, 1030.0), point(2, 1010.0)]),
            None,
            Some(vec![point(10, 1000.0), point(11, 1050.0)]),
        ];
        let stitched = stitch(&reports, &curves).expect("two windows");
        let balances: Vec<(f64, u32)> = stitched.equity.iter().map(|p| (p.balance, p.window)).collect();
        assert_eq!(
            balances,
            [(1000.0, 0), (1030.0, 0), (1010.0, 0), (1010.0, 2), (1060.0, 2)],
            "the third window starts where the first ended"
        );
        assert_eq!((stitched.windows, stitched.total_trades), (2, 3));
        assert_eq!(stitched.profit_total_abs, 60.0);
        assert!((stitched.profit_total_pct - 6.0).abs() < 1e-12);
        assert_eq!(stitched.efficiency, Some(0.125));
        assert_eq!(stitch(&reports, &[None, None, None]), None);
    }
}
