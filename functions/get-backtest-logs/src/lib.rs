//! GET /backtest/{run_id}/logs?next_token=&limit=: what the strategy container printed, a page at a time, from
//! the awslogs stream of every task that ran the job (oldest first); pass `next_token` back to read on, and stop
//! when `complete` says the job ended and everything was read.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_response, limit_parameter, query_parameters, respond, run_id_parameter};
use tradai::run_logs::{self, Cursor, DEFAULT_LINES, LogSource, LogsError, MAX_LINES, RunTasks};
use tradai::store::WorkflowStore;

/// What the function reads from its environment: the job table and how to reach AWS.
pub type Settings = tradai::settings::JobTableSettings;

/// What the handler needs: the store, where to find a job's tasks and their output.
pub struct Deps<S, T, L> {
    pub store: S,
    pub tasks: T,
    pub logs: L,
}

/// 200 with a page of lines; 400 naming `run_id`, `limit`, `next_token` or an unknown parameter; 404 for an
/// unknown job; 503 when the store, Step Functions, ECS or CloudWatch Logs is unavailable.
pub async fn handle<S: WorkflowStore, T: RunTasks, L: LogSource>(
    deps: &Deps<S, T, L>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let run_id = run_id_parameter(&request)?;
        let query = query_parameters(&request, &["next_token", "limit"])?;
        let limit = limit_parameter(&query, 1..=MAX_LINES, DEFAULT_LINES)?;
        let invalid_token = |error: run_logs::InvalidCursor| ApiError::invalid_field("next_token", error.to_string());
        let cursor = query
            .get("next_token")
            .map(|text| Cursor::decode(text))
            .transpose()
            .map_err(invalid_token)?
            .unwrap_or_default();
        match run_logs::read(&deps.store, &deps.tasks, &deps.logs, run_id, cursor, limit).await {
            Ok(Some(page)) => Ok(json_response(StatusCode::OK, &page)),
            Ok(None) => Err(ApiError::not_found(format!("no backtest with run_id {run_id}"))),
            Err(LogsError::InvalidCursor(error)) => Err(invalid_token(error)),
            Err(LogsError::Store(error)) => Err(ApiError::unavailable("the workflow store", &error)),
            Err(LogsError::Source(error)) => {
                let what = error.what.clone();
                Err(ApiError::unavailable(&what, &error))
            }
        }
    })
    .await
}
