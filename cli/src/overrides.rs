//! `--override key=value`: a dotted key (`exchange.name`, `max_open_trades`) and a value read as JSON when it is
//! JSON (`3`, `true`, `["BTC/USDT"]`, `{"a": 1}`) and as a string otherwise, merged into one object.

use serde_json::{Map, Value};

/// The overrides as one object, or the first that cannot be read.
pub fn parse(overrides: &[String]) -> Result<Map<String, Value>, String> {
    let mut merged = Map::new();
    for text in overrides {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| format!("--override {text}: expected key=value"))?;
        let path: Vec<&str> = key.split('.').collect();
        if path.iter().any(|part| part.trim().is_empty()) {
            return Err(format!("--override {text}: the key has an empty part"));
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        insert(&mut merged, &path, value).map_err(|conflict| format!("--override {text}: {conflict}"))?;
    }
    Ok(merged)
}

fn insert(object: &mut Map<String, Value>, path: &[&str], value: Value) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    if rest.is_empty() {
        object.insert((*first).to_owned(), value);
        return Ok(());
    }
    let child = object
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    match child {
        Value::Object(inner) => insert(inner, rest, value),
        _ => Err(format!("{first} was already given a value that is not an object")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dotted_keys_nest_and_json_values_keep_their_type() {
        let merged = parse(&[
            "max_open_trades=3".into(),
            "exchange.name=kraken".into(),
            "exchange.pair_whitelist=[\"BTC/USDT\"]".into(),
            "dry_run=true".into(),
        ])
        .expect("parses");
        assert_eq!(
            Value::Object(merged),
            json!({"max_open_trades": 3, "exchange": {"name": "kraken", "pair_whitelist": ["BTC/USDT"]}, "dry_run": true})
        );
    }

    #[test]
    fn malformed_overrides_are_named() {
        assert!(
            parse(&["max_open_trades".into()])
                .expect_err("refused")
                .contains("key=value")
        );
        assert!(
            parse(&["exchange..name=x".into()])
                .expect_err("refused")
                .contains("empty part")
        );
        assert!(
            parse(&["a=1".into(), "a.b=2".into()])
                .expect_err("refused")
                .contains("not an object")
        );
    }
}
