//! POST /data/uploads: pre-signed S3 PUTs for the candle files and markets snapshot a client names
//! (`tradai::market_data::upload`), so data is pushed from a laptop without reaching into the stack's buckets.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_body, json_response, respond};
use tradai::market_data::DataLocation;
use tradai::market_data::upload::{UploadError, UploadRequest, UploadSigner, current_markets, plan};
use tradai::objects::{DownloadSigner, ObjectStore};
use tradai::time::Timestamp;
use tradai::validation::parse_json;

/// What the function reads from its environment: where the candles are.
pub type Settings = tradai::settings::MarketDataSettings;

/// What the handler needs: the signer of the market-data bucket and where the candles are in it.
pub struct Deps<S> {
    pub signer: S,
    pub location: DataLocation,
}

/// 200 `{exchange, expires_at, files: [{pair, timeframe, key, url, method, headers}], markets, current_markets}`
/// (`current_markets`: the snapshot a markets PUT would replace, `{key, version_id, size_bytes, url}` with a GET
/// of it, so a client can merge; absent when there is none or no markets PUT was asked for); 400 naming the field;
/// 503 when the PUTs cannot be signed or S3 does not answer.
pub async fn handle<S>(deps: &Deps<S>, request: Request) -> Result<Response<Body>, lambda_http::Error>
where
    S: UploadSigner + ObjectStore + DownloadSigner,
{
    respond(&request, async {
        let upload: UploadRequest = parse_json(json_body(&request)?).map_err(|errors| ApiError::validation(&errors))?;
        let mut planned = match plan(&upload, &deps.location, &deps.signer, Timestamp::now()).await {
            Ok(planned) => planned,
            Err(UploadError::Invalid(errors)) => return Err(ApiError::validation(&errors)),
            Err(error @ UploadError::Signing(_)) => return Err(ApiError::unavailable("S3", &error)),
        };
        if upload.markets.is_some() {
            planned.current_markets = current_markets(&deps.signer, &deps.location, &upload.exchange)
                .await
                .map_err(|error| ApiError::unavailable("S3", &error))?;
        }
        Ok(json_response(StatusCode::OK, &planned))
    })
    .await
}
