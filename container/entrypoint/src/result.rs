//! Freqtrade's backtest result as the entrypoint logs it to MLflow: read with `tradai::results`, which
//! TransformResults shares.

use std::collections::BTreeMap;
use std::path::Path;

/// What a backtest result says.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestResult {
    pub strategy: String,
    pub metrics: BTreeMap<String, f64>,
    /// The pairs the engine really traded (it drops pairs without data silently).
    pub pairlist: Vec<String>,
}

/// Reads the result file (`.zip` holding `<base>.json`, or a bare `.json`) for `strategy`.
pub fn read_result(file: &Path, strategy: &str) -> Result<BacktestResult, String> {
    let bytes = std::fs::read(file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
    let zipped = file.extension().is_some_and(|ext| ext == "zip");
    let result = tradai::results::parse_result(&bytes, zipped, strategy).map_err(|error| error.0)?;
    Ok(BacktestResult {
        strategy: strategy.to_owned(),
        metrics: result.metrics(),
        pairlist: result.pairlist(),
    })
}
