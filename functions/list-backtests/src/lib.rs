//! GET /backtests?status=&submitted_by=&limit=&cursor=: jobs newest first, by status or across all, of every
//! caller or of one, a page at a time.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::backtest::Status;
use tradai::http::{ApiError, json_response, limit_parameter, query_parameters, respond};
use tradai::jobs::{self, DEFAULT_LIMIT, LIMITS, ListError, ListQuery};
use tradai::store::WorkflowStore;

/// What the function reads from its environment: the job table and the base of MLflow links.
pub type Settings = tradai::settings::JobReadSettings;

/// What the handler needs: the store and MLflow's address for links.
pub struct Deps<S> {
    pub store: S,
    pub mlflow_ui: Option<String>,
}

/// The longest principal `submitted_by` may name (IAM's limit for an ARN).
const MAX_PRINCIPAL_CHARS: usize = 2048;

/// 200 `{backtests: [...], next_cursor}`; 400 naming `status`, `submitted_by`, `limit`, `cursor` or an unknown
/// parameter.
pub async fn handle<S: WorkflowStore>(deps: &Deps<S>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let query = query_parameters(&request, &["status", "submitted_by", "limit", "cursor"])?;
        let status = query
            .get("status")
            .map(|text| {
                text.parse::<Status>()
                    .map_err(|error| ApiError::invalid_field("status", error.to_string()))
            })
            .transpose()?;
        let submitted_by = query
            .get("submitted_by")
            .map(|principal| match principal.chars().count() {
                0 => Err(ApiError::invalid_field(
                    "submitted_by",
                    "must name a principal (an IAM ARN)",
                )),
                count if count > MAX_PRINCIPAL_CHARS => Err(ApiError::invalid_field(
                    "submitted_by",
                    format!("at most {MAX_PRINCIPAL_CHARS} characters"),
                )),
                _ => Ok(principal.clone()),
            })
            .transpose()?;
        let listing = ListQuery {
            status,
            submitted_by,
            limit: limit_parameter(&query, LIMITS, DEFAULT_LIMIT)?,
            cursor: query.get("cursor").cloned(),
        };
        match jobs::list(&deps.store, &listing, deps.mlflow_ui.as_deref()).await {
            Ok(listing) => Ok(json_response(StatusCode::OK, &listing)),
            Err(ListError::InvalidCursor) => Err(ApiError::invalid_field(
                "cursor",
                "not a cursor of this listing; pass next_cursor from the previous page with the same status and \
                 submitted_by",
            )),
            Err(error @ ListError::Store(_)) => Err(ApiError::unavailable("the workflow store", &error)),
        }
    })
    .await
}
