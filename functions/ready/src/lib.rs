//! GET /ready: whether MLflow, the job table and the buckets answer, each within its own timeout.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{json_response, no_input, respond};
use tradai::readiness::{CHECK_TIMEOUT, Probe, check, check_all, readiness};

/// What the handler checks: MLflow, the workflow table, and named buckets.
pub struct Deps<R, S, B> {
    pub mlflow: R,
    pub table: S,
    pub buckets: Vec<(String, B)>,
}

/// 200 `{status: "ready", checks}` when every dependency answers; 503 `{status: "not_ready", checks}` naming
/// what did not, with its error and latency.
pub async fn handle<R: Probe, S: Probe, B: Probe>(
    deps: &Deps<R, S, B>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        no_input(&request)?;
        let (mlflow, table, buckets) = tokio::join!(
            check(&deps.mlflow, CHECK_TIMEOUT),
            check(&deps.table, CHECK_TIMEOUT),
            check_all(&deps.buckets, CHECK_TIMEOUT)
        );
        let mut checks = vec![("mlflow".to_owned(), mlflow), ("dynamodb".to_owned(), table)];
        checks.extend(buckets.into_iter().map(|(name, check)| (format!("s3:{name}"), check)));
        let answer = readiness(checks);
        let status = if answer.is_ready() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        Ok(json_response(status, &answer))
    })
    .await
}
