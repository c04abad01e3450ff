//! What every HTTP function shares: JSON error bodies, security headers, the request id, body and path checks.

use std::error::Error as StdError;
use std::future::Future;

use lambda_http::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use lambda_http::http::{StatusCode, response::Builder};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::backtest::ValidationErrors;
use crate::report::chain;

/// The largest request body any route accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The header that carries the request id back to the client.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request header that makes a submission idempotent.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The response header that marks an answer replayed for a repeated idempotent request.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Headers on every response: an API answers JSON that must never be sniffed, framed or cached.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("cache-control", "no-store"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("referrer-policy", "no-referrer"),
];

/// An error answer: status, a stable code, a message the client can act on, and optional details.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// 400: the request broke these rules; each detail names its field.
    pub fn validation(errors: &ValidationErrors) -> Self {
        let mut error = Self::new(StatusCode::BAD_REQUEST, "ValidationError", errors.to_string());
        error.details = Some(json!(errors.errors()));
        error
    }

    /// 400: `field` is wrong.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            format!("{field}: {message}"),
        );
        error.details = Some(json!([{ "field": field, "message": message }]));
        error
    }

    /// 404: there is no such thing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 503: a dependency did not answer; the details go to the log, the client is told to retry.
    pub fn unavailable(what: &str, error: &dyn StdError) -> Self {
        tracing::error!(error = %chain(error), "{what} unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("{what} is unavailable; retry later"),
        )
    }

    /// 500: a fault of ours; the details go to the log.
    pub fn internal(error: &dyn StdError) -> Self {
        tracing::error!(error = %chain(error), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "internal error; the request id identifies it",
        )
    }

    /// The response carrying this error as `{"error": {"code", "message", "details"}}`.
    pub fn into_response(self) -> Response<Body> {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = details;
        }
        json_response(self.status, &json!({ "error": error }))
    }
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let response = Builder::new()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::Text(text));
    // The builder fails only on invalid header names or values; ours are constants.
    response.unwrap_or_else(|_| Response::new(Body::Empty))
}

/// Runs `handler` for `request` inside a span carrying the request id, turns its error into a JSON error
/// response, and puts the security headers and the request id on whatever comes out.
pub async fn respond(
    request: &Request,
    handler: impl Future<Output = Result<Response<Body>, ApiError>>,
) -> Result<Response<Body>, lambda_http::Error> {
    let request_id = request_id(request);
    let span = tracing::info_span!("request", request_id = %request_id, run_id = tracing::field::Empty);
    let mut response = handler.instrument(span).await.unwrap_or_else(ApiError::into_response);
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

/// The id API Gateway gave this request, else the Lambda invocation's, else a fresh one.
pub fn request_id(request: &Request) -> String {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    from_gateway
        .filter(|id| !id.is_empty())
        .or_else(|| request.lambda_context_ref().map(|context| context.request_id.clone()))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The caller API Gateway authenticated: the IAM principal's ARN (`requestContext.authorizer.iam.userArn`, an IAM
/// user or an assumed role's session), or `None` when the request came without one (a local invoke).
pub fn caller(request: &Request) -> Option<String> {
    let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
        return None;
    };
    let iam = context.authorizer.as_ref()?.iam.as_ref()?;
    iam.user_arn.clone().filter(|arn| !arn.is_empty())
}

/// The request body, if it is JSON (or untyped) and within the size limit.
pub fn json_body(request: &Request) -> Result<&[u8], ApiError> {
    if let Some(content_type) = request.headers().get(CONTENT_TYPE) {
        let media = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        if !media.eq_ignore_ascii_case("application/json") {
            let mut error = ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!("content-type: expected application/json, got {media:?}"),
            );
            error.details = Some(json!([{ "field": "content-type", "message": "expected application/json" }]));
            return Err(error);
        }
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        let mut error = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("body: {} bytes; the limit is {MAX_BODY_BYTES}", body.len()),
        );
        error.details = Some(json!([{ "field": "body", "message": "too large" }]));
        return Err(error);
    }
    Ok(body)
}

/// The path parameter `name`, or a 400 naming it.
pub fn path_parameter(request: &Request, name: &str) -> Result<String, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(name))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid_field(name, format!("the path parameter {name} is missing")))
}

/// Tags the current request's log lines with the job they concern.
pub fn log_run_id(run_id: crate::backtest::RunId) {
    tracing::Span::current().record("run_id", tracing::field::display(run_id));
}

/// The query string as single values, refusing parameters not in `allowed` and parameters given twice.
pub fn query_parameters(
    request: &Request,
    allowed: &[&str],
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let mut parameters = std::collections::BTreeMap::new();
    let Some(query) = request.query_string_parameters_ref() else {
        return Ok(parameters);
    };
    for (name, _) in query.iter() {
        if parameters.contains_key(name) {
            continue;
        }
        if !allowed.contains(&name) {
            let known = if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            };
            return Err(ApiError::invalid_field(
                name,
                format!("unknown query parameter; known: {known}"),
            ));
        }
        let values = query.all(name).unwrap_or_default();
        if values.len() > 1 {
            return Err(ApiError::invalid_field(name, "given more than once"));
        }
        parameters.insert(
            name.to_owned(),
            values.first().map(|value| value.to_string()).unwrap_or_default(),
        );
    }
    Ok(parameters)
}

