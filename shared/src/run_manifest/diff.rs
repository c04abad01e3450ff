//! What differs between two runs' inputs: config values by JSON path with both sides, candle files by pair, and
//! two versions of one candle file by date.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::DataFile;
use crate::market_data::candles::Candles;
use crate::time::Timestamp;

/// One value that differs: where (`$.exchange.name`, `$.pairs[1]`), and what each run had (none where it had
/// nothing there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueChange {
    pub path: String,
    pub a: Option<Value>,
    pub b: Option<Value>,
}

/// Every leaf where `a` and `b` differ, by JSON path in document order (maps by key). Maps are compared key by
/// key and lists item by item, so that one changed setting is one change, not the whole section around it.
pub fn value_changes(a: &Value, b: &Value) -> Vec<ValueChange> {
    let mut changes = Vec::new();
    walk("$".to_owned(), Some(a), Some(b), &mut changes);
    changes
}

fn walk(path: String, a: Option<&Value>, b: Option<&Value>, changes: &mut Vec<ValueChange>) {
    match (a, b) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                walk(member(&path, key), a.get(key), b.get(key), changes);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for index in 0..a.len().max(b.len()) {
                walk(format!("{path}[{index}]"), a.get(index), b.get(index), changes);
            }
        }
        (a, b) if a == b => {}
        (a, b) => changes.push(ValueChange {
            path,
            a: a.cloned(),
            b: b.cloned(),
        }),
    }
}

/// `path.key`, or `path["key"]` for a key that is not a plain name.
fn member(path: &str, key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

/// One input file that differs between two runs: the same key with other contents, or a key only one run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    pub a: Option<DataFile>,
    pub b: Option<DataFile>,
}

/// The files whose contents differ (by hash) or that only one side read, by key.
pub fn file_changes(a: &[DataFile], b: &[DataFile]) -> Vec<FileChange> {
    let by_key = |files: &[DataFile]| -> BTreeMap<String, DataFile> {
        files.iter().map(|file| (file.key.clone(), file.clone())).collect()
    };
    let (mut a, mut b) = (by_key(a), by_key(b));
    let keys: std::collections::BTreeSet<String> = a.keys().chain(b.keys()).cloned().collect();
    keys.into_iter()
        .filter_map(|key| {
            let (a, b) = (a.remove(&key), b.remove(&key));
            let same = matches!((&a, &b), (Some(a), Some(b)) if a.sha256 == b.sha256);
            (!same).then(|| FileChange {
                pair: a.as_ref().or(b.as_ref()).and_then(|file| file.pair.clone()),
                key,
                a,
                b,
            })
        })
        .collect()
}

/// How two versions of one candle file differ, date by date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandleChanges {
    /// Candles both versions have at a date, with other prices or volume.
    pub changed: usize,
    /// Candles at dates only one version has.
    pub only_a: usize,
    pub only_b: usize,
    /// The first and last date of any of those: the span the data changed over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Timestamp>,
}

