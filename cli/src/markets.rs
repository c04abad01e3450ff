//! An exchange's markets snapshot (`markets.json`: ccxt's market entries, a list or an object by symbol) edited by
//! symbol: markets merged into it, or taken out of it, its shape kept.

use serde_json::{Map, Value};

/// The symbols and entries of a snapshot, in its order; `Err` when it is neither shape.
fn entries(snapshot: &Value) -> Result<Vec<(String, Value)>, String> {
    let symbol_of = |market: &Value| {
        market["symbol"].as_str().map(str::to_owned).ok_or_else(|| {
            format!(
                "a market without a symbol: {}",
                market.to_string().chars().take(80).collect::<String>()
            )
        })
    };
    match snapshot {
        Value::Array(markets) => markets
            .iter()
            .map(|market| Ok((symbol_of(market)?, market.clone())))
            .collect(),
        Value::Object(markets) => Ok(markets
            .iter()
            .map(|(symbol, market)| (symbol.clone(), market.clone()))
            .collect()),
        _ => Err("a markets snapshot is a list of markets or an object of them by symbol".to_owned()),
    }
}

/// A snapshot of `entries` in the shape of `like`.
fn shaped(like: &Value, entries: Vec<(String, Value)>) -> Value {
    match like {
        Value::Object(_) => Value::Object(entries.into_iter().collect::<Map<String, Value>>()),
        _ => Value::Array(entries.into_iter().map(|(_, market)| market).collect()),
    }
}

/// `ours` merged into `current`: a market of a symbol both have is ours, the others are kept; the current
/// snapshot's shape (ours when there is none).
pub fn merge(current: Option<&Value>, ours: &Value) -> Result<Value, String> {
    let ours_entries = entries(ours)?;
    let Some(current) = current else {
        return Ok(ours.clone());
    };
    let mut merged: Vec<(String, Value)> = entries(current)?;
    for (symbol, market) in ours_entries {
        match merged.iter_mut().find(|(known, _)| *known == symbol) {
            Some(entry) => entry.1 = market,
            None => merged.push((symbol, market)),
        }
    }
    Ok(shaped(current, merged))
}

/// `current` without the markets of `symbols`.
pub fn without(current: &Value, symbols: &[String]) -> Result<Value, String> {
    let kept = entries(current)?
        .into_iter()
        .filter(|(symbol, _)| !symbols.contains(symbol))
        .collect();
    Ok(shaped(current, kept))
}

/// Whether the snapshot lists no market.
pub fn is_empty(snapshot: &Value) -> bool {
    match snapshot {
        Value::Array(markets) => markets.is_empty(),
        Value::Object(markets) => markets.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn market(symbol: &str, taker: f64) -> Value {
        json!({"symbol": symbol, "taker": taker})
    }

    #[test]
    fn merging_keeps_the_other_markets_and_the_current_shape() {
        let current = json!([market("BTC/USDT", 0.001), market("ETH/USDT", 0.001)]);
        let ours = json!([market("ETH/USDT", 0.002), market("SMOKEA/USDT", 0.001)]);
        assert_eq!(
            merge(Some(&current), &ours).expect("merged"),
            json!([
                market("BTC/USDT", 0.001),
                market("ETH/USDT", 0.002),
                market("SMOKEA/USDT", 0.001)
            ])
        );
        assert_eq!(merge(None, &ours).expect("merged"), ours);
        let by_symbol = json!({"BTC/USDT": market("BTC/USDT", 0.001)});
        assert_eq!(
            merge(Some(&by_symbol), &ours).expect("merged"),
            json!({"BTC/USDT": market("BTC/USDT", 0.001), "ETH/USDT": market("ETH/USDT", 0.002),
                "SMOKEA/USDT": market("SMOKEA/USDT", 0.001)})
        );
        assert!(merge(Some(&json!("nope")), &ours).is_err());
        assert!(merge(None, &json!([{"id": "x"}])).is_err());
    }

    #[test]
    fn taking_markets_out_keeps_the_rest() {
        let current = json!([market("BTC/USDT", 0.001), market("SMOKEA/USDT", 0.001)]);
        let left = without(&current, &["SMOKEA/USDT".to_owned()]).expect("edited");
        assert_eq!(left, json!([market("BTC/USDT", 0.001)]));
        assert!(!is_empty(&left));
        assert!(is_empty(&without(&left, &["BTC/USDT".to_owned()]).expect("edited")));
    }
}
