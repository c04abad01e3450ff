//! What produced a run: its manifest (not a strategy's `strategy.yaml`, which the CLI reads as a release). The
//! strategy and pinned version, the image by digest, the merged config as canonical JSON with its hash, each candle
//! file and the markets snapshot by object version and content hash, and the timerange, pairs and timeframe. The
//! manifest's **fingerprint** is the SHA-256 of its canonical JSON, object versions left out (the content hashes
//! decide): two runs with one fingerprint read the same bytes through the same code, so the second may be answered
//! from the first. What the container observes as it starts (the engine's and the entrypoint's versions) is kept
//! beside the planned inputs but outside the fingerprint: the image digest already decides both.
//!
//! Canonical JSON is `serde_json`'s compact form of a value whose maps are sorted by key (this crate does not
//! enable `preserve_order`, so every map is), which is what makes the hash independent of how a document was
//! written.

pub mod diff;
pub mod plan;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::backtest::RunId;
use crate::objects::{ObjectError, ObjectStore};
use crate::results::results_folder;

/// Where a run's manifest is kept, beside its result.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Where run `run_id`'s manifest is kept in the results bucket.
pub fn manifest_key(run_id: RunId) -> String {
    format!("{}/{MANIFEST_FILE}", results_folder(run_id))
}

/// Why a run's manifest cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the results bucket could not be read")]
    Unreachable(#[from] ObjectError),
    #[error("the manifest of run {run_id} cannot be read")]
    Malformed {
        run_id: RunId,
        #[source]
        source: serde_json::Error,
    },
}

/// Run `run_id`'s manifest in `results`; none when its inputs were never planned (it failed before PrepareConfig,
/// or was launched without the workflow).
pub async fn read_manifest(results: &impl ObjectStore, run_id: RunId) -> Result<Option<RunManifest>, ManifestError> {
    let Some(bytes) = results.get(&manifest_key(run_id)).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| ManifestError::Malformed { run_id, source })
}

/// The inputs of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub strategy: StrategyPin,
    pub config: ConfigPin,
    /// Each pair's candle file, by key.
    pub data: Vec<DataFile>,
    /// The exchange's markets snapshot, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markets: Option<DataFile>,
    /// Freqtrade's timerange, `YYYYMMDD-YYYYMMDD`.
    pub timerange: String,
    pub pairs: Vec<String>,
    pub timeframe: String,
    /// The strategy's parameter file (`{"buy": {...}}`), when the run sets hyperoptable parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// How a hyperopt run searches (none for a backtest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hyperopt: Option<crate::backtest::Hyperopt>,
    /// What the container saw as it started: not part of the fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
}

/// The strategy code a run executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyPin {
    pub name: String,
    pub version: u32,
    /// The image as registered (`…/strategy-emacross:3`).
    pub image: String,
    /// The digest the image resolved to (`sha256:…`): what the task runs.
    pub digest: String,
}

/// The merged engine config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigPin {
    /// `sha256:` and the hex SHA-256 of the config's canonical JSON.
    pub sha256: String,
    pub document: Value,
}

impl ConfigPin {
    pub fn new(document: Value) -> Self {
        Self {
            sha256: sha256_of(&canonical_json(&document)),
            document,
        }
    }
}

/// One input object as the run reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    pub key: String,
    /// The pair the file holds (none for the markets snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// The object's version in a versioned bucket (none where the bucket keeps no versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `sha256:` and the hex SHA-256 of the object's bytes.
    pub sha256: String,
    pub size: u64,
}

/// The versions the container reports as it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub engine: String,
    pub entrypoint: String,
}

/// The hash that names a run's inputs: `sha256:` and 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl RunManifest {
    /// The manifest's files in one order whatever order they were found in, so that equal inputs are equal
    /// manifests.
    pub fn sorted(mut self) -> Self {
        self.data.sort_by(|a, b| a.key.cmp(&b.key));
        self.pairs.sort();
        self
    }

    /// The SHA-256 of the canonical manifest without what the container observed and without object versions:
    /// the content hashes decide, so identical bytes uploaded again are the same input.
    pub fn fingerprint(&self) -> Fingerprint {
        let unversioned = |file: &DataFile| DataFile {
            version_id: None,
            ..file.clone()
        };
        let planned = RunManifest {
            data: self.data.iter().map(unversioned).collect(),
            markets: self.markets.as_ref().map(unversioned),
            observed: None,
            ..self.clone()
        }
        .sorted();
        let value = serde_json::to_value(&planned).expect("a manifest is JSON");
        Fingerprint(sha256_of(&canonical_json(&value)))
    }
}

/// The canonical bytes of `value`: compact, every map sorted by key.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value serialises")
}

/// `sha256:` and the hex SHA-256 of `bytes`.
pub fn sha256_of(bytes: &[u8]) -> String {
    sha256_text(&Sha256::digest(bytes))
}