/// What differs between candles `a` and `b` (each sorted by date, as the store keeps them).
pub fn candle_changes(a: &Candles, b: &Candles) -> CandleChanges {
    let row =
        |candles: &Candles, index: usize| -> [f64; 5] { std::array::from_fn(|column| candles.prices[column][index]) };
    let (mut i, mut j) = (0, 0);
    let (mut changed, mut only_a, mut only_b) = (0, 0, 0);
    let (mut first, mut last) = (None, None);
    let mut differs_at = |date_ms: i64| {
        let at = chrono::DateTime::from_timestamp_millis(date_ms).map(Timestamp::from);
        first = first.or(at);
        last = at.or(last);
    };
    while i < a.len() || j < b.len() {
        match (a.date_ms.get(i), b.date_ms.get(j)) {
            (Some(&at_a), Some(&at_b)) if at_a == at_b => {
                // Bit for bit: a candle re-downloaded with the same numbers is the same candle.
                if row(a, i).map(f64::to_bits) != row(b, j).map(f64::to_bits) {
                    changed += 1;
                    differs_at(at_a);
                }
                i += 1;
                j += 1;
            }
            (Some(&at_a), at_b) if at_b.is_none_or(|&at_b| at_a < at_b) => {
                only_a += 1;
                differs_at(at_a);
                i += 1;
            }
            (_, Some(&at_b)) => {
                only_b += 1;
                differs_at(at_b);
                j += 1;
            }
            // Both ended (the guard above took a's candles after b's last).
            _ => break,
        }
    }
    CandleChanges {
        changed,
        only_a,
        only_b,
        first,
        last,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::run_manifest::sha256_of;
    use crate::run_manifest::tests::manifest;

    #[test]
    fn one_changed_override_is_one_path_with_both_values() {
        let a = json!({"max_open_trades": 2, "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]},
            "minimal_roi": {"0": 0.1}, "stake_amount": "unlimited"});
        let mut b = a.clone();
        b["exchange"]["pair_whitelist"][0] = json!("ETH/USDT");
        assert_eq!(
            value_changes(&a, &b),
            [ValueChange {
                path: "$.exchange.pair_whitelist[0]".into(),
                a: Some(json!("BTC/USDT")),
                b: Some(json!("ETH/USDT")),
            }]
        );
        b["minimal_roi"]["0"] = json!(0.2);
        b["dry_run"] = json!(true);
        b.as_object_mut().expect("a map").remove("stake_amount");
        let paths: Vec<(String, Option<Value>, Option<Value>)> = value_changes(&a, &b)
            .into_iter()
            .map(|change| (change.path, change.a, change.b))
            .collect();
        assert_eq!(
            paths,
            [
                ("$.dry_run".into(), None, Some(json!(true))),
                (
                    "$.exchange.pair_whitelist[0]".into(),
                    Some(json!("BTC/USDT")),
                    Some(json!("ETH/USDT"))
                ),
                ("$.minimal_roi[\"0\"]".into(), Some(json!(0.1)), Some(json!(0.2))),
                ("$.stake_amount".into(), Some(json!("unlimited")), None),
            ]
        );
        assert!(value_changes(&a, &a).is_empty());
        assert_eq!(
            value_changes(&json!({"x": 1}), &json!({"x": 1.5}))[0].path,
            "$.x",
            "a number that changed"
        );
    }

    #[test]
    fn a_re_uploaded_candle_file_is_named_with_its_pair_and_both_versions() {
        let a = manifest();
        let mut b = manifest();
        b.data[1].version_id = Some("v8".into());
        b.data[1].sha256 = sha256_of(b"eth candles, a gap filled");
        let changes = file_changes(&a.data, &b.data);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].pair.as_deref(), Some("ETH/USDT"));
        assert_eq!(
            (
                changes[0].a.as_ref().and_then(|file| file.version_id.as_deref()),
                changes[0].b.as_ref().and_then(|file| file.version_id.as_deref())
            ),
            (Some("v7"), Some("v8"))
        );

        let mut same_bytes = manifest();
        same_bytes.data[0].version_id = Some("v2".into());
        assert!(
            file_changes(&a.data, &same_bytes.data).is_empty(),
            "a new version of the same bytes is no change to the data"
        );
        let dropped = file_changes(&a.data, &a.data[..1]);
        assert_eq!(
            (dropped.len(), dropped[0].b.is_none()),
            (1, true),
            "a pair only one run read"
        );
    }

    #[test]
    fn a_gap_filled_and_a_candle_corrected_are_dated() {
        let minute = 60_000;
        let mut a = Candles::default();
        let mut b = Candles::default();
        for step in 0..10 {
            let price = [1.0, 2.0, 0.5, 1.5, 100.0];
            // a misses the candle at step 4; b corrects the close at step 7.
            if step != 4 {
                a.push(step * 5 * minute, price);
            }
            let close = if step == 7 { 1.6 } else { 1.5 };
            b.push(step * 5 * minute, [1.0, 2.0, 0.5, close, 100.0]);
        }
        let changes = candle_changes(&a, &b);
        assert_eq!((changes.changed, changes.only_a, changes.only_b), (1, 0, 1));
        assert_eq!(
            changes.first.map(|at| at.to_string()),
            Some("1970-01-01T00:20:00.000000Z".to_owned())
        );
        assert_eq!(
            changes.last.map(|at| at.to_string()),
            Some("1970-01-01T00:35:00.000000Z".to_owned())
        );
        let same = candle_changes(&a, &a);
        assert_eq!((same.changed, same.only_a, same.only_b, same.first), (0, 0, 0, None));
    }
}
