//! POST /backtest/{run_id}/rerun: a new job that runs exactly the inputs of run `run_id` — its strategy version
//! and image digest, its config, the object versions of its candle files — bypassing the result cache
//! (`tradai::jobs::rerun`); the caller's IAM principal is recorded as `submitted_by`. With an `Idempotency-Key`
//! header, a repeated request answers with the re-run it made the first time.

use lambda_http::{Body, Request, Response};
use serde_json::json;
use tradai::executor::Launcher;
use tradai::http::{
    accepted, caller, conflict, idempotency_key, planned_error, respond, run_id_parameter, submit_error,
};
use tradai::idempotency::IdempotencyKeys;
use tradai::jobs::{self, Launch, RerunError};
use tradai::metrics::{EmfMetrics, Metrics};
use tradai::objects::ObjectStore;
use tradai::settings::{Env, LaunchSettings, SettingsError};
use tradai::store::WorkflowStore;

/// What the function reads from its environment: what submit-backtest does, and where manifests are.
#[derive(Debug, Clone)]
pub struct Settings {
    pub launch: LaunchSettings,
    /// `S3_RESULTS_BUCKET`: where the original's manifest is.
    pub results_bucket: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            launch: LaunchSettings::from_env(env)?,
            results_bucket: env.bucket("S3_RESULTS_BUCKET")?,
        })
    }
}

/// What the handler needs: what starts jobs, and where manifests are.
pub struct Deps<S, O, L, K, M = EmfMetrics<std::io::Stdout>> {
    pub launch: Launch<S, L, K, M>,
    pub results: O,
}

/// 202 `{run_id, status, status_url, rerun_of}`; 400 malformed id or key; 404 unknown; 409 when the run has no
/// manifest or is a hyperopt; 422 for a key used for another run's re-run; 503 when the store, the results bucket
/// or the executor is down.
pub async fn handle<S: WorkflowStore, O: ObjectStore, L: Launcher, K: IdempotencyKeys, M: Metrics>(
    deps: &Deps<S, O, L, K, M>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let original = run_id_parameter(&request)?;
        let key = idempotency_key(&request)?;
        let submission = jobs::rerun(&deps.launch.store, &deps.results, original)
            .await
            .map_err(|error| match error {
                RerunError::Planned(error) => planned_error(&error),
                error @ RerunError::Hyperopt(_) => conflict(error.to_string()),
            })?
            .by(caller(&request));
        let submitted = deps
            .launch
            .submit(key.as_ref(), submission)
            .await
            .map_err(|error| submit_error(&error))?;
        Ok(accepted(&submitted, &[("rerun_of", json!(original))]))
    })
    .await
}
