//! A sweep's leaderboard: every child's parameters and summary metrics, ranked by the metric the sweep names, the
//! best marked. Children that have not completed are listed after the ranked ones, with their status.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::space::Combination;

/// The metrics a sweep may rank by, as the summary names them, and which way is better.
const RANKABLE: &[(&str, Better)] = &[
    ("profit_total_pct", Better::Higher),
    ("profit_total_abs", Better::Higher),
    ("sharpe", Better::Higher),
    ("sortino", Better::Higher),
    ("calmar", Better::Higher),
    ("profit_factor", Better::Higher),
    ("win_rate", Better::Higher),
    ("total_trades", Better::Higher),
    ("max_drawdown_pct", Better::Lower),
    ("max_drawdown_abs", Better::Lower),
];
/// The summary metrics every leaderboard row carries.
pub const ROW_METRICS: &[&str] = &[
    "profit_total_pct",
    "profit_total_abs",
    "sharpe",
    "sortino",
    "calmar",
    "profit_factor",
    "win_rate",
    "total_trades",
    "max_drawdown_pct",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// The metric a sweep ranks its children by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct RankBy {
    metric: &'static str,
    better: Better,
}

impl RankBy {
    /// A summary metric by name; the error lists those a sweep can rank by.
    pub fn parse(name: &str) -> Result<Self, String> {
        RANKABLE
            .iter()
            .find(|(metric, _)| *metric == name)
            .map(|(metric, better)| Self {
                metric,
                better: *better,
            })
            .ok_or_else(|| {
                let names: Vec<&str> = RANKABLE.iter().map(|(metric, _)| *metric).collect();
                format!("cannot rank by {name:?}; rank by one of {}", names.join(", "))
            })
    }

    pub fn metric(&self) -> &'static str {
        self.metric
    }

    pub fn better(&self) -> Better {
        self.better
    }
}

impl Default for RankBy {
    /// Sharpe ratio, higher better: Freqtrade's default hyperopt loss ranks by it too.
    fn default() -> Self {
        Self {
            metric: "sharpe",
            better: Better::Higher,
        }
    }
}

impl<'de> Deserialize<'de> for RankBy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl From<RankBy> for String {
    fn from(rank_by: RankBy) -> Self {
        rank_by.metric.to_owned()
    }
}

/// One child as the leaderboard sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    /// The child's place in the sweep's combinations, from 0.
    pub index: usize,
    pub run_id: String,
    pub status: String,
    pub parameters: Combination,
    /// The child's summary (summary.json), once it completed.
    pub summary: Option<Value>,
}

/// The leaderboard as `GET /sweeps/{id}` and `sweeps/{id}/leaderboard.json` give it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaderboard {
    pub rank_by: RankBy,
    pub better: Better,
    /// The best child's run id, once one has a value of the metric.
    pub best: Option<String>,
    pub rows: Vec<Row>,
}

/// One child's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// 1 for the best; none for a child without a value of the metric yet.
    pub rank: Option<usize>,
    /// The child's value of the ranking metric, when it has a finite one.
    pub value: Option<f64>,
    pub best: bool,
    pub index: usize,
    pub run_id: String,
    pub status: String,
    pub parameters: Map<String, Value>,
    /// [`ROW_METRICS`] from the child's summary, those it has.
    pub metrics: Map<String, Value>,
}

/// Ranks `children` by `rank_by`: the better value first, ties by the earlier combination; children without a
/// finite value of the metric (not completed, or a ratio Freqtrade could not compute) follow, in sweep order.
pub fn leaderboard(rank_by: RankBy, children: &[Child]) -> Leaderboard {
    let value = |child: &Child| {
        child
            .summary
            .as_ref()
            .and_then(|summary| summary.get(rank_by.metric))
            .and_then(Value::as_f64)
            .filter(|value| value.is_finite())
    };
    let mut ranked: Vec<(&Child, f64)> = children
        .iter()
        .filter_map(|child| value(child).map(|value| (child, value)))
        .collect();
    ranked.sort_by(|(a, x), (b, y)| {
        let order = match rank_by.better {
            Better::Higher => y.total_cmp(x),
            Better::Lower => x.total_cmp(y),
        };
        order.then(a.index.cmp(&b.index))
    });
    let mut unranked: Vec<&Child> = children.iter().filter(|child| value(child).is_none()).collect();
    unranked.sort_by_key(|child| child.index);

    let best = ranked.first().map(|(child, _)| child.run_id.clone());
    let rows = ranked
        .iter()
        .enumerate()
        .map(|(place, (child, value))| row(child, Some(place + 1), Some(*value)))
        .chain(unranked.into_iter().map(|child| row(child, None, None)))
        .collect();
    Leaderboard {
        better: rank_by.better,
        rank_by,
        best,
        rows,
    }
}

