//! GET /backtests/diff?a=&b=: what differs between two runs — code, run, config by JSON path, strategy parameters,
//! data (files, pairs, the dates the candles changed over), engine — and the metric deltas (`tradai::jobs::diff`).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::backtest::RunId;
use tradai::http::{ApiError, json_response, planned_error, query_parameters, respond};
use tradai::jobs;
use tradai::market_data::DataLocation;
use tradai::objects::ObjectStore;
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::store::WorkflowStore;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub workflow_table: String,
    /// `S3_RESULTS_BUCKET`: the runs' manifests.
    pub results_bucket: String,
    /// `MARKET_DATA_S3_URI`: the candle files the manifests pin.
    pub market_data: DataLocation,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            aws: env.aws()?,
            workflow_table: env.workflow_table()?,
            results_bucket: env.bucket("S3_RESULTS_BUCKET")?,
            market_data: env.market_data()?,
        })
    }
}

/// What the handler needs: the job table, the results bucket and the market-data bucket.
pub struct Deps<S, O> {
    pub store: S,
    pub results: O,
    pub market_data: O,
}

/// 200 the diff; 400 naming `a`, `b` or an unknown parameter; 404 an unknown run; 409 a run without a manifest;
/// 503 when the store or a bucket is down.
pub async fn handle<S: WorkflowStore, O: ObjectStore>(
    deps: &Deps<S, O>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let query = query_parameters(&request, &["a", "b"])?;
        let run = |name: &str| -> Result<RunId, ApiError> {
            let text = query
                .get(name)
                .ok_or_else(|| ApiError::invalid_field(name, "required: the run id of a backtest"))?;
            text.parse()
                .map_err(|_| ApiError::invalid_field(name, format!("{text:?} is not a run id")))
        };
        let (a, b) = (run("a")?, run("b")?);
        match jobs::diff(&deps.store, &deps.results, &deps.market_data, a, b).await {
            Ok(diff) => Ok(json_response(StatusCode::OK, &diff)),
            Err(error) => Err(planned_error(&error)),
        }
    })
    .await
}
