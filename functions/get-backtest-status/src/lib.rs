//! GET /backtest/{run_id}/status: where a job is; its result and MLflow link when COMPLETED, its error when FAILED.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_response, respond, run_id_parameter};
use tradai::jobs;
use tradai::store::WorkflowStore;

/// What the function reads from its environment: the job table and the base of MLflow links.
pub type Settings = tradai::settings::JobReadSettings;

/// What the handler needs: the store and MLflow's address for links.
pub struct Deps<S> {
    pub store: S,
    pub mlflow_ui: Option<String>,
}

/// 200 with the status report; 400 for a malformed run id; 404 for an unknown one; 503 when the store is down.
pub async fn handle<S: WorkflowStore>(deps: &Deps<S>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let run_id = run_id_parameter(&request)?;
        match jobs::status(&deps.store, run_id, deps.mlflow_ui.as_deref()).await {
            Ok(Some(report)) => Ok(json_response(StatusCode::OK, &report)),
            Ok(None) => Err(ApiError::not_found(format!("no backtest with run_id {run_id}"))),
            Err(error) => Err(ApiError::unavailable("the workflow store", &error)),
        }
    })
    .await
}
