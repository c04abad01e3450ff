//! The summary TransformResults computes from the trades, with Freqtrade's own definitions (its
//! `freqtrade.data.metrics`): drawdown on the cumulative closed profit, ratios from per-trade returns over the
//! backtest's days, annualised with √365. Computing them here, not copying them, means the summary holds for any
//! engine that writes the same trades, and the tests can hold both to the same numbers.

use serde::Serialize;

use super::{ResultError, StrategyResult, Trade};

const MS_PER_DAY: i64 = 86_400_000;
/// What Freqtrade answers for a ratio whose denominator is zero: a value no optimiser takes for good.
const NOT_OPTIMAL: f64 = -100.0;

/// A backtest in the numbers a reader wants first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub strategy: String,
    pub total_trades: usize,
    pub wins: usize,
    pub losses: usize,
    pub draws: usize,
    /// Winning trades over all trades, 0–1.
    pub win_rate: f64,
    pub starting_balance: f64,
    pub final_balance: f64,
    pub profit_total_abs: f64,
    pub profit_total_pct: f64,
    /// The deepest fall of the closed-trade equity from its high, in the stake currency.
    pub max_drawdown_abs: f64,
    /// The same fall relative to the account at its high, in percent.
    pub max_drawdown_pct: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub calmar: f64,
    /// Gross profit over gross loss (0 when nothing was lost, as Freqtrade reports it).
    pub profit_factor: f64,
    pub backtest_start: String,
    pub backtest_end: String,
    pub backtest_days: i64,
    pub avg_trade_duration_minutes: f64,
    /// How long the engine ran (the result's `backtest_run_start_ts` to `backtest_run_end_ts`), when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_seconds: Option<f64>,
    pub pairs: Vec<String>,
    /// Each traded pair's share, by profit (best first).
    pub per_pair: Vec<PairSummary>,
    /// The closed-trade equity after each trade, starting at the starting balance.
    #[serde(skip)]
    pub equity: Vec<EquityPoint>,
}

/// One pair's trades.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairSummary {
    pub pair: String,
    pub trades: usize,
    pub wins: usize,
    pub losses: usize,
    pub win_rate: f64,
    pub profit_abs: f64,
    /// Its profit relative to the starting balance, in percent (the pairs' percentages add up to the total).
    pub profit_pct: f64,
    pub avg_trade_duration_minutes: f64,
}

/// The trades grouped by pair, best profit first.
fn per_pair(trades: &[Trade], starting_balance: f64) -> Vec<PairSummary> {
    let mut groups: std::collections::BTreeMap<&str, Vec<&Trade>> = std::collections::BTreeMap::new();
    for trade in trades {
        groups.entry(trade.pair.as_str()).or_default().push(trade);
    }
    let mut pairs: Vec<PairSummary> = groups
        .into_iter()
        .map(|(pair, trades)| {
            let count = trades.len();
            let wins = trades.iter().filter(|t| t.profit_abs > 0.0).count();
            let profit_abs: f64 = trades.iter().map(|t| t.profit_abs).sum();
            PairSummary {
                pair: pair.to_owned(),
                trades: count,
                wins,
                losses: trades.iter().filter(|t| t.profit_abs < 0.0).count(),
                win_rate: wins as f64 / count as f64,
                profit_abs,
                profit_pct: profit_abs / starting_balance * 100.0,
                avg_trade_duration_minutes: trades.iter().map(|t| t.duration_minutes).sum::<f64>() / count as f64,
            }
        })
        .collect();
    pairs.sort_by(|a, b| b.profit_abs.total_cmp(&a.profit_abs));
    pairs
}

/// The account's value after a trade closed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EquityPoint {
    pub at_ms: i64,
    pub balance: f64,
}