/// `sha256:` and the hex of a finished SHA-256 `digest` (of bytes hashed as they streamed past).
pub fn sha256_text(digest: &[u8]) -> String {
    let mut text = String::with_capacity(7 + 2 * digest.len());
    text.push_str("sha256:");
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A two-pair manifest as PrepareConfig would write it.
    pub(crate) fn manifest() -> RunManifest {
        let file = |pair: &str, version: &str, content: &[u8]| DataFile {
            key: format!("ohlcv/binance/{}-5m.parquet", pair.replace('/', "_")),
            pair: Some(pair.to_owned()),
            version_id: Some(version.to_owned()),
            sha256: sha256_of(content),
            size: content.len() as u64,
        };
        RunManifest {
            strategy: StrategyPin {
                name: "EmaCross".into(),
                version: 3,
                image: "123.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:3".into(),
                digest: "sha256:4f1c".into(),
            },
            config: ConfigPin::new(json!({"max_open_trades": 2, "exchange": {"name": "binance"}})),
            data: vec![
                file("BTC/USDT", "v1", b"btc candles"),
                file("ETH/USDT", "v7", b"eth candles"),
            ],
            markets: None,
            timerange: "20260101-20260201".into(),
            pairs: vec!["BTC/USDT".into(), "ETH/USDT".into()],
            timeframe: "5m".into(),
            parameters: None,
            hyperopt: None,
            observed: None,
        }
    }

    #[tokio::test]
    async fn a_manifest_is_read_back_as_written_and_a_missing_or_malformed_one_is_told_apart() {
        let results = crate::objects::MemoryObjects::new("results");
        let (planned, unplanned, broken) = (RunId::new(), RunId::new(), RunId::new());
        let written = manifest();
        results
            .put(&manifest_key(planned), serde_json::to_vec(&written).expect("JSON"))
            .await
            .expect("put");
        results
            .put(&manifest_key(broken), b"{\"strategy\": 3}".to_vec())
            .await
            .expect("put");
        assert_eq!(manifest_key(planned), format!("results/{planned}/manifest.json"));
        assert_eq!(read_manifest(&results, planned).await.expect("read"), Some(written));
        assert_eq!(read_manifest(&results, unplanned).await.expect("read"), None);
        let error = read_manifest(&results, broken).await.expect_err("refused");
        assert!(
            matches!(error, ManifestError::Malformed { run_id, .. } if run_id == broken),
            "{error}"
        );
    }

    #[test]
    fn the_config_hash_does_not_depend_on_how_the_document_was_written() {
        let written: Value = serde_json::from_str(r#"{ "b": [1, 2], "a": {"y": true, "x": null} }"#).expect("JSON");
        let rewritten: Value = serde_json::from_str(r#"{"a":{"x":null,"y":true},"b":[1,2]}"#).expect("JSON");
        assert_eq!(canonical_json(&written), br#"{"a":{"x":null,"y":true},"b":[1,2]}"#);
        assert_eq!(ConfigPin::new(written).sha256, ConfigPin::new(rewritten).sha256);
        assert_eq!(
            sha256_of(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "the SHA-256 of nothing, as every tool writes it"
        );
    }

    #[test]
    fn equal_inputs_share_a_fingerprint_and_any_input_changes_it() {
        let first = manifest();
        let mut reordered = manifest();
        reordered.data.reverse();
        reordered.pairs.reverse();
        reordered.observed = Some(Observed {
            engine: "2026.9".into(),
            entrypoint: "0.1.0".into(),
        });
        assert_eq!(
            first.fingerprint(),
            reordered.fingerprint(),
            "order and what the container observed do not count"
        );
        assert!(first.fingerprint().0.starts_with("sha256:") && first.fingerprint().0.len() == 71);

        let mut uploaded_again = manifest();
        uploaded_again.data[1].version_id = Some("v8".into());
        assert_eq!(
            first.fingerprint(),
            uploaded_again.fingerprint(),
            "the same bytes uploaded again are the same input"
        );

        let changes: [fn(&mut RunManifest); 6] = [
            |m| m.parameters = Some(json!({"buy": {"buy_ema_fast": 8}})),
            |m| m.data[1].sha256 = sha256_of(b"eth candles, a gap filled"),
            |m| m.strategy.digest = "sha256:9a0b".into(),
            |m| m.config = ConfigPin::new(json!({"max_open_trades": 3, "exchange": {"name": "binance"}})),
            |m| m.timerange = "20260101-20260202".into(),
            |m| m.timeframe = "1h".into(),
        ];
        for change in changes {
            let mut changed = manifest();
            change(&mut changed);
            assert_ne!(first.fingerprint(), changed.fingerprint(), "{changed:?}");
        }
    }
}
