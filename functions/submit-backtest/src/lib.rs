//! POST /backtest: validates the request, records the job (conditional put) and hands it to the executor.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tradai::backtest::BacktestRequest;
use tradai::executor::Launcher;
use tradai::http::{ApiError, json_body, json_response, log_run_id, respond};
use tradai::jobs::{self, SubmitError};
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;

/// What the handler needs: where jobs are recorded and where they are handed off.
pub struct Deps<S, L> {
    pub store: S,
    pub launcher: L,
}

/// 202 `{run_id, status, status_url}`; 400 naming the field; 503 when the store or the executor is down.
pub async fn handle<S: WorkflowStore, L: Launcher>(
    deps: &Deps<S, L>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let now = Timestamp::now();
        let backtest = BacktestRequest::from_json(json_body(&request)?, now.date())
            .map_err(|errors| ApiError::validation(&errors))?;
        match jobs::submit(&deps.store, &deps.launcher, backtest, now).await {
            Ok(submitted) => {
                log_run_id(submitted.run_id);
                Ok(json_response(
                    StatusCode::ACCEPTED,
                    &json!({
                        "run_id": submitted.run_id,
                        "status": submitted.status,
                        "status_url": format!("/backtest/{}/status", submitted.run_id),
                    }),
                ))
            }
            Err(error @ SubmitError::Handoff { .. }) => {
                Err(ApiError::unavailable("the executor", &error))
            }
            Err(error @ SubmitError::Store(_)) => {
                Err(ApiError::unavailable("the workflow store", &error))
            }
        }
    })
    .await
}
