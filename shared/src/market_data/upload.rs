//! Uploads into the market-data store without reaching into it: a client names the candle files it has (pair,
//! timeframe, SHA-256 and size) and the exchange's markets snapshot, and gets one pre-signed S3 PUT for each, at the
//! key the layout gives it, valid for a few minutes and only for exactly those bytes (the SHA-256 and length are
//! signed). Nothing is written by asking.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{DataLocation, dataset_key, is_exchange_id, markets_key};
use crate::backtest::{Symbol, Timeframe};
use crate::objects::{DownloadSigner, ObjectError, ObjectStore};
use crate::time::Timestamp;
use crate::validation::{FieldError, ValidationErrors};

/// The most files one request may name.
pub const MAX_FILES: usize = 500;
/// The largest object one PUT may carry (S3's limit).
pub const MAX_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// How long the URLs are good for.
pub const EXPIRY: Duration = Duration::from_secs(15 * 60);

/// What a client wants to upload.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub exchange: String,
    #[serde(default)]
    pub files: Vec<CandleUpload>,
    /// The exchange's `markets.json` snapshot.
    #[serde(default)]
    pub markets: Option<Content>,
}

/// One candle file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandleUpload {
    pub pair: Symbol,
    pub timeframe: Timeframe,
    pub sha256: String,
    pub size_bytes: u64,
}

/// The bytes a PUT will carry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    pub sha256: String,
    pub size_bytes: u64,
}

/// One pre-signed PUT.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignedPut {
    pub key: String,
    pub url: String,
    pub method: &'static str,
    /// Headers the PUT must send as they are (they are signed).
    pub headers: BTreeMap<String, String>,
}

/// A candle file's PUT.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandlePut {
    pub pair: String,
    pub timeframe: String,
    #[serde(flatten)]
    pub put: SignedPut,
}

/// The answer: a PUT per file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadPlan {
    pub exchange: String,
    pub expires_at: Timestamp,
    pub files: Vec<CandlePut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markets: Option<SignedPut>,
    /// The snapshot the markets PUT would replace, when there is one, so a client can merge into it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_markets: Option<CurrentMarkets>,
}

/// The exchange's markets snapshot as the store has it now: its version, size and a GET of it (good for
/// [`EXPIRY`]; it reads whatever is current when it is used).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurrentMarkets {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub size_bytes: u64,
    pub url: String,
}

/// The markets snapshot of `exchange` under `location` as it is now, with a GET of it; `None` when there is none.
pub async fn current_markets(
    store: &(impl ObjectStore + DownloadSigner),
    location: &DataLocation,
    exchange: &str,
) -> Result<Option<CurrentMarkets>, ObjectError> {
    let key = markets_key(location, exchange);
    let Some(info) = store.head(&key).await? else {
        return Ok(None);
    };
    Ok(Some(CurrentMarkets {
        url: store.presign_get(&key, EXPIRY).await?,
        key,
        version_id: info.version_id,
        size_bytes: info.size,
    }))
}

/// Signs PUTs of exact bytes.
pub trait UploadSigner: Send + Sync {
    /// A PUT of `key` carrying `length` bytes whose SHA-256 is `sha256` (base64), good for `expires`.
    fn presign_put(
        &self,
        key: &str,
        sha256: &str,
        length: u64,
        expires: Duration,
    ) -> impl Future<Output = Result<(String, BTreeMap<String, String>), ObjectError>> + Send;
}

/// Why no uploads were planned.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("the uploads could not be signed")]
    Signing(#[source] ObjectError),
}

/// The SHA-256 `hex` as base64, as S3's `x-amz-checksum-sha256` carries it.
fn base64_of(hex: &str) -> Option<String> {
    if hex.len() != 64 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|index| u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok())
        .collect();
    bytes.map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn check_content(errors: &mut Vec<FieldError>, field: &str, content_sha256: &str, size: u64) {
    if base64_of(&content_sha256.to_ascii_lowercase()).is_none() {
        errors.push(FieldError::new(
            format!("{field}.sha256"),
            "64 hexadecimal digits (the content's SHA-256)",
        ));
    }
    if size == 0 || size > MAX_BYTES {
        errors.push(FieldError::new(
            format!("{field}.size_bytes"),
            format!("between 1 and {MAX_BYTES} bytes"),
        ));
    }
}