/// The run id path parameter, or a 400 naming `run_id`.
pub fn run_id_parameter(request: &Request) -> Result<crate::backtest::RunId, ApiError> {
    let run_id = path_parameter(request, "run_id")?
        .parse()
        .map_err(|error: crate::backtest::InvalidRunId| ApiError::invalid_field("run_id", error.to_string()))?;
    log_run_id(run_id);
    Ok(run_id)
}

/// The `sweep_id` path parameter, or a 400 naming it.
pub fn sweep_id_parameter(request: &Request) -> Result<crate::sweep::SweepId, ApiError> {
    path_parameter(request, "sweep_id")?
        .parse()
        .map_err(|message: String| ApiError::invalid_field("sweep_id", message))
}

/// The answer for a run that cannot be read as planned: 404 unknown, 409 without a (readable) manifest, 503 when
/// the store or a bucket is down.
pub fn planned_error(error: &crate::jobs::PlannedError) -> ApiError {
    use crate::jobs::PlannedError;
    match error {
        PlannedError::NotFound(_) => ApiError::not_found(error.to_string()),
        PlannedError::NotPlanned(_) | PlannedError::Manifest { .. } => conflict(error.to_string()),
        PlannedError::Store(_) => ApiError::unavailable("the workflow store", error),
        PlannedError::Objects(_) => ApiError::unavailable("the results or market-data bucket", error),
    }
}

/// The request's `Idempotency-Key`, when it sent one; a malformed key is a 400 naming the header.
pub fn idempotency_key(request: &Request) -> Result<Option<crate::idempotency::IdempotencyKey>, ApiError> {
    let Some(value) = request.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .map_err(|_| "must be visible ASCII".to_owned())
        .and_then(crate::idempotency::IdempotencyKey::parse)
        .map(Some)
        .map_err(|message| ApiError::invalid_field("Idempotency-Key", message))
}

/// 202 for a job a route started: `{run_id, status, status_url}` and the `more` fields the route adds, marked
/// `idempotent-replayed: true` when it answers a repeated Idempotency-Key; the request's log lines name the job.
pub fn accepted(submitted: &crate::jobs::Submitted, more: &[(&str, Value)]) -> Response<Body> {
    log_run_id(submitted.run_id);
    let mut body = serde_json::Map::from_iter([
        ("run_id".to_owned(), json!(submitted.run_id)),
        ("status".to_owned(), json!(submitted.status)),
        (
            "status_url".to_owned(),
            json!(format!("/backtest/{}/status", submitted.run_id)),
        ),
    ]);
    body.extend(more.iter().map(|(name, value)| ((*name).to_owned(), value.clone())));
    let mut response = json_response(StatusCode::ACCEPTED, &body);
    if submitted.replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// The answer for a submission that did not go through: 400 when the executor cannot take the job, 422 for a
/// reused Idempotency-Key, 503 when the store or the executor is down.
pub fn submit_error(error: &crate::jobs::SubmitError) -> ApiError {
    use crate::jobs::SubmitError;
    match error {
        SubmitError::KeyReused(_) => unprocessable("Idempotency-Key", error.to_string()),
        SubmitError::Refused(errors) => ApiError::validation(errors),
        SubmitError::Handoff { .. } => ApiError::unavailable("the executor", error),
        SubmitError::Store(_) => ApiError::unavailable("the workflow store", error),
    }
}

/// 409: the request conflicts with the resource's state.
pub fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "Conflict", message)
}

/// 422: `field` is well-formed but cannot be honoured.
pub fn unprocessable(field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    let mut error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Unprocessable", message.clone());
    error.details = Some(json!([{ "field": field, "message": message }]));
    error
}

/// The answer for a model-registry failure: 400 naming `rejected_field` when MLflow refused what the client sent
/// (a stale cursor), 503 when MLflow is down or its circuit is open, 502 when it answered nonsense.
pub fn registry_error(error: &crate::mlflow::RegistryError, rejected_field: Option<&str>) -> ApiError {
    use crate::mlflow::RegistryError;
    match (error, rejected_field) {
        (RegistryError::Rejected(message), Some(field)) => ApiError::invalid_field(field, message.clone()),
        (RegistryError::Rejected(_) | RegistryError::Malformed(_), _) => {
            tracing::error!(error = %chain(error), "MLflow answered unexpectedly");
            ApiError::new(StatusCode::BAD_GATEWAY, "BadGateway", "MLflow answered unexpectedly")
        }
        _ => ApiError::unavailable("MLflow", error),
    }
}

/// Refuses any query parameter and any body: for routes that take no input.
pub fn no_input(request: &Request) -> Result<(), ApiError> {
    query_parameters(request, &[])?;
    if !request.body().is_empty() {
        return Err(ApiError::invalid_field("body", "this route takes no body"));
    }
    Ok(())
}

/// The `limit` query parameter: a whole number within `range`, `default` when absent, else a 400 naming `limit`.
pub fn limit_parameter<T>(
    query: &std::collections::BTreeMap<String, String>,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, ApiError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match query.get("limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<T>()
            .ok()
            .filter(|limit| range.contains(limit))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "limit",
                    format!("expected a whole number from {} to {}", range.start(), range.end()),
                )
            }),
    }
}
