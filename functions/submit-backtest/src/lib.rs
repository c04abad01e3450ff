//! POST /backtest: validates the request, records the job (conditional put) and hands it to the executor.
//! With an `Idempotency-Key` header, a repeated request answers with the job it made the first time.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tradai::backtest::BacktestRequest;
use tradai::executor::Launcher;
use tradai::executor::{ContainerContext, ExecutorMode};
use tradai::http::{ApiError, caller, json_body, json_response, log_run_id, respond, unprocessable};
use tradai::idempotency::{IdempotencyKey, IdempotencyKeys};
use tradai::jobs::{self, Submission, SubmitError};
use tradai::metrics::{BacktestMetrics, EmfMetrics, Metrics};
use tradai::settings::{AwsSettings, DEFAULT_IDEMPOTENCY_TABLE, Env, SettingsError};
use tradai::store::WorkflowStore;
use tradai::time::Timestamp;

/// The request header that makes a submission idempotent.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The response header that marks an answer replayed for a repeated idempotent request.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `IDEMPOTENCY_TABLE` (default `tradai-idempotency`).
    pub idempotency_table: String,
    pub executor: ExecutorMode,
    /// What strategy containers are told (`ecs` and `local` modes).
    pub context: ContainerContext,
    /// `ENVIRONMENT`: the stage, the metrics' dimension.
    pub environment: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            idempotency_table: env.table("IDEMPOTENCY_TABLE", DEFAULT_IDEMPOTENCY_TABLE)?,
            executor: ExecutorMode::from_env(env)?,
            context: ContainerContext::from_env(env)?,
            environment: env.environment(),
        })
    }
}

/// What the handler needs: where jobs are recorded, where they are handed off, where idempotency keys are kept,
/// where the count of submissions goes.
pub struct Deps<S, L, K, M = EmfMetrics<std::io::Stdout>> {
    pub store: S,
    pub launcher: L,
    pub keys: K,
    pub metrics: BacktestMetrics<M>,
}

/// 202 `{run_id, status, status_url}`; 400 naming the field; 422 for a reused key with another body; 503 when
/// the store or the executor is down.
pub async fn handle<S: WorkflowStore, L: Launcher, K: IdempotencyKeys, M: Metrics>(
    deps: &Deps<S, L, K, M>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let key = match request.headers().get(IDEMPOTENCY_HEADER) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| "must be visible ASCII".to_owned())
                    .and_then(IdempotencyKey::parse)
                    .map_err(|message| ApiError::invalid_field("Idempotency-Key", message))?,
            ),
        };
        let now = Timestamp::now();
        let backtest = BacktestRequest::from_json(json_body(&request)?, now.date())
            .map_err(|errors| ApiError::validation(&errors))?;
        let submission = Submission::new(backtest).by(caller(&request)).at(now);
        let submitted = match &key {
            Some(key) => jobs::submit_once(&deps.store, &deps.launcher, &deps.keys, key, submission).await,
            None => jobs::submit(&deps.store, &deps.launcher, submission).await,
        };
        match submitted {
            Ok(submitted) => {
                log_run_id(submitted.run_id);
                if !submitted.replayed {
                    deps.metrics.submitted().await;
                }
                let mut response = json_response(
                    StatusCode::ACCEPTED,
                    &json!({
                        "run_id": submitted.run_id,
                        "status": submitted.status,
                        "status_url": format!("/backtest/{}/status", submitted.run_id),
                    }),
                );
                if submitted.replayed {
                    response
                        .headers_mut()
                        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
                }
                Ok(response)
            }
            Err(error @ SubmitError::KeyReused(_)) => Err(unprocessable("Idempotency-Key", error.to_string())),
            Err(SubmitError::Refused(errors)) => Err(ApiError::validation(&errors)),
            Err(error @ SubmitError::Handoff { .. }) => Err(ApiError::unavailable("the executor", &error)),
            Err(error @ SubmitError::Store(_)) => Err(ApiError::unavailable("the workflow store", &error)),
        }
    })
    .await
}
