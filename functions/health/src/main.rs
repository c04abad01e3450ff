//! `health` — GET /health (API Gateway HTTP API, payload 2.0).
//! Input: any request. Output: 200 `{"status": "healthy", "service", "version"}` with the security headers.
//! Environment: none. IAM: none beyond logging. Errors: none; it never calls a dependency.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tradai::telemetry::init();
    lambda_http::run(lambda_http::service_fn(health::handle)).await
}