/// Summarises `result`; fails when the result lacks what every backtest has (balance, period, trades).
pub fn summarize(result: &StrategyResult) -> Result<Summary, ResultError> {
    let starting_balance = result
        .starting_balance()
        .ok_or_else(|| ResultError("the result has no positive starting_balance".to_owned()))?;
    let (start_ms, end_ms) = result
        .period_ms()
        .ok_or_else(|| ResultError("the result has no backtest_start_ts/backtest_end_ts".to_owned()))?;
    let mut trades = result.trades()?;
    // Stable, as pandas' sort is for equal close times: drawdown depends on the order.
    trades.sort_by_key(|trade| trade.close_ms);

    let wins = trades.iter().filter(|t| t.profit_abs > 0.0).count();
    let losses = trades.iter().filter(|t| t.profit_abs < 0.0).count();
    let profit_total_abs: f64 = trades.iter().map(|t| t.profit_abs).sum();
    let gross_profit: f64 = trades.iter().filter(|t| t.profit_abs > 0.0).map(|t| t.profit_abs).sum();
    let gross_loss: f64 = trades.iter().filter(|t| t.profit_abs < 0.0).map(|t| t.profit_abs).sum();
    let drawdown = max_drawdown(&trades, starting_balance);
    let days = ((end_ms - start_ms) / MS_PER_DAY).max(1);
    let ratios_defined = !trades.is_empty() && end_ms > start_ms;

    let returns: Vec<f64> = trades.iter().map(|t| t.profit_abs / starting_balance).collect();
    let mean_daily_return = returns.iter().sum::<f64>() / days as f64;
    let losing_returns: Vec<f64> = returns.iter().copied().filter(|r| *r < 0.0).collect();
    let (sharpe, sortino, calmar) = if ratios_defined {
        (
            annualised(mean_daily_return, population_std(&returns)),
            annualised(mean_daily_return, population_std(&losing_returns)),
            annualised(
                profit_total_abs / starting_balance / days as f64 * 100.0,
                drawdown.relative,
            ),
        )
    } else {
        (0.0, 0.0, 0.0)
    };

    let mut balance = starting_balance;
    let mut equity = vec![EquityPoint {
        at_ms: start_ms,
        balance,
    }];
    equity.extend(trades.iter().map(|trade| {
        balance += trade.profit_abs;
        EquityPoint {
            at_ms: trade.close_ms,
            balance,
        }
    }));

    let total = trades.len();
    Ok(Summary {
        strategy: result.strategy.clone(),
        total_trades: total,
        wins,
        losses,
        draws: total - wins - losses,
        win_rate: if total == 0 { 0.0 } else { wins as f64 / total as f64 },
        starting_balance,
        final_balance: starting_balance + profit_total_abs,
        profit_total_abs,
        profit_total_pct: profit_total_abs / starting_balance * 100.0,
        max_drawdown_abs: drawdown.absolute,
        max_drawdown_pct: drawdown.relative * 100.0,
        sharpe,
        sortino,
        calmar,
        profit_factor: if gross_loss < 0.0 {
            gross_profit / gross_loss.abs()
        } else {
            0.0
        },
        backtest_start: iso(start_ms),
        backtest_end: iso(end_ms),
        backtest_days: days,
        avg_trade_duration_minutes: if total == 0 {
            0.0
        } else {
            trades.iter().map(|t| t.duration_minutes).sum::<f64>() / total as f64
        },
        engine_seconds: result.engine_seconds(),
        pairs: result.pairlist(),
        per_pair: per_pair(&trades, starting_balance),
        equity,
    })
}

struct Drawdown {
    absolute: f64,
    relative: f64,
}

/// Freqtrade's max drawdown: the lowest point of cumulative profit below its running high (the high never below
/// zero), and that fall relative to the account at the high, taken at the deepest absolute fall.
fn max_drawdown(trades: &[Trade], starting_balance: f64) -> Drawdown {
    let (mut cumulative, mut high) = (0.0_f64, 0.0_f64);
    let mut deepest = Drawdown {
        absolute: 0.0,
        relative: 0.0,
    };
    for trade in trades {
        cumulative += trade.profit_abs;
        high = high.max(cumulative);
        let fall = high - cumulative;
        if fall > deepest.absolute {
            deepest = Drawdown {
                absolute: fall,
                relative: fall / (starting_balance + high),
            };
        }
    }
    deepest
}

