//! Re-running a run: a new job pinned to run `original`'s manifest — the same strategy version (so the same image
//! digest), the same config and the same object versions of its candle files — submitted as any job is (an
//! Idempotency-Key too), bypassing the result cache. PrepareConfig reads the manifest and refuses to run other code.

use super::Submission;
use super::planned::{PlannedError, planned_run};
use crate::backtest::{RunId, StrategyVersion};
use crate::objects::ObjectStore;
use crate::store::WorkflowStore;

/// Why a run cannot be re-run.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error(transparent)]
    Planned(#[from] PlannedError),
    /// A hyperopt's search is seeded by its own run id: a re-run would search another way.
    #[error("run {0} is a hyperopt, whose search is seeded by its run id: re-run the backtests it chose instead")]
    Hyperopt(RunId),
}

/// The submission of a re-run of run `original` (its job in `store`, its manifest in `results`): the same request
/// for the same original, so an Idempotency-Key replays it.
pub async fn rerun(
    store: &impl WorkflowStore,
    results: &impl ObjectStore,
    original: RunId,
) -> Result<Submission, RerunError> {
    let (record, manifest) = planned_run(store, results, original).await?;
    if record.config.hyperopt.is_some() {
        return Err(RerunError::Hyperopt(original));
    }
    let mut request = record.job().request;
    request.strategy_version = StrategyVersion::Number(manifest.strategy.version);
    // The original's parameters are in its manifest (a walk-forward's found ones too): nothing is looked up again.
    request.config.parameters_from = None;
    request.config.no_cache = true;
    request.config.rerun_of = Some(original);
    Ok(Submission::new(request))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::backtest::{Status, WorkflowRecord};
    use crate::idempotency::{IdempotencyKey, MemoryKeys};
    use crate::jobs::{SubmitError, submit_once};
    use crate::objects::MemoryObjects;
    use crate::run_manifest::manifest_key;
    use crate::store::MemoryStore;
    use crate::workflow::fakes::{FakeExecutions, sample_record};

    /// `record`, recorded with its manifest (version 3) in `results`.
    async fn planned(store: &MemoryStore, results: &MemoryObjects, record: WorkflowRecord) -> RunId {
        store.create(&record).await.expect("recorded");
        let manifest = json!({"strategy": {"name": "EmaCross", "version": 3, "image": "i:3", "digest": "sha256:aa"},
            "config": {"sha256": "sha256:00", "document": {}}, "data": [], "timerange": "20260105-20260301",
            "pairs": ["BTC/USDT"], "timeframe": "5m"});
        results
            .put(&manifest_key(record.run_id), manifest.to_string().into_bytes())
            .await
            .expect("put");
        record.run_id
    }

    #[tokio::test]
    async fn a_rerun_is_a_new_job_pinned_to_the_originals_version_and_manifest_bypassing_the_cache() {
        let (store, results, launcher, keys) = (
            MemoryStore::new(),
            MemoryObjects::new("results"),
            FakeExecutions::default(),
            MemoryKeys::default(),
        );
        // A walk-forward's out-of-sample run, submitted by alias: its manifest holds what it ran.
        let mut record = sample_record(Status::Completed);
        record.strategy_version = StrategyVersion::Alias("production".into());
        record.config.parameters_from = Some(RunId::new());
        let original = planned(&store, &results, record).await;
        let key = IdempotencyKey::parse("rerun-1").expect("a key");
        let submission = || async {
            rerun(&store, &results, original)
                .await
                .expect("a re-run")
                .by(Some("alice".into()))
        };
        let submitted = submit_once(&store, &launcher, &keys, &key, submission().await)
            .await
            .expect("submitted");
        assert_ne!(submitted.run_id, original);
        let again = submit_once(&store, &launcher, &keys, &key, submission().await)
            .await
            .expect("replayed");
        assert_eq!(
            (again.run_id, again.replayed),
            (submitted.run_id, true),
            "a re-run asked again with its key is the same re-run"
        );
        let other = planned(&store, &results, sample_record(Status::Completed)).await;
        let reused = rerun(&store, &results, other)
            .await
            .expect("a re-run")
            .by(Some("alice".into()));
        assert!(
            matches!(
                submit_once(&store, &launcher, &keys, &key, reused).await,
                Err(SubmitError::KeyReused(_))
            ),
            "the key of one original's re-run cannot start another's"
        );
        let job = store.get(submitted.run_id).await.expect("read").expect("recorded");
        assert_eq!(
            job.strategy_version,
            StrategyVersion::Number(3),
            "the version the original ran, not the alias"
        );
        assert_eq!((job.config.rerun_of, job.config.no_cache), (Some(original), true));
        assert_eq!(job.config.parameters_from, None, "the manifest holds the parameters");
        assert_eq!(job.submitted_by.as_deref(), Some("alice"));
        assert_eq!(launcher.started.lock().expect("started").as_slice(), [submitted.run_id]);
    }

    #[tokio::test]
    async fn an_unknown_unplanned_or_hyperopt_run_is_refused() {
        let (store, results) = (MemoryStore::new(), MemoryObjects::new("results"));
        let unplanned = sample_record(Status::Failed);
        store.create(&unplanned).await.expect("recorded");
        let mut search = sample_record(Status::Completed);
        search.config.hyperopt = Some(crate::backtest::Hyperopt {
            epochs: 5,
            loss: "SharpeHyperOptLoss".into(),
        });
        let search = planned(&store, &results, search).await;
        let unknown = RunId::new();
        for (run_id, says) in [
            (unknown, "no backtest"),
            (unplanned.run_id, "has no manifest"),
            (search, "is a hyperopt"),
        ] {
            let error = rerun(&store, &results, run_id).await.expect_err("refused");
            assert!(error.to_string().contains(says), "{error}");
        }
    }
}
