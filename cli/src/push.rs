//! `tradai data push DIR --exchange NAME`: a Freqtrade data folder (`BTC_USDT-5m.feather`, `.json`, `.parquet`, and
//! `futures/BTC_USDT_USDT-1h-futures.*`) into the market-data store as Parquet, with the exchange's `markets.json`
//! snapshot, through `POST /data/uploads` and the pre-signed PUTs it answers — never by reaching into a bucket.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tradai::market_data::candles::Candles;

use crate::api::Api;
use crate::table::Table;
use crate::{Context, Failure, exit};

/// The most PUTs in flight at once.
const CONCURRENT_PUTS: usize = 8;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The folder of candle files (Freqtrade's `user_data/data/<exchange>`).
    pub dir: PathBuf,
    /// The exchange the candles are of (`binance`).
    #[arg(long)]
    pub exchange: String,
    /// The exchange's markets snapshot (default: `markets.json` in the folder).
    #[arg(long)]
    pub markets: Option<PathBuf>,
    /// Only the files of this timeframe.
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Merge the folder's markets into the exchange's snapshot (a symbol's market replaced, the others kept)
    /// instead of replacing the snapshot.
    #[arg(long)]
    pub merge_markets: bool,
}

/// One candle file found, and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub pair: String,
    pub timeframe: String,
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Parquet,
    Feather,
}

/// What a Freqtrade data file's name says: `BTC_USDT-5m.json` → (`BTC/USDT`, `5m`, JSON); in `futures/`,
/// `BTC_USDT_USDT-1h-futures.parquet` → (`BTC/USDT:USDT`, `1h`, Parquet). Other candle types (mark, funding rate,
/// trades) are not candles of the pair and are skipped.
pub fn parse_name(name: &str, futures: bool) -> Option<(String, String, Format)> {
    let (stem, format) = [
        (".json", Format::Json),
        (".parquet", Format::Parquet),
        (".feather", Format::Feather),
    ]
    .into_iter()
    .find_map(|(extension, format)| name.strip_suffix(extension).map(|stem| (stem, format)))?;
    let stem = if futures { stem.strip_suffix("-futures")? } else { stem };
    let (pair, timeframe) = stem.split_once('-')?;
    if timeframe.contains('-') || !timeframe.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = pair.split('_').collect();
    let pair = match (parts.as_slice(), futures) {
        ([base, quote], false) => format!("{base}/{quote}"),
        ([base, quote, settle], true) => format!("{base}/{quote}:{settle}"),
        _ => return None,
    };
    Some((pair, timeframe.to_owned(), format))
}

/// The candle files in `dir` (and its `futures/`), by name.
pub fn scan(dir: &Path) -> Result<Vec<Found>, Failure> {
    let mut found = Vec::new();
    for (folder, futures) in [(dir.to_path_buf(), false), (dir.join("futures"), true)] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((pair, timeframe, format)) = parse_name(&name, futures) {
                found.push(Found {
                    path: entry.path(),
                    pair,
                    timeframe,
                    format,
                });
            }
        }
    }
    found.sort_by(|a, b| (&a.pair, &a.timeframe).cmp(&(&b.pair, &b.timeframe)));
    if found.is_empty() {
        return Err(Failure::bad_input(format!(
            "{}: no candle files (BTC_USDT-5m.feather, .json or .parquet)",
            dir.display()
        )));
    }
    Ok(found)
}

/// The candles of a found file, whatever its format.
fn read(found: &Found) -> Result<Candles, Failure> {
    let bytes =
        std::fs::read(&found.path).map_err(|error| Failure::bad_input(format!("{}: {error}", found.path.display())))?;
    match found.format {
        Format::Json => Candles::from_json(&bytes),
        Format::Parquet => Candles::from_parquet(bytes),
        Format::Feather => crate::feather::read(bytes),
    }
    .map_err(|error| Failure::bad_input(format!("{}: {error}", found.path.display())))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |at| at.format("%Y-%m-%d %H:%M").to_string())
}

