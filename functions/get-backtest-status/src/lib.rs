//! GET /backtest/{run_id}/status: where a job is (with the workflow state while it runs); its result, MLflow link
//! and links to its files when COMPLETED, its error when FAILED.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::executor::WorkflowProgress;
use tradai::http::{ApiError, json_response, respond, run_id_parameter};
use tradai::jobs;
use tradai::objects::DownloadSigner;
use tradai::settings::{Env, JobReadSettings, SettingsError};
use tradai::store::WorkflowStore;

/// What the function reads from its environment: the job table, the base of MLflow links and the results bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub jobs: JobReadSettings,
    pub results_bucket: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            jobs: JobReadSettings::from_env(env)?,
            results_bucket: env.bucket("S3_RESULTS_BUCKET")?,
        })
    }
}

/// What the handler needs: the store, MLflow's address for links, the workflow's progress and the signer of links
/// to result files.
pub struct Deps<S, P, F> {
    pub store: S,
    pub mlflow_ui: Option<String>,
    pub progress: P,
    pub files: F,
}

/// 200 with the status report; 400 for a malformed run id; 404 for an unknown one; 503 when the store is down.
pub async fn handle<S: WorkflowStore, P: WorkflowProgress, F: DownloadSigner>(
    deps: &Deps<S, P, F>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let run_id = run_id_parameter(&request)?;
        let report = jobs::status(
            &deps.store,
            &deps.progress,
            &deps.files,
            run_id,
            deps.mlflow_ui.as_deref(),
        );
        match report.await {
            Ok(Some(report)) => Ok(json_response(StatusCode::OK, &report)),
            Ok(None) => Err(ApiError::not_found(format!("no backtest with run_id {run_id}"))),
            Err(error) => Err(ApiError::unavailable("the workflow store", &error)),
        }
    })
    .await
}
