//! What a sweep will cost and how long it will take, before it starts: docs/COST.md's formula for one backtest,
//! applied to every child, with the sweep's own orchestration on top.
//!
//! The engine time per child comes from the strategy's past runs of similar size when there are any
//! ([`EngineTime::Measured`]), else from docs/COST.md's assumption scaled by candles ([`EngineTime::Assumed`]).
//! Prices are AWS's public us-east-1 list prices (docs/COST.md, "Prices"); Fargate Spot's moves, so its estimate is
//! the least certain line.

use serde::{Deserialize, Serialize};

/// Seconds billed before and after the engine in every task: pulling and starting the image (75 s), fetching
/// candles (10 s), publishing the result (15 s) (docs/COST.md, "Billed task time"). More than Fargate's one-minute
/// minimum, so every task is billed by the second.
pub const TASK_OVERHEAD_SECONDS: f64 = 100.0;
/// Seconds from a child's start to its task's start that are not billed: placement and the steps before it.
pub const PLACEMENT_SECONDS: f64 = 20.0;
/// The engine's speed when nothing of the strategy has run yet: ENGINE.md's measured 5.6–8.0 s for 31 680
/// candle-pairs, the slow end, as candle-pairs per engine second.
pub const ASSUMED_CANDLE_PAIRS_PER_SECOND: f64 = 31_680.0 / 8.0;
/// Fargate Spot x86, per vCPU-second and per GB-second (docs/COST.md: $0.01334053 and $0.00146489 an hour).
pub const SPOT_VCPU_SECOND_USD: f64 = 0.013_340_53 / 3_600.0;
pub const SPOT_GB_SECOND_USD: f64 = 0.001_464_89 / 3_600.0;
/// Step Functions Standard, per state transition.
pub const TRANSITION_USD: f64 = 0.000_025;
/// Lambda x86, per GB-second and per request.
pub const LAMBDA_GB_SECOND_USD: f64 = 0.000_016_666_7;
pub const LAMBDA_REQUEST_USD: f64 = 0.000_000_2;
/// States a child's backtest workflow enters on its success path (docs/COST.md), plus the map item's own.
pub const TRANSITIONS_PER_CHILD: u64 = 9 + 1;
/// States the sweep's own machine enters: prepare, the map, aggregate, the end.
pub const TRANSITIONS_PER_SWEEP: u64 = 4;
/// A child's six workflow functions at 128 MB, about 80 ms each, and TransformResults at 512 MB, 500 ms.
pub const LAMBDA_GB_SECONDS_PER_CHILD: f64 = 5.0 * 0.125 * 0.08 + 0.5 * 0.5;
pub const LAMBDA_REQUESTS_PER_CHILD: u64 = 6;

/// Where the engine seconds per child come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum EngineTime {
    /// The strategy's past runs: the mean engine seconds per candle-pair over `runs` runs.
    Measured { runs: usize, seconds_per_candle_pair: f64 },
    /// No past run: [`ASSUMED_CANDLE_PAIRS_PER_SECOND`].
    Assumed,
}

impl EngineTime {
    /// From past runs' `(engine seconds, candle-pairs)`; runs without candles are left out, and none left is
    /// [`EngineTime::Assumed`].
    pub fn from_runs(runs: impl IntoIterator<Item = (f64, u64)>) -> Self {
        let rates: Vec<f64> = runs
            .into_iter()
            .filter(|(seconds, candle_pairs)| *candle_pairs > 0 && seconds.is_finite() && *seconds >= 0.0)
            .map(|(seconds, candle_pairs)| seconds / candle_pairs as f64)
            .collect();
        if rates.is_empty() {
            Self::Assumed
        } else {
            Self::Measured {
                runs: rates.len(),
                seconds_per_candle_pair: rates.iter().sum::<f64>() / rates.len() as f64,
            }
        }
    }

    fn seconds(self, candle_pairs: u64) -> f64 {
        match self {
            Self::Measured {
                seconds_per_candle_pair,
                ..
            } => seconds_per_candle_pair * candle_pairs as f64,
            Self::Assumed => candle_pairs as f64 / ASSUMED_CANDLE_PAIRS_PER_SECOND,
        }
    }
}

/// What is estimated: the children and the task each runs in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepShape {
    pub children: usize,
    /// Candles per pair times pairs, for one child.
    pub candle_pairs: u64,
    pub max_concurrency: usize,
    /// The strategy task's CPU units (1024 = 1 vCPU) and memory (MiB).
    pub task_cpu: u32,
    pub task_memory_mib: u32,
}

/// The estimate a sweep answers before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub children: usize,
    pub engine: EngineTime,
    pub engine_seconds_per_child: f64,
    pub billed_task_seconds_per_child: f64,
    pub fargate_spot_vcpu_seconds: f64,
    pub fargate_spot_gb_seconds: f64,
    pub state_transitions: u64,
    pub lambda_gb_seconds: f64,
    pub lambda_requests: u64,
    pub cost_usd: f64,
    /// Waves of `max_concurrency` children one after another, each as long as one child.
    pub wall_seconds: f64,
}

