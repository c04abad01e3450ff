//! The engine's result, read once it exited cleanly: the backtest Freqtrade's `.last_result.json` names in the
//! backtest folder (read with `tradai::results`, which TransformResults shares), or for hyperopt the best epoch of
//! the `.fthypt` file named in `{userdir}/hyperopt_results`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::failure::RunFailure;
use crate::hyperopt;
use crate::settings::{EntrypointSettings, RunMode};
use crate::workspace::Workspace;

/// What the engine produced, read and ready to be tracked, uploaded and recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Produced {
    /// The result file; MLflow gets it as the run's artifact.
    pub file: PathBuf,
    /// The folder whose files go to `results/{run_id}/`.
    pub folder: PathBuf,
    /// Parameters beside the run's own (a hyperopt's best parameters).
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    /// What the job record gets as its result.
    pub record: serde_json::Value,
}

/// The file name of `path`, as text.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads what the engine left in `workspace`.
pub fn collect_result(settings: &EntrypointSettings, workspace: &Workspace) -> Result<Produced, RunFailure> {
    match &settings.mode {
        RunMode::Backtest => backtest(settings, workspace),
        RunMode::Hyperopt(search) => {
            let results = workspace.userdir.join(hyperopt::RESULTS_DIR);
            let file = hyperopt::latest_hyperopt(&results).map_err(RunFailure::Result)?;
            let best = hyperopt::read_hyperopt(&file, &settings.strategy).map_err(RunFailure::Result)?;
            // Megabytes of preprocessed candles that nothing reads again; and the lock of the finished run.
            let _removed = std::fs::remove_file(results.join(hyperopt::TICKER_DATA));
            let _unlocked = std::fs::remove_file(workspace.userdir.join("hyperopt.lock"));
            let loss = best.loss.is_finite().then_some(best.loss);
            let mut metrics = best.metrics.clone();
            metrics.extend([
                ("hyperopt_epochs".to_owned(), best.epochs as f64),
                ("hyperopt_best_epoch".to_owned(), best.best_epoch as f64),
            ]);
            if let Some(loss) = loss {
                metrics.insert("hyperopt_loss".to_owned(), loss);
            }
            let params = best
                .params
                .iter()
                .map(|(name, value)| {
                    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                    (format!("best.{name}"), text)
                })
                .collect();
            let record = json!({"mode": "hyperopt", "result_file": file_name(&file), "best_epoch": best.best_epoch,
                "epochs": best.epochs, "loss": loss, "params": best.params, "metrics": best.metrics,
                "pairlist": best.pairlist, "loss_function": search.loss,
                "random_state": search.random_state});
            // The best epoch on its own beside the full log, for whoever reads the results without Freqtrade.
            std::fs::write(
                results.join(tradai::results::BEST_EPOCH_FILE),
                serde_json::to_vec_pretty(&record).unwrap_or_default(),
            )
            .map_err(|error| {
                RunFailure::Result(format!("cannot write {}: {error}", tradai::results::BEST_EPOCH_FILE))
            })?;
            Ok(Produced {
                file,
                folder: results,
                params,
                metrics,
                record,
            })
        }
    }
}

fn backtest(settings: &EntrypointSettings, workspace: &Workspace) -> Result<Produced, RunFailure> {
    let pointer = workspace.backtests.join(tradai::results::LAST_RESULT);
    let text = std::fs::read(&pointer)
        .map_err(|_| RunFailure::Result("the engine wrote no result (.last_result.json)".to_owned()))?;
    let latest = tradai::results::latest_backtest(&text).map_err(|error| RunFailure::Result(error.0))?;
    let file = workspace.backtests.join(&latest);
    if !file.is_file() {
        return Err(RunFailure::Result(format!(
            "the result {latest} named by .last_result.json is missing"
        )));
    }
    let bytes =
        std::fs::read(&file).map_err(|error| RunFailure::Result(format!("cannot read {}: {error}", file.display())))?;
    let zipped = file.extension().is_some_and(|ext| ext == "zip");
    let result = tradai::results::parse_result(&bytes, zipped, &settings.strategy)
        .map_err(|error| RunFailure::Result(error.0))?;
    let metrics = result.metrics();
    Ok(Produced {
        record: json!({ "result_file": file_name(&file), "metrics": metrics, "pairlist": result.pairlist() }),
        file,
        folder: workspace.backtests.clone(),
        params: BTreeMap::new(),
        metrics,
    })
}
