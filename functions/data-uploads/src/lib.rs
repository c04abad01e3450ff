//! POST /data/uploads: pre-signed S3 PUTs for the candle files and markets snapshot a client names
//! (`tradai::market_data::upload`), so data is pushed from a laptop without reaching into the stack's buckets.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_body, json_response, respond};
use tradai::market_data::DataLocation;
use tradai::market_data::upload::{UploadError, UploadRequest, UploadSigner, plan};
use tradai::time::Timestamp;
use tradai::validation::parse_json;

/// What the function reads from its environment: where the candles are.
pub type Settings = tradai::settings::MarketDataSettings;

/// What the handler needs: the signer of the market-data bucket and where the candles are in it.
pub struct Deps<S> {
    pub signer: S,
    pub location: DataLocation,
}

/// 200 `{exchange, expires_at, files: [{pair, timeframe, key, url, method, headers}], markets}`; 400 naming the
/// field; 503 when the PUTs cannot be signed.
pub async fn handle<S: UploadSigner>(deps: &Deps<S>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let upload: UploadRequest = parse_json(json_body(&request)?).map_err(|errors| ApiError::validation(&errors))?;
        match plan(&upload, &deps.location, &deps.signer, Timestamp::now()).await {
            Ok(planned) => Ok(json_response(StatusCode::OK, &planned)),
            Err(UploadError::Invalid(errors)) => Err(ApiError::validation(&errors)),
            Err(error @ UploadError::Signing(_)) => Err(ApiError::unavailable("S3", &error)),
        }
    })
    .await
}