/// A candle file to upload: its pair and timeframe, its candles, and the file as the store keeps it (Parquet).
#[derive(Debug, Clone)]
pub struct CandleFile {
    pub pair: String,
    pub timeframe: String,
    pub candles: Candles,
    pub parquet: Vec<u8>,
}

impl CandleFile {
    /// `candles` of `pair` at `timeframe`, as Parquet.
    pub fn new(pair: &str, timeframe: &str, candles: Candles) -> Result<CandleFile, Failure> {
        let parquet = candles
            .to_parquet()
            .map_err(|error| Failure::new(exit::ERROR, error.to_string()))?;
        Ok(CandleFile {
            pair: pair.to_owned(),
            timeframe: timeframe.to_owned(),
            candles,
            parquet,
        })
    }
}

/// How an upload changes the exchange's markets snapshot.
#[derive(Debug, Clone)]
pub enum MarketsChange {
    /// It stays as it is.
    Keep,
    /// It becomes these bytes.
    Replace(Vec<u8>),
    /// These markets are merged into it (`markets::merge`).
    Merge(Value),
    /// These symbols' markets are taken out of it; with none left, it is deleted.
    Remove(Vec<String>),
}

/// What became of the markets snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketsOutcome {
    Untouched,
    /// Written at this key.
    Written(String),
    /// The edit left it as it was: nothing written.
    Unchanged,
    Deleted,
}

