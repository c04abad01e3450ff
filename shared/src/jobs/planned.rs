//! A run whose inputs were planned: its job record and its manifest (`results/{run_id}/manifest.json`), what a
//! re-run repeats and a diff compares.

use crate::backtest::{RunId, WorkflowRecord};
use crate::objects::{ObjectError, ObjectStore};
use crate::run_manifest::{ManifestError, RunManifest, read_manifest};
use crate::store::{StoreError, WorkflowStore};

/// Why a planned run cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PlannedError {
    #[error("no backtest with run_id {0}")]
    NotFound(RunId),
    /// Its inputs were never planned: it failed before PrepareConfig, or was launched without the workflow.
    #[error("run {0} has no manifest: its inputs were never planned")]
    NotPlanned(RunId),
    #[error("the manifest of run {run_id} cannot be read")]
    Manifest {
        run_id: RunId,
        #[source]
        source: serde_json::Error,
    },
    #[error("the workflow store could not be read")]
    Store(#[from] StoreError),
    #[error("the results or market-data bucket could not be read")]
    Objects(#[from] ObjectError),
}

/// Job `run_id` in `store` and its manifest in `results`.
pub async fn planned_run(
    store: &impl WorkflowStore,
    results: &impl ObjectStore,
    run_id: RunId,
) -> Result<(WorkflowRecord, RunManifest), PlannedError> {
    let record = store.get(run_id).await?.ok_or(PlannedError::NotFound(run_id))?;
    let manifest = read_manifest(results, run_id).await.map_err(|error| match error {
        ManifestError::Unreachable(source) => PlannedError::Objects(source),
        ManifestError::Malformed { run_id, source } => PlannedError::Manifest { run_id, source },
    })?;
    Ok((record, manifest.ok_or(PlannedError::NotPlanned(run_id))?))
}
