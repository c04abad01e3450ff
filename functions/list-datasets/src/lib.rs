//! GET /data/datasets: every candle file in the market-data store, from the listing alone.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tradai::http::{ApiError, json_response, query_parameters, respond};
use tradai::market_data::{DataLocation, list_datasets};
use tradai::objects::ObjectStore;

/// What the function reads from its environment: where the candles are.
pub type Settings = tradai::settings::MarketDataSettings;

/// What the handler needs: the object store and where the candles are in it.
pub struct Deps<O> {
    pub objects: O,
    pub location: DataLocation,
}

/// 200 `{datasets: [{exchange, symbol, timeframe, trading_mode, key, size_bytes, last_modified}]}`, optionally
/// only one `exchange`; 400 for an unknown parameter; 503 when S3 does not answer.
pub async fn handle<O: ObjectStore>(deps: &Deps<O>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let query = query_parameters(&request, &["exchange"])?;
        let exchange = query.get("exchange");
        let mut datasets = list_datasets(&deps.objects, &deps.location)
            .await
            .map_err(|error| ApiError::unavailable("the market-data store", &error))?;
        if let Some(exchange) = exchange {
            datasets.retain(|dataset| &dataset.exchange == exchange);
        }
        Ok(json_response(StatusCode::OK, &json!({ "datasets": datasets })))
    })
    .await
}
