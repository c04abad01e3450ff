//! GET /ready: whether MLflow, the job table and the buckets answer, each within its own timeout.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{json_response, no_input, respond};
use tradai::mlflow::MlflowOptions;
use tradai::readiness::{CHECK_TIMEOUT, Probe, check, check_all, readiness};
use tradai::settings::{AwsSettings, Env, SettingsError};

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    pub mlflow: MlflowOptions,
    /// The buckets to check, by what they hold: those of `MARKET_DATA_S3_URI`, `S3_CONFIG_BUCKET` and
    /// `S3_RESULTS_BUCKET` that are set.
    pub buckets: Vec<(String, String)>,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            mlflow: env.mlflow()?,
            buckets: [
                (
                    "market-data",
                    env.optional_market_data()?.map(|location| location.bucket),
                ),
                ("configs", env.optional_bucket("S3_CONFIG_BUCKET")?),
                ("results", env.optional_bucket("S3_RESULTS_BUCKET")?),
            ]
            .into_iter()
            .filter_map(|(name, bucket)| Some((name.to_owned(), bucket?)))
            .collect(),
        })
    }
}

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