fn row(child: &Child, rank: Option<usize>, value: Option<f64>) -> Row {
    let metrics = ROW_METRICS
        .iter()
        .filter_map(|metric| {
            let value = child.summary.as_ref()?.get(*metric)?;
            Some(((*metric).to_owned(), value.clone()))
        })
        .collect();
    Row {
        rank,
        value,
        best: rank == Some(1),
        index: child.index,
        run_id: child.run_id.clone(),
        status: child.status.clone(),
        parameters: child
            .parameters
            .iter()
            .map(|(parameter, value)| (parameter.to_string(), value.clone()))
            .collect(),
        metrics,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::sweep::Parameter;

    fn child(index: usize, status: &str, rsi: i64, summary: Option<Value>) -> Child {
        Child {
            index,
            run_id: format!("run-{index}"),
            status: status.to_owned(),
            parameters: BTreeMap::from([(Parameter::parse("buy_rsi").expect("a name"), json!(rsi))]),
            summary,
        }
    }

    fn order(board: &Leaderboard) -> Vec<(Option<usize>, &str)> {
        board.rows.iter().map(|row| (row.rank, row.run_id.as_str())).collect()
    }

    #[test]
    fn the_higher_value_ranks_first_ties_by_sweep_order_and_the_unfinished_follow() {
        let children = [
            child(
                0,
                "COMPLETED",
                25,
                Some(json!({"sharpe": 0.5, "profit_total_pct": 3.0})),
            ),
            child(1, "RUNNING", 30, None),
            child(
                2,
                "COMPLETED",
                35,
                Some(json!({"sharpe": 1.5, "profit_total_pct": -1.0})),
            ),
            child(3, "COMPLETED", 40, Some(json!({"sharpe": 0.5}))),
            child(4, "FAILED", 45, None),
        ];
        let board = leaderboard(RankBy::default(), &children);
        assert_eq!(
            order(&board),
            vec![
                (Some(1), "run-2"),
                (Some(2), "run-0"),
                (Some(3), "run-3"),
                (None, "run-1"),
                (None, "run-4"),
            ]
        );
        assert_eq!(board.best.as_deref(), Some("run-2"));
        assert!(board.rows[0].best && board.rows.iter().skip(1).all(|row| !row.best));
        assert_eq!(
            board.rows[0].parameters,
            json!({"buy_rsi": 35}).as_object().cloned().unwrap_or_default()
        );
        assert_eq!(board.rows[0].metrics.get("profit_total_pct"), Some(&json!(-1.0)));
        assert_eq!(board.rows[3].status, "RUNNING");
    }

    #[test]
    fn drawdown_ranks_the_lower_first_and_a_missing_ratio_is_not_ranked() {
        let children = [
            child(0, "COMPLETED", 25, Some(json!({"max_drawdown_pct": 12.0}))),
            child(1, "COMPLETED", 30, Some(json!({"max_drawdown_pct": 4.0}))),
            child(2, "COMPLETED", 35, Some(json!({"max_drawdown_pct": null}))),
        ];
        let board = leaderboard(RankBy::parse("max_drawdown_pct").expect("rankable"), &children);
        assert_eq!(board.better, Better::Lower);
        assert_eq!(
            order(&board),
            vec![(Some(1), "run-1"), (Some(2), "run-0"), (None, "run-2")]
        );
    }

    #[test]
    fn nothing_completed_has_no_best() {
        let board = leaderboard(RankBy::default(), &[child(0, "QUEUED", 25, None)]);
        assert_eq!(board.best, None);
        assert!(!board.rows[0].best);
    }

    #[test]
    fn only_summary_metrics_can_rank() {
        let error = RankBy::parse("equity").expect_err("not a metric");
        assert!(
            error.contains("sharpe") && error.contains("max_drawdown_pct"),
            "{error}"
        );
        assert_eq!(String::from(RankBy::parse("calmar").expect("rankable")), "calmar");
    }
}
