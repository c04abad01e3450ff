//! Engine configs: a strategy's base config with a run's overrides merged over it, as OmegaConf merges: maps merge
//! key by key, recursively; lists and scalars replace.

use serde_json::Value;

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
    fn a_scalar_can_replace_a_map_and_the_other_way_round() {
        let mut base = json!({"a": {"b": 1}, "c": 2});
        deep_merge(&mut base, &json!({"a": 5, "c": {"d": 1}}));
        assert_eq!(base, json!({"a": 5, "c": {"d": 1}}));
    }
}
