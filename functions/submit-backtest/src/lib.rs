//! POST /backtest: validates the request, records the job (conditional put) and hands it to the executor.
//! With an `Idempotency-Key` header, a repeated request answers with the job it made the first time.

use lambda_http::{Body, Request, Response};
use tradai::backtest::BacktestRequest;
use tradai::executor::Launcher;
use tradai::http::{ApiError, accepted, caller, idempotency_key, json_body, respond, submit_error};
use tradai::idempotency::IdempotencyKeys;
use tradai::jobs::{Launch, Submission};
use tradai::metrics::Metrics;
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;

/// What the function reads from its environment.
pub type Settings = tradai::settings::LaunchSettings;

/// What the handler needs: where jobs are recorded, where they are handed off, where idempotency keys are kept,
/// where the count of submissions goes.
pub type Deps<S, L, K, M> = Launch<S, L, K, M>;

/// 202 `{run_id, status, status_url}`; 400 naming the field; 422 for a reused key with another body; 503 when
/// the store or the executor is down.
pub async fn handle<S: WorkflowStore, L: Launcher, K: IdempotencyKeys, M: Metrics>(
    deps: &Deps<S, L, K, M>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let key = idempotency_key(&request)?;
        let now = Timestamp::now();
        let backtest = BacktestRequest::from_json(json_body(&request)?, now.date())
            .map_err(|errors| ApiError::validation(&errors))?;
        let submission = Submission::new(backtest).by(caller(&request)).at(now);
        let submitted = deps
            .submit(key.as_ref(), submission)
            .await
            .map_err(|error| submit_error(&error))?;
        Ok(accepted(&submitted, &[]))
    })
    .await
}
