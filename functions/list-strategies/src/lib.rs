//! GET /strategies?limit=&cursor=: the registered strategies, by name, a page at a time.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_response, limit_parameter, query_parameters, registry_error, respond};
use tradai::mlflow::ModelRegistry;
use tradai::strategies::{self, DEFAULT_LIMIT, LIMITS};

/// What the function reads from its environment: MLflow.
pub type Settings = tradai::settings::RegistrySettings;

/// What the handler needs: the model registry.
pub struct Deps<R> {
    pub registry: R,
}

/// 200 `{strategies: [...], next_cursor}`; 400 naming `limit`, `cursor` or an unknown parameter; 503 when MLflow
/// is down (answered at once while its circuit is open).
pub async fn handle<R: ModelRegistry>(deps: &Deps<R>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let query = query_parameters(&request, &["limit", "cursor"])?;
        let limit = limit_parameter(&query, LIMITS, DEFAULT_LIMIT)?;
        let cursor = query.get("cursor").map(String::as_str);
        if cursor.is_some_and(|text| text.is_empty() || text.len() > 2048) {
            return Err(ApiError::invalid_field(
                "cursor",
                "pass next_cursor from the previous page",
            ));
        }
        strategies::list(&deps.registry, limit, cursor)
            .await
            .map(|listing| json_response(StatusCode::OK, &listing))
            .map_err(|error| registry_error(&error, cursor.map(|_| "cursor")))
    })
    .await
}
