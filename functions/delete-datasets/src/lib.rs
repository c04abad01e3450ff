//! DELETE /data/datasets: candle files (and an exchange's markets snapshot) taken out of the market-data store, by
//! exchange, pairs and timeframe. The bucket keeps versions: what a run pinned stays readable by its version.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_response, query_parameters, respond};
use tradai::market_data::DataLocation;
use tradai::market_data::delete::{DeleteRequest, delete_datasets};
use tradai::objects::ObjectStore;

/// What the function reads from its environment: where the candles are.
pub type Settings = tradai::settings::MarketDataSettings;

/// What the handler needs: the object store and where the candles are in it.
pub struct Deps<O> {
    pub objects: O,
    pub location: DataLocation,
}

/// 200 `{exchange, deleted: [key], missing: [key]}` (deleting again answers the keys as missing); 400 naming the
/// parameter; 503 when S3 does not answer.
pub async fn handle<O: ObjectStore>(deps: &Deps<O>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let query = query_parameters(&request, &["exchange", "pairs", "timeframe", "markets"])?;
        let wanted = DeleteRequest::from_query(&query).map_err(|errors| ApiError::validation(&errors))?;
        let deleted = delete_datasets(&deps.objects, &deps.location, &wanted)
            .await
            .map_err(|error| ApiError::unavailable("the market-data store", &error))?;
        tracing::info!(exchange = %deleted.exchange, deleted = deleted.deleted.len(), missing = deleted.missing.len(), "datasets deleted");
        Ok(json_response(StatusCode::OK, &deleted))
    })
    .await
}
