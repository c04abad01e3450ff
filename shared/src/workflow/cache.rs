//! The result cache: a job whose inputs (its manifest's fingerprint) a COMPLETED run already had is answered from
//! that run's result — its summary, chart and MLflow run — with no engine started, and marked `cached_from` it.

use serde_json::Value;

use super::StepError;
use crate::backtest::{RunId, Status};
use crate::run_manifest::Fingerprint;
use crate::store::{RecordUpdate, Transition, TransitionOutcome, WorkflowStore};
use crate::time::Timestamp;

/// A job answered from an earlier run.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedAnswer {
    /// The run whose engine produced the result.
    pub from: RunId,
    /// Its recorded summary.
    pub summary: Option<Value>,
}

/// Completes job `run_id` from the newest COMPLETED run of inputs `fingerprint`, if there is one; `None` when the
/// job's engine has to run. The job moves from PENDING or QUEUED to COMPLETED conditionally, so a cancel that wins
/// the race is kept (`JobEnded`); a retried step finds the job completed from the cache and answers with the run it
/// was completed from, even when a newer run of the same inputs completed in between.
pub async fn answer_from_cache(
    jobs: &impl WorkflowStore,
    run_id: RunId,
    fingerprint: &Fingerprint,
) -> Result<Option<CachedAnswer>, StepError> {
    let store_down = |error| StepError::transient("the workflow store", error);
    let Some(earlier) = jobs.completed_with(fingerprint).await.map_err(store_down)? else {
        return Ok(None);
    };
    let record = jobs
        .get(run_id)
        .await
        .map_err(store_down)?
        .ok_or_else(|| StepError::invalid_input(format!("no job with run_id {run_id}")))?;
    if let (Status::Completed, Some(from)) = (record.status, record.cached_from) {
        return Ok(Some(CachedAnswer {
            from,
            summary: record.result,
        }));
    }
    let answer = CachedAnswer {
        from: earlier.run_id,
        summary: earlier.result.clone(),
    };
    if !matches!(record.status, Status::Pending | Status::Queued) {
        return Err(StepError::JobEnded(format!(
            "the job is {}, not waiting to run",
            record.status
        )));
    }
    let completed = Transition::new(record.status, Status::Completed, Timestamp::now()).with(RecordUpdate {
        result: earlier.result.clone(),
        mlflow_experiment_id: earlier.mlflow_experiment_id.clone(),
        mlflow_run_id: earlier.mlflow_run_id.clone(),
        fingerprint: Some(fingerprint.clone()),
        cached_from: Some(earlier.run_id),
        ..RecordUpdate::default()
    });
    match jobs.transition(run_id, &completed).await.map_err(store_down)? {
        TransitionOutcome::Moved(_) => {
            tracing::info!(%run_id, cached_from = %earlier.run_id, %fingerprint, "answered from the cache");
            Ok(Some(answer))
        }
        TransitionOutcome::LostRace { current } => Err(StepError::JobEnded(format!(
            "the job became {current} while it was answered from run {}",
            earlier.run_id
        ))),
        TransitionOutcome::NotFound => Err(StepError::invalid_input(format!("no job with run_id {run_id}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::MemoryStore;
    use crate::workflow::fakes::sample_record;

    fn fingerprint(text: &str) -> Fingerprint {
        Fingerprint(crate::run_manifest::sha256_of(text.as_bytes()))
    }

    /// A run that COMPLETED a backtest of inputs `of`.
    async fn completed(jobs: &MemoryStore, of: &Fingerprint) -> crate::backtest::WorkflowRecord {
        let mut record = sample_record(Status::Completed);
        record.fingerprint = Some(of.clone());
        record.result = Some(json!({"total_trades": 7, "profit_total_pct": 3.5}));
        record.mlflow_run_id = Some("mlflow-run-1".into());
        jobs.create(&record).await.expect("recorded");
        record
    }

    #[tokio::test]
    async fn a_job_of_inputs_already_run_completes_from_that_run_once() {
        let jobs = MemoryStore::new();
        let inputs = fingerprint("inputs");
        let earlier = completed(&jobs, &inputs).await;
        let waiting = sample_record(Status::Queued);
        jobs.create(&waiting).await.expect("recorded");

        let answer = answer_from_cache(&jobs, waiting.run_id, &inputs)
            .await
            .expect("answered");
        assert_eq!(answer.as_ref().map(|answer| answer.from), Some(earlier.run_id));
        let record = jobs.get(waiting.run_id).await.expect("read").expect("there");
        assert_eq!(record.status, Status::Completed);
        assert_eq!(record.cached_from, Some(earlier.run_id));
        assert_eq!(
            (record.result, record.mlflow_run_id),
            (earlier.result.clone(), earlier.mlflow_run_id.clone())
        );
        assert_eq!(
            answer_from_cache(&jobs, waiting.run_id, &inputs).await.expect("again"),
            answer,
            "a retried step answers the same"
        );

        // A job answered from the cache is not a result to answer others from: the engine's run is.
        let next = sample_record(Status::Pending);
        jobs.create(&next).await.expect("recorded");
        let answer = answer_from_cache(&jobs, next.run_id, &inputs).await.expect("answered");
        assert_eq!(answer.map(|answer| answer.from), Some(earlier.run_id));

        let mut newer = sample_record(Status::Completed);
        newer.fingerprint = Some(inputs.clone());
        newer.result = Some(json!({"total_trades": 9}));
        newer.created_at = "2099-01-01T00:00:00Z".parse().expect("a time");
        jobs.create(&newer).await.expect("recorded");
        let newest = jobs
            .completed_with(&inputs)
            .await
            .expect("read")
            .map(|record| record.run_id);
        assert_eq!(
            newest,
            Some(newer.run_id),
            "a newer run of the same inputs completed meanwhile"
        );
        assert_eq!(
            answer_from_cache(&jobs, waiting.run_id, &inputs).await.expect("again"),
            Some(CachedAnswer {
                from: earlier.run_id,
                summary: earlier.result.clone()
            }),
            "a retried step answers with the run the job was completed from, not a newer one"
        );
    }

    #[tokio::test]
    async fn other_inputs_a_hyperopt_or_a_cancelled_job_are_not_answered() {
        let jobs = MemoryStore::new();
        let inputs = fingerprint("inputs");
        let waiting = sample_record(Status::Queued);
        jobs.create(&waiting).await.expect("recorded");
        completed(&jobs, &fingerprint("other inputs")).await;
        assert_eq!(
            answer_from_cache(&jobs, waiting.run_id, &inputs).await.expect("looked"),
            None
        );

        let mut search = sample_record(Status::Completed);
        search.fingerprint = Some(inputs.clone());
        search.config.hyperopt = Some(crate::backtest::Hyperopt {
            epochs: 10,
            loss: "SharpeHyperOptLoss".into(),
        });
        jobs.create(&search).await.expect("recorded");
        assert_eq!(
            answer_from_cache(&jobs, waiting.run_id, &inputs).await.expect("looked"),
            None,
            "a hyperopt's search is not a backtest's result"
        );

        completed(&jobs, &inputs).await;
        let cancelled = sample_record(Status::Cancelled);
        jobs.create(&cancelled).await.expect("recorded");
        let error = answer_from_cache(&jobs, cancelled.run_id, &inputs)
            .await
            .expect_err("the cancel stands");
        assert!(matches!(error, StepError::JobEnded(_)), "{error}");
        assert_eq!(
            jobs.get(cancelled.run_id)
                .await
                .expect("read")
                .map(|record| record.status),
            Some(Status::Cancelled)
        );
    }
}