fn population_std(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

fn annualised(mean: f64, denominator: f64) -> f64 {
    if denominator != 0.0 && denominator.is_finite() {
        mean / denominator * 365_f64.sqrt()
    } else {
        NOT_OPTIMAL
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::results::parse_result;

    fn result(trades: serde_json::Value) -> StrategyResult {
        let document = json!({"strategy": {"S": {"starting_balance": 1000, "backtest_start_ts": 0,
            "backtest_end_ts": 10 * MS_PER_DAY, "pairlist": ["BTC/USDT"], "trades": trades}}});
        parse_result(document.to_string().as_bytes(), false, "S").expect("readable")
    }

    fn trade(close_day: i64, profit: f64) -> serde_json::Value {
        json!({"close_timestamp": close_day * MS_PER_DAY, "profit_abs": profit, "trade_duration": 60})
    }

    #[test]
    fn counts_profit_and_drawdown_follow_the_trades_in_close_order() {
        // Out of order on purpose: +100 (day 1), -50 (day 2), -100 (day 3), +30 (day 4).
        let summary = summarize(&result(json!([
            trade(3, -100.0),
            trade(1, 100.0),
            trade(4, 30.0),
            trade(2, -50.0)
        ])))
        .expect("summary");
        assert_eq!(
            (summary.total_trades, summary.wins, summary.losses, summary.draws),
            (4, 2, 2, 0)
        );
        assert_eq!(summary.win_rate, 0.5);
        assert!((summary.profit_total_abs - -20.0).abs() < 1e-9);
        assert!((summary.profit_total_pct - -2.0).abs() < 1e-9);
        // High +100 after day 1, low -50 after day 3: a fall of 150 from an account of 1100.
        assert!((summary.max_drawdown_abs - 150.0).abs() < 1e-9);
        assert!((summary.max_drawdown_pct - 150.0 / 1100.0 * 100.0).abs() < 1e-9);
        assert!((summary.profit_factor - 130.0 / 150.0).abs() < 1e-9);
        assert_eq!(summary.backtest_days, 10);
        assert_eq!(
            summary.engine_seconds, None,
            "the result does not say how long the engine ran"
        );
        let balances: Vec<f64> = summary.equity.iter().map(|p| p.balance).collect();
        assert_eq!(balances, [1000.0, 1100.0, 1050.0, 950.0, 980.0]);
    }

    #[test]
    fn the_engine_time_is_freqtrades_own_run_start_to_end() {
        let document = json!({"strategy": {"S": {"starting_balance": 1000, "backtest_start_ts": 0,
            "backtest_end_ts": MS_PER_DAY, "backtest_run_start_ts": 1_800_000_000,
            "backtest_run_end_ts": 1_800_000_042, "trades": []}}});
        let result = parse_result(document.to_string().as_bytes(), false, "S").expect("readable");
        let summary = summarize(&result).expect("summary");
        assert_eq!(summary.engine_seconds, Some(42.0));
        assert_eq!(
            serde_json::to_value(&summary).expect("JSON")["engine_seconds"],
            json!(42.0)
        );
    }

    #[test]
    fn ratios_use_freqtrades_definitions() {
        let summary = summarize(&result(json!([trade(1, 100.0), trade(2, -50.0)]))).expect("summary");
        // Returns 0.1 and -0.05 over 10 days: mean per day 0.005, population std 0.075.
        assert!((summary.sharpe - 0.005 / 0.075 * 365_f64.sqrt()).abs() < 1e-9);
        // One losing return: its std is 0, so Sortino is Freqtrade's "not optimal" -100.
        assert_eq!(summary.sortino, NOT_OPTIMAL);
        // Calmar: 5 % over 10 days, per day 0.5, over the 50/1100 relative drawdown.
        assert!((summary.calmar - 0.5 / (50.0 / 1100.0) * 365_f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn each_pair_gets_its_share_best_first_adding_up_to_the_total() {
        let on = |pair: &str, day: i64, profit: f64| {
            let mut traded = trade(day, profit);
            traded["pair"] = json!(pair);
            traded
        };
        let summary = summarize(&result(json!([
            on("ETH/USDT", 1, -30.0),
            on("BTC/USDT", 2, 100.0),
            on("ETH/USDT", 3, 10.0),
            on("BTC/USDT", 4, -20.0)
        ])))
        .expect("summary");
        let pairs: Vec<(&str, usize, usize, f64)> = summary
            .per_pair
            .iter()
            .map(|pair| (pair.pair.as_str(), pair.trades, pair.wins, pair.profit_abs))
            .collect();
        assert_eq!(pairs, [("BTC/USDT", 2, 1, 80.0), ("ETH/USDT", 2, 1, -20.0)]);
        let shares: f64 = summary.per_pair.iter().map(|pair| pair.profit_pct).sum();
        assert!((shares - summary.profit_total_pct).abs() < 1e-9);
        assert_eq!(summary.per_pair[0].win_rate, 0.5);
    }

    #[test]
    fn no_trades_is_a_summary_of_zeros_not_an_error() {
        let summary = summarize(&result(json!([]))).expect("summary");
        assert_eq!(summary.total_trades, 0);
        assert_eq!(
            (summary.win_rate, summary.sharpe, summary.max_drawdown_abs),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(summary.final_balance, 1000.0);
        assert_eq!(summary.equity.len(), 1);
    }

    #[test]
    fn a_result_without_balance_or_period_is_refused() {
        let document = json!({"strategy": {"S": {"trades": []}}});
        let read = parse_result(document.to_string().as_bytes(), false, "S").expect("readable");
        assert!(summarize(&read).expect_err("no balance").0.contains("starting_balance"));
    }
}
