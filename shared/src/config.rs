//! Engine configs: a strategy's base config (YAML or JSON) with a run's overrides merged over it, as OmegaConf
//! merges: maps merge key by key, recursively; lists and scalars replace.

use serde_json::Value;

/// A config that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the config is neither JSON nor YAML: {0}")]
    Syntax(String),
    #[error("the config is a {0}, not a mapping of settings")]
    NotAMapping(&'static str),
}

/// Parses a config document: JSON, or YAML (JSON is YAML too, so a merged config written as JSON reads both ways).
pub fn parse_document(bytes: &[u8]) -> Result<Value, ConfigError> {
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => value,
        Err(_) => {
            let text = std::str::from_utf8(bytes).map_err(|error| ConfigError::Syntax(error.to_string()))?;
            serde_saphyr::from_str::<Value>(text).map_err(|error| ConfigError::Syntax(one_line(&error.to_string())))?
        }
    };
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Err(ConfigError::NotAMapping("empty document")),
        Value::Array(_) => Err(ConfigError::NotAMapping("list")),
        _ => Err(ConfigError::NotAMapping("scalar")),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Merges `overrides` into `base`.
pub fn deep_merge(base: &mut Value, overrides: &Value) {
    match (base, overrides) {
        (Value::Object(base), Value::Object(overrides)) => {
            for (key, value) in overrides {
                match base.get_mut(key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overrides) => *base = overrides.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn maps_merge_lists_and_scalars_replace() {
        let mut base = json!({"exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT", "ETH/USDT"],
            "ccxt_config": {"enableRateLimit": true}}, "stake_amount": 100, "dry_run": true});
        let overrides = json!({"exchange": {"pair_whitelist": ["SOL/USDT"], "ccxt_config": {"timeout": 3000}},
            "stake_amount": 250, "max_open_trades": 3});
        deep_merge(&mut base, &overrides);
        assert_eq!(
            base,
            json!({"exchange": {"name": "binance", "pair_whitelist": ["SOL/USDT"],
                "ccxt_config": {"enableRateLimit": true, "timeout": 3000}}, "stake_amount": 250, "dry_run": true,
                "max_open_trades": 3})
        );
    }

    #[test]
    fn yaml_and_json_configs_read_alike() {
        let yaml =
            b"stake_currency: USDT\nstake_amount: 100\nexchange:\n  name: binance\n  pair_whitelist: [BTC/USDT]\n";
        let json = br#"{"stake_currency": "USDT", "stake_amount": 100,
            "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]}}"#;
        assert_eq!(parse_document(yaml).expect("yaml"), parse_document(json).expect("json"));
    }

    #[test]
    fn a_config_must_be_a_mapping() {
        assert!(matches!(
            parse_document(b"- a\n- b\n"),
            Err(ConfigError::NotAMapping("list"))
        ));
        assert!(matches!(parse_document(b""), Err(ConfigError::NotAMapping(_))));
        assert!(matches!(parse_document(b"a: [1, 2"), Err(ConfigError::Syntax(_))));
    }

    #[test]
    fn a_scalar_can_replace_a_map_and_the_other_way_round() {
        let mut base = json!({"a": {"b": 1}, "c": 2});
        deep_merge(&mut base, &json!({"a": 5, "c": {"d": 1}}));
        assert_eq!(base, json!({"a": 5, "c": {"d": 1}}));
    }
}
