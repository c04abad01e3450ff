//! GET /health: liveness. Answers without touching any dependency, so it says only that the function runs.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tradai::http::{json_response, no_input, respond};

/// The service name reported by the health check.
pub const SERVICE: &str = "tradai-api";

/// Answers `{"status": "healthy", "service", "version"}`; 400 for a query parameter or a body (it takes none).
pub async fn handle(request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        no_input(&request)?;
        Ok(json_response(
            StatusCode::OK,
            &json!({ "status": "healthy", "service": SERVICE, "version": env!("CARGO_PKG_VERSION") }),
        ))
    })
    .await
}