/// The estimate for `shape` with engine time from `engine`.
pub fn estimate(shape: SweepShape, engine: EngineTime) -> Estimate {
    let children = shape.children as f64;
    let engine_seconds = engine.seconds(shape.candle_pairs);
    let billed = (engine_seconds + TASK_OVERHEAD_SECONDS).ceil();
    let vcpu_seconds = children * billed * f64::from(shape.task_cpu) / 1024.0;
    let gb_seconds = children * billed * f64::from(shape.task_memory_mib) / 1024.0;
    let transitions = shape.children as u64 * TRANSITIONS_PER_CHILD + TRANSITIONS_PER_SWEEP;
    let lambda_gb_seconds = children * LAMBDA_GB_SECONDS_PER_CHILD;
    let lambda_requests = shape.children as u64 * LAMBDA_REQUESTS_PER_CHILD;
    let cost_usd = vcpu_seconds * SPOT_VCPU_SECOND_USD
        + gb_seconds * SPOT_GB_SECOND_USD
        + transitions as f64 * TRANSITION_USD
        + lambda_gb_seconds * LAMBDA_GB_SECOND_USD
        + lambda_requests as f64 * LAMBDA_REQUEST_USD;
    let waves = shape.children.div_ceil(shape.max_concurrency.max(1)) as f64;
    Estimate {
        children: shape.children,
        engine,
        engine_seconds_per_child: engine_seconds,
        billed_task_seconds_per_child: billed,
        fargate_spot_vcpu_seconds: vcpu_seconds,
        fargate_spot_gb_seconds: gb_seconds,
        state_transitions: transitions,
        lambda_gb_seconds,
        lambda_requests,
        cost_usd,
        wall_seconds: waves * (PLACEMENT_SECONDS + billed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/COST.md's realistic backtest: 10 pairs of a year of 5m candles, 1 vCPU / 2 GB.
    const YEAR_OF_5M_TEN_PAIRS: u64 = 1_051_200;

    fn shape(children: usize, max_concurrency: usize) -> SweepShape {
        SweepShape {
            children,
            candle_pairs: YEAR_OF_5M_TEN_PAIRS,
            max_concurrency,
            task_cpu: 1024,
            task_memory_mib: 2048,
        }
    }

    #[test]
    fn one_child_costs_what_docs_cost_md_says_a_backtest_costs_on_fargate_and_step_functions() {
        let one = estimate(shape(1, 1), EngineTime::Assumed);
        // 1 051 200 / 3 960 = 265.5 s of engine, 366 s billed.
        assert_eq!(one.billed_task_seconds_per_child, 366.0);
        assert_eq!(one.fargate_spot_vcpu_seconds, 366.0);
        assert_eq!(one.fargate_spot_gb_seconds, 732.0);
        assert_eq!(one.state_transitions, 14);
        let fargate = 366.0 * 0.013_340_53 / 3_600.0 + 732.0 * 0.001_464_89 / 3_600.0;
        let rest = 14.0 * 0.000_025 + 0.3 * 0.000_016_666_7 + 6.0 * 0.000_000_2;
        assert!((one.cost_usd - (fargate + rest)).abs() < 1e-12, "{one:?}");
    }

    #[test]
    fn children_multiply_the_cost_and_concurrency_divides_the_time() {
        // Rates that are exact in binary: 0.125 and 0.1875 s per candle-pair, 160 s of engine for 1 024.
        let measured = EngineTime::from_runs([(128.0, 1024), (192.0, 1024)]);
        let shape = |children, max_concurrency| SweepShape {
            candle_pairs: 1024,
            ..shape(children, max_concurrency)
        };
        let serial = estimate(shape(100, 1), measured);
        let wide = estimate(shape(100, 50), measured);
        assert_eq!(serial.engine_seconds_per_child, 160.0);
        assert_eq!(serial.billed_task_seconds_per_child, 260.0);
        assert_eq!(serial.cost_usd, wide.cost_usd);
        assert_eq!(serial.wall_seconds, 100.0 * 280.0);
        assert_eq!(wide.wall_seconds, 2.0 * 280.0);
        assert_eq!(estimate(shape(101, 50), measured).wall_seconds, 3.0 * 280.0);
        // Everything but the sweep's own four transitions scales with the children.
        let doubled = estimate(shape(200, 50), measured).cost_usd;
        assert!(
            (doubled - 2.0 * serial.cost_usd + 4.0 * TRANSITION_USD).abs() < 1e-12,
            "{doubled}"
        );
    }

    #[test]
    fn past_runs_without_candles_or_with_nonsense_times_are_left_out() {
        assert_eq!(EngineTime::from_runs([]), EngineTime::Assumed);
        assert_eq!(EngineTime::from_runs([(10.0, 0), (f64::NAN, 5)]), EngineTime::Assumed);
        assert_eq!(
            EngineTime::from_runs([(10.0, 0), (20.0, 10), (40.0, 10)]),
            EngineTime::Measured {
                runs: 2,
                seconds_per_candle_pair: 3.0
            }
        );
    }
}