/// Uploads `files` to `exchange` through `POST /data/uploads` and the pre-signed PUTs it answers, and changes the
/// markets snapshot as `markets` says — a merge or removal edits the snapshot the store has now (the answer's
/// `current_markets`; a push landing between the read and the PUT is overwritten: the last writer wins). Answers
/// each file's key, in order, and what became of the snapshot.
pub async fn upload(
    api: &Api,
    exchange: &str,
    files: &[CandleFile],
    markets: MarketsChange,
) -> Result<(Vec<String>, MarketsOutcome), Failure> {
    let guess = match &markets {
        MarketsChange::Keep => None,
        MarketsChange::Replace(bytes) => Some(bytes.clone()),
        MarketsChange::Merge(ours) => Some(ours.to_string().into_bytes()),
        MarketsChange::Remove(_) => Some(b"[]".to_vec()),
    };
    let named: Vec<Value> = files
        .iter()
        .map(|file| {
            json!({"pair": file.pair, "timeframe": file.timeframe, "sha256": sha256(&file.parquet),
                "size_bytes": file.parquet.len()})
        })
        .collect();
    let mut request = json!({"exchange": exchange, "files": named});
    if let Some(bytes) = &guess {
        request["markets"] = content(bytes);
    }
    let planned = api.post("/data/uploads", &request).await?;
    let keys: Vec<String> = planned["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|put| put["key"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut puts: Vec<(Value, Vec<u8>)> = files
        .iter()
        .zip(planned["files"].as_array().into_iter().flatten())
        .map(|(file, put)| (put.clone(), file.parquet.clone()))
        .collect();
    let outcome = match (markets, guess) {
        (MarketsChange::Keep, _) | (_, None) => MarketsOutcome::Untouched,
        // A replacement is what it says: the bytes asked for are put, whatever the store has now.
        (MarketsChange::Replace(bytes), _) => {
            let put = planned["markets"].clone();
            let key = put["key"].as_str().unwrap_or_default().to_owned();
            puts.push((put, bytes));
            MarketsOutcome::Written(key)
        }
        (edit, Some(guess)) => edit_markets(api, exchange, &planned, edit, guess, &mut puts).await?,
    };
    put_all(puts).await?;
    Ok((keys, outcome))
}

/// A merge or removal (`edit`) of the snapshot the store has now (`planned`'s `current_markets`): nothing when it is
/// unchanged, the snapshot deleted when a removal leaves it empty, else a PUT of the edit — the one `planned` signed
/// when the edit is the bytes `guess` asked for, else one asked for now — added to `puts`.
async fn edit_markets(
    api: &Api,
    exchange: &str,
    planned: &Value,
    edit: MarketsChange,
    guess: Vec<u8>,
    puts: &mut Vec<(Value, Vec<u8>)>,
) -> Result<MarketsOutcome, Failure> {
    let current = match planned["current_markets"]["url"].as_str() {
        Some(url) => {
            let bytes = api.download(url).await?;
            Some(serde_json::from_slice::<Value>(&bytes).map_err(|error| {
                Failure::new(
                    exit::ERROR,
                    format!("the exchange's markets snapshot is not JSON: {error}"),
                )
            })?)
        }
        None => None,
    };
    let edited = match &edit {
        MarketsChange::Merge(ours) => crate::markets::merge(current.as_ref(), ours).map(Some),
        MarketsChange::Remove(symbols) => current
            .as_ref()
            .map(|current| crate::markets::without(current, symbols))
            .transpose(),
        MarketsChange::Keep | MarketsChange::Replace(_) => Ok(None),
    }
    .map_err(|problem| Failure::bad_input(format!("markets: {problem}")))?;
    Ok(match (edited, &current) {
        (None, _) => MarketsOutcome::Untouched,
        (Some(target), Some(current)) if &target == current => MarketsOutcome::Unchanged,
        (Some(target), Some(_)) if crate::markets::is_empty(&target) && matches!(edit, MarketsChange::Remove(_)) => {
            api.send(
                "DELETE",
                "/data/datasets",
                &[("exchange", exchange.to_owned()), ("markets", "true".to_owned())],
                None,
            )
            .await?;
            MarketsOutcome::Deleted
        }
        (Some(target), _) => {
            let bytes = target.to_string().into_bytes();
            let put = if bytes == guess {
                planned["markets"].clone()
            } else {
                api.post(
                    "/data/uploads",
                    &json!({"exchange": exchange, "markets": content(&bytes)}),
                )
                .await?["markets"]
                    .clone()
            };
            let key = put["key"].as_str().unwrap_or_default().to_owned();
            puts.push((put, bytes));
            MarketsOutcome::Written(key)
        }
    })
}

fn content(bytes: &[u8]) -> Value {
    json!({"sha256": sha256(bytes), "size_bytes": bytes.len()})
}

/// Every PUT, at most [`CONCURRENT_PUTS`] at once; every failure named.
async fn put_all(puts: Vec<(Value, Vec<u8>)>) -> Result<(), Failure> {
    let http = reqwest::Client::new();
    let mut pending = tokio::task::JoinSet::new();
    let mut failures = Vec::new();
    for (put, bytes) in puts {
        while pending.len() >= CONCURRENT_PUTS {
            if let Some(Ok(Err(failure))) = pending.join_next().await {
                failures.push(failure);
            }
        }
        let http = http.clone();
        pending.spawn(async move { put_one(&http, &put, bytes).await });
    }
    while let Some(done) = pending.join_next().await {
        if let Ok(Err(failure)) = done {
            failures.push(failure);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(exit::ERROR, failures.join("; ")))
    }
}

pub async fn push(context: &Context, args: PushArgs) -> Result<u8, Failure> {
    let mut found = scan(&args.dir)?;
    if let Some(timeframe) = &args.timeframe {
        found.retain(|file| &file.timeframe == timeframe);
    }
    let mut files = Vec::with_capacity(found.len());
    for file in &found {
        files.push(CandleFile::new(&file.pair, &file.timeframe, read(file)?)?);
    }
    let markets_path = args.markets.clone().unwrap_or_else(|| args.dir.join("markets.json"));
    let markets = match std::fs::read(&markets_path) {
        Ok(bytes) => {
            let snapshot = serde_json::from_slice::<Value>(&bytes)
                .map_err(|error| Failure::bad_input(format!("{}: not JSON: {error}", markets_path.display())))?;
            if args.merge_markets {
                MarketsChange::Merge(snapshot)
            } else {
                MarketsChange::Replace(bytes)
            }
        }
        Err(_) if args.markets.is_some() => {
            return Err(Failure::bad_input(format!(
                "--markets: cannot read {}",
                markets_path.display()
            )));
        }
        Err(_) => {
            eprintln!(
                "no {}: the engine runs offline from the exchange's markets snapshot; push one with --markets",
                markets_path.display()
            );
            MarketsChange::Keep
        }
    };
    let (keys, markets) = upload(&context.api, &args.exchange, &files, markets).await?;
    let markets = match markets {
        MarketsOutcome::Written(key) => json!({"key": key, "written": true}),
        MarketsOutcome::Unchanged => json!({"written": false, "unchanged": true}),
        MarketsOutcome::Untouched | MarketsOutcome::Deleted => Value::Null,
    };
    let summary = json!({"exchange": args.exchange, "files": files.iter().zip(&keys)
        .map(|(file, key)| json!({"pair": file.pair, "timeframe": file.timeframe, "key": key,
            "candles": file.candles.len(), "first_candle": file.candles.date_ms.first().map(|ms| date(*ms)),
            "last_candle": file.candles.date_ms.last().map(|ms| date(*ms)), "size_bytes": file.parquet.len()}))
        .collect::<Vec<_>>(), "markets": markets});
    context.print(&summary, || {
        let mut table = Table::new(&["pair", "timeframe", "candles", "first", "last", "KiB"]);
        for file in summary["files"].as_array().into_iter().flatten() {
            table.row(vec![
                file["pair"].as_str().unwrap_or_default().to_owned(),
                file["timeframe"].as_str().unwrap_or_default().to_owned(),
                file["candles"].to_string(),
                file["first_candle"].as_str().unwrap_or_default().to_owned(),
                file["last_candle"].as_str().unwrap_or_default().to_owned(),
                format!("{:.1}", file["size_bytes"].as_f64().unwrap_or_default() / 1024.0),
            ]);
        }
        let markets = match (
            summary["markets"]["key"].as_str(),
            summary["markets"]["unchanged"] == true,
        ) {
            (Some(key), _) => format!("markets snapshot: {key}"),
            (None, true) => "markets snapshot: already holds these markets".to_owned(),
            (None, false) => "no markets snapshot".to_owned(),
        };
        format!("pushed to {}\n\n{}\n{markets}", args.exchange, table.render())
    });
    Ok(exit::OK)
}

async fn put_one(http: &reqwest::Client, put: &Value, bytes: Vec<u8>) -> Result<(), String> {
    let key = put["key"].as_str().unwrap_or_default().to_owned();
    let mut request = http.put(put["url"].as_str().unwrap_or_default());
    for (name, value) in put["headers"].as_object().into_iter().flatten() {
        if let Some(value) = value.as_str() {
            request = request.header(name, value);
        }
    }
    let answer = request
        .body(bytes)
        .send()
        .await
        .map_err(|error| format!("{key}: {error}"))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        Err(format!(
            "{key}: S3 answered {status}: {}",
            text.chars().take(200).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freqtrade_file_names_say_pair_timeframe_and_format() {
        assert_eq!(
            parse_name("BTC_USDT-5m.json", false),
            Some(("BTC/USDT".into(), "5m".into(), Format::Json))
        );
        assert_eq!(
            parse_name("ETH_BTC-1h.parquet", false),
            Some(("ETH/BTC".into(), "1h".into(), Format::Parquet))
        );
        assert_eq!(
            parse_name("BTC_USDT_USDT-1h-futures.feather", true),
            Some(("BTC/USDT:USDT".into(), "1h".into(), Format::Feather))
        );
        for skipped in [
            "BTC_USDT-trades.json.gz",
            "BTC_USDT-trades.json",
            "markets.json",
            "BTC_USDT_USDT-8h-funding_rate.feather",
            "notes.txt",
        ] {
            assert_eq!(parse_name(skipped, skipped.contains("USDT_USDT")), None, "{skipped}");
        }
        assert_eq!(parse_name("BTC_USDT_USDT-1h-mark.feather", true), None);
    }
}
