//! GET /sweeps/{sweep_id}: the sweep's progress (children queued, running, completed, failed, cancelled) and, as
//! children finish, the leaderboard: each combination's parameters and summary metrics, ranked, the best marked.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_response, no_input, respond, sweep_id_parameter};
use tradai::settings::{AwsSettings, DEFAULT_SWEEP_TABLE, Env, SettingsError};
use tradai::store::WorkflowStore;
use tradai::sweep::SweepStore;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `SWEEP_TABLE` (default `tradai-sweeps`).
    pub sweep_table: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            sweep_table: env.table("SWEEP_TABLE", DEFAULT_SWEEP_TABLE)?,
        })
    }
}

/// What the handler needs: the sweeps and the jobs of their children.
pub struct Deps<S, W> {
    pub sweeps: S,
    pub jobs: W,
}

/// 200 the report; 400 malformed id; 404 unknown; 503 when DynamoDB is unavailable.
pub async fn handle<S: SweepStore, W: WorkflowStore>(
    deps: &Deps<S, W>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        no_input(&request)?;
        let sweep_id = sweep_id_parameter(&request)?;
        match tradai::sweep::report(&deps.sweeps, &deps.jobs, sweep_id).await {
            Ok(Some(report)) => Ok(json_response(StatusCode::OK, &report)),
            Ok(None) => Err(ApiError::not_found(format!("no sweep with sweep_id {sweep_id}"))),
            Err(error) => Err(ApiError::unavailable("the workflow store", &error)),
        }
    })
    .await
}