/// Checks `request` field by field.
pub fn check(request: &UploadRequest) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    if !is_exchange_id(&request.exchange) {
        errors.push(FieldError::new("exchange", "a lower-case exchange id such as binance"));
    }
    if request.files.is_empty() && request.markets.is_none() {
        errors.push(FieldError::new(
            "files",
            "name at least one file, or the markets snapshot",
        ));
    }
    if request.files.len() > MAX_FILES {
        errors.push(FieldError::new("files", format!("at most {MAX_FILES} files a request")));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, file) in request.files.iter().enumerate() {
        let field = format!("files[{index}]");
        check_content(&mut errors, &field, &file.sha256, file.size_bytes);
        if !seen.insert((file.pair.as_str().to_owned(), file.timeframe)) {
            errors.push(FieldError::new(
                field,
                format!("{} {} is named twice", file.pair, file.timeframe),
            ));
        }
    }
    if let Some(markets) = &request.markets {
        check_content(&mut errors, "markets", &markets.sha256, markets.size_bytes);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

/// A signed PUT for every file of `request` under `location`.
pub async fn plan(
    request: &UploadRequest,
    location: &DataLocation,
    signer: &impl UploadSigner,
    now: Timestamp,
) -> Result<UploadPlan, UploadError> {
    check(request).map_err(UploadError::Invalid)?;
    let sign = |key: String, content_sha256: String, length: u64| async move {
        let checksum = base64_of(&content_sha256.to_ascii_lowercase()).unwrap_or_default();
        let (url, headers) = signer
            .presign_put(&key, &checksum, length, EXPIRY)
            .await
            .map_err(UploadError::Signing)?;
        Ok::<_, UploadError>(SignedPut {
            key,
            url,
            method: "PUT",
            headers,
        })
    };
    let mut files = Vec::with_capacity(request.files.len());
    for file in &request.files {
        let key = dataset_key(location, &request.exchange, &file.pair, file.timeframe);
        files.push(CandlePut {
            pair: file.pair.to_string(),
            timeframe: file.timeframe.to_string(),
            put: sign(key, file.sha256.clone(), file.size_bytes).await?,
        });
    }
    let markets = match &request.markets {
        Some(markets) => Some(
            sign(
                markets_key(location, &request.exchange),
                markets.sha256.clone(),
                markets.size_bytes,
            )
            .await?,
        ),
        None => None,
    };
    Ok(UploadPlan {
        exchange: request.exchange.clone(),
        expires_at: now.plus(chrono::TimeDelta::seconds(
            i64::try_from(EXPIRY.as_secs()).unwrap_or(900),
        )),
        files,
        markets,
        current_markets: None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    #[derive(Default)]
    struct Signer(Mutex<Vec<(String, String, u64)>>);

    impl UploadSigner for Signer {
        async fn presign_put(
            &self,
            key: &str,
            sha256: &str,
            length: u64,
            _expires: Duration,
        ) -> Result<(String, BTreeMap<String, String>), ObjectError> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((key.to_owned(), sha256.to_owned(), length));
            Ok((format!("https://s3.example/{key}?signed"), BTreeMap::new()))
        }
    }

    const SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn request(body: serde_json::Value) -> UploadRequest {
        serde_json::from_value(body).expect("a request")
    }

    #[tokio::test]
    async fn each_file_gets_a_put_at_its_layout_key_for_exactly_its_bytes() {
        let location = DataLocation::parse("s3://market/ohlcv").expect("a location");
        let signer = Signer::default();
        let planned = plan(
            &request(json!({"exchange": "binance", "files": [
                {"pair": "BTC/USDT", "timeframe": "5m", "sha256": SHA, "size_bytes": 10},
                {"pair": "BTC/USDT:USDT", "timeframe": "1h", "sha256": SHA.to_uppercase(), "size_bytes": 20}],
                "markets": {"sha256": SHA, "size_bytes": 30}})),
            &location,
            &signer,
            Timestamp::now(),
        )
        .await
        .expect("planned");
        let keys: Vec<&str> = planned.files.iter().map(|file| file.put.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ohlcv/binance/BTC_USDT-5m.parquet",
                "ohlcv/binance/futures/BTC_USDT_USDT-1h-futures.parquet"
            ]
        );
        assert_eq!(planned.markets.expect("markets").key, "ohlcv/binance/markets.json");
        let signed = signer.0.lock().expect("signed").clone();
        assert_eq!(
            signed[0].1, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "the empty file's SHA-256 in base64"
        );
        assert_eq!(
            signed.iter().map(|(_, _, length)| *length).collect::<Vec<_>>(),
            [10, 20, 30]
        );
    }

    #[tokio::test]
    async fn a_bad_request_names_each_field_and_signs_nothing() {
        let location = DataLocation::parse("s3://market").expect("a location");
        let signer = Signer::default();
        let refused = plan(
            &request(json!({"exchange": "Binance!", "files": [
                {"pair": "BTC/USDT", "timeframe": "5m", "sha256": "abc", "size_bytes": 0},
                {"pair": "BTC/USDT", "timeframe": "5m", "sha256": SHA, "size_bytes": 1}]})),
            &location,
            &signer,
            Timestamp::now(),
        )
        .await;
        let Err(UploadError::Invalid(errors)) = refused else {
            panic!("refused")
        };
        let fields: Vec<&str> = errors.errors().iter().map(|error| error.field.as_str()).collect();
        assert_eq!(
            fields,
            ["exchange", "files[0].sha256", "files[0].size_bytes", "files[1]"]
        );
        assert!(signer.0.lock().expect("signed").is_empty());
        let empty = check(&request(json!({"exchange": "binance"}))).expect_err("refused");
        assert_eq!(empty.errors()[0].field, "files");
    }
}
