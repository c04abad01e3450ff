//! Publishing a run's result: first the raw result under `results/{run_id}/` of the results bucket (then it is
//! safe), then its MLflow run (params, metrics, the result file as an artifact). MLflow failing after a good run
//! does not fail the run: the gap is answered, to be recorded on the job.

use std::collections::BTreeMap;
use std::path::Path;

use tradai::backtest::RunId;
use tradai::mlflow::{ExperimentTracker, RegistryError, RunEnd, TrackedRun};
use tradai::objects::ObjectStore;
use tradai::report::chain;

use crate::failure::RunFailure;
use crate::result::{Produced, file_name};
use crate::settings::EntrypointSettings;

/// What was published.
#[derive(Debug, Default)]
pub struct Published {
    /// The MLflow run, when MLflow is configured and took it.
    pub tracked: Option<TrackedRun>,
    /// Why MLflow did not take the run, when it did not.
    pub tracking_error: Option<String>,
}

/// Uploads the run's files to the results bucket (when one is), then tracks it in `tracker` (when MLflow is
/// configured). Only an upload that fails fails the run.
pub async fn publish(
    settings: &EntrypointSettings,
    tracker: Option<&impl ExperimentTracker>,
    objects: &impl ObjectStore,
    produced: &Produced,
) -> Result<Published, RunFailure> {
    if let Some(bucket) = &settings.results_bucket {
        upload(&objects.in_bucket(bucket), settings.run_id, &produced.folder).await?;
    }
    let Some(tracker) = tracker else {
        return Ok(Published::default());
    };
    match track(tracker, settings, produced).await {
        Ok(run) => {
            if let Err(error) = tracker.end_run(&run, RunEnd::Finished).await {
                tracing::warn!(run_id = %settings.run_id, error = %chain(&error), "the MLflow run could not be ended");
            }
            Ok(Published {
                tracked: Some(run),
                tracking_error: None,
            })
        }
        Err(failure) => {
            let reason = chain(&failure);
            tracing::error!(run_id = %settings.run_id, %reason, "the result is safe, but MLflow did not take the run");
            Ok(Published {
                tracked: None,
                tracking_error: Some(reason),
            })
        }
    }
}

/// Logs the run to MLflow: its parameters, the result's metrics and the result file as an artifact.
async fn track(
    tracker: &impl ExperimentTracker,
    settings: &EntrypointSettings,
    produced: &Produced,
) -> Result<TrackedRun, RunFailure> {
    let run_id = settings.run_id.to_string();
    let tags = BTreeMap::from([
        ("tradai.run_id".to_owned(), run_id.clone()),
        ("tradai.strategy".to_owned(), settings.strategy.clone()),
        ("tradai.strategy_version".to_owned(), settings.strategy_version.clone()),
    ]);
    let tracked = tracker
        .start_run(&settings.experiment_name, &run_id, &tags)
        .await
        .map_err(RunFailure::Tracking)?;
    let pairs: Vec<&str> = settings.pairs.iter().map(|pair| pair.as_str()).collect();
    let mut params = BTreeMap::from([
        ("strategy".to_owned(), settings.strategy.clone()),
        ("strategy_version".to_owned(), settings.strategy_version.clone()),
        ("timeframe".to_owned(), settings.timeframe.to_string()),
        ("timerange".to_owned(), settings.timerange.clone()),
        ("pairs".to_owned(), pairs.join(",")),
        ("trading_mode".to_owned(), settings.mode.as_str().to_owned()),
    ]);
    if let Some(hyperopt) = settings.hyperopt() {
        params.extend([
            ("hyperopt_epochs".to_owned(), hyperopt.epochs.to_string()),
            ("hyperopt_loss".to_owned(), hyperopt.loss.clone()),
            ("hyperopt_random_state".to_owned(), hyperopt.random_state.to_string()),
        ]);
    }
    params.extend(produced.params.clone());
    let logged = async {
        tracker.log_batch(&tracked, &params, &produced.metrics).await?;
        let bytes = std::fs::read(&produced.file).map_err(|error| RegistryError::Malformed(Box::new(error)))?;
        let path = format!("{}/{}", settings.mode.as_str(), file_name(&produced.file));
        tracker.log_artifact(&tracked, &path, bytes).await
    };
    if let Err(error) = logged.await {
        let _ended = tracker.end_run(&tracked, RunEnd::Failed).await;
        return Err(RunFailure::Tracking(error));
    }
    Ok(tracked)
}

/// Uploads every file of the result folder (the result, its metadata, the pointer) to `results/{run_id}/`.
async fn upload(results: &impl ObjectStore, run_id: RunId, folder: &Path) -> Result<(), RunFailure> {
    let listing = |error: std::io::Error| RunFailure::Upload {
        what: format!("cannot list the results: {error}"),
        source: None,
    };
    for entry in std::fs::read_dir(folder).map_err(listing)? {
        let path = entry.map_err(listing)?.path();
        if !path.is_file() {
            continue;
        }
        let name = file_name(&path);
        let bytes = std::fs::read(&path).map_err(|error| RunFailure::Upload {
            what: format!("cannot read {name}: {error}"),
            source: None,
        })?;
        results
            .put(&format!("results/{run_id}/{name}"), bytes)
            .await
            .map_err(|error| RunFailure::Upload {
                what: format!("uploading {name} to the results bucket failed"),
                source: Some(error),
            })?;
    }
    Ok(())
}
