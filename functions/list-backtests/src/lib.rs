//! GET /backtests?status=&limit=&cursor=: jobs newest first, by status or across all, a page at a time.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::backtest::Status;
use tradai::http::{ApiError, json_response, limit_parameter, query_parameters, respond};
use tradai::jobs::{self, DEFAULT_LIMIT, LIMITS, ListError};
use tradai::store::WorkflowStore;

/// What the function reads from its environment: the job table and the base of MLflow links.
pub type Settings = tradai::settings::JobReadSettings;

/// What the handler needs: the store and MLflow's address for links.
pub struct Deps<S> {
    pub store: S,
    pub mlflow_ui: Option<String>,
}

/// 200 `{backtests: [...], next_cursor}`; 400 naming `status`, `limit`, `cursor` or an unknown parameter.
pub async fn handle<S: WorkflowStore>(deps: &Deps<S>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let query = query_parameters(&request, &["status", "limit", "cursor"])?;
        let status = query
            .get("status")
            .map(|text| {
                text.parse::<Status>()
                    .map_err(|error| ApiError::invalid_field("status", error.to_string()))
            })
            .transpose()?;
        let limit = limit_parameter(&query, LIMITS, DEFAULT_LIMIT)?;
        let cursor = query.get("cursor").map(String::as_str);
        match jobs::list(&deps.store, status, limit, cursor, deps.mlflow_ui.as_deref()).await {
            Ok(listing) => Ok(json_response(StatusCode::OK, &listing)),
            Err(ListError::InvalidCursor) => Err(ApiError::invalid_field(
                "cursor",
                "not a cursor of this listing; pass next_cursor from the previous page with the same status",
            )),
            Err(error @ ListError::Store(_)) => Err(ApiError::unavailable("the workflow store", &error)),
        }
    })
    .await
}
