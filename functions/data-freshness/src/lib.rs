//! POST /data/freshness: how old each pair's newest candle is, from the data files' Parquet footers.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_body, json_response, respond};
use tradai::market_data::{DataLocation, FreshnessRequest, check_freshness};
use tradai::objects::ObjectStore;
use tradai::time::Timestamp;

/// What the function reads from its environment: where the candles are.
pub type Settings = tradai::settings::MarketDataSettings;

/// What the handler needs: the object store and where the candles are in it.
pub struct Deps<O> {
    pub objects: O,
    pub location: DataLocation,
}

/// 200 `{exchange, timeframe, max_age_hours, checked_at, all_fresh, symbols: {pair: {...}}}`; 400 naming the
/// field; 503 when S3 does not answer.
pub async fn handle<O: ObjectStore>(deps: &Deps<O>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let question =
            FreshnessRequest::from_json(json_body(&request)?).map_err(|errors| ApiError::validation(&errors))?;
        check_freshness(&deps.objects, &deps.location, &question, Timestamp::now())
            .await
            .map(|report| json_response(StatusCode::OK, &report))
            .map_err(|error| ApiError::unavailable("the market-data store", &error))
    })
    .await
}
