//! CheckDataFreshness: fresh pairs pass with the report added; stale ones fail the step `StaleMarketData` naming
//! them, unless the run allows stale data; a state without its config is `InvalidInput`.

use tradai::objects::S3Objects;
use tradai_tests::stack::Stack;

use super::{assert_invalid_input, event, invocation};

const FUNCTION: &str = "check-data-freshness";

/// BTC/USDT an hour old, ETH/USDT two days old.
async fn deps() -> check_data_freshness::Deps<S3Objects> {
    let stack = Stack::fresh().await;
    stack.put_candles(&["BTC/USDT"], 1, 300).await;
    stack.put_candles(&["ETH/USDT"], 48, 300).await;
    check_data_freshness::Deps {
        objects: stack.market_objects(),
        location: stack.market_data.clone(),
    }
}

#[tokio::test]
async fn fresh_data_passes_and_stale_data_passes_when_the_run_allows_it() {
    let deps = deps().await;
    for name in ["valid.json", "valid-allow-stale.json"] {
        let state = event(FUNCTION, name);
        let output = check_data_freshness::handle(&deps, invocation(&state))
            .await
            .expect("passes");
        assert_eq!(output["run_id"], state["run_id"]);
        assert_eq!(output["data_freshness"]["symbols"]["BTC/USDT"]["is_fresh"], true);
        let allowed = state.get("allow_stale").is_some();
        assert_eq!(output["data_freshness"]["all_fresh"], !allowed, "{name}");
    }
}

#[tokio::test]
async fn stale_data_fails_the_step_naming_only_the_stale_pairs() {
    let deps = deps().await;
    let error = check_data_freshness::handle(&deps, invocation(&event(FUNCTION, "stale-data.json")))
        .await
        .expect_err("stale data fails the step");
    assert_eq!(error.error_type, "StaleMarketData");
    assert!(
        error.error_message.contains("ETH/USDT last candle 48.0 h old"),
        "{}",
        error.error_message
    );
    assert!(!error.error_message.contains("BTC/USDT"), "{}", error.error_message);
}

#[tokio::test]
async fn a_state_without_its_config_is_invalid_input() {
    let deps = deps().await;
    for (name, field) in [
        ("invalid-missing-config.json", "config"),
        ("invalid-timeframe.json", "timeframe"),
    ] {
        let answer = check_data_freshness::handle(&deps, invocation(&event(FUNCTION, name))).await;
        assert_invalid_input(answer, field);
    }
}
