//! DELETE /data/datasets against moto's S3: the named candle files (and the markets snapshot) are deleted, their
//! versions stay readable, deleting again answers them as missing; a malformed query names its parameter and
//! deletes nothing.

use tradai::objects::ObjectStore;
use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{event, request};
use crate::answer::Answer;

const FUNCTION: &str = "delete-datasets";

const KEYS: [&str; 4] = [
    "binance/BTC_USDT-5m.parquet",
    "binance/ETH_USDT-5m.parquet",
    "binance/BTC_USDT-1h.parquet",
    "kraken/markets.json",
];

async fn stack_with_data() -> Stack {
    let stack = Stack::fresh().await;
    let small = tradai_tests::candles::CandleFile::ending_at(Timestamp::now(), chrono::TimeDelta::hours(1), 5);
    for key in KEYS {
        let key = format!("{}{key}", stack.market_data.prefix);
        stack.put_market_data(&key, small.to_parquet()).await;
    }
    stack
}

async fn ask(stack: &Stack, name: &str) -> Answer {
    let deps = delete_datasets::Deps {
        objects: stack.market_objects(),
        location: stack.market_data.clone(),
    };
    let answer = Answer::read(
        delete_datasets::handle(&deps, request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

async fn left(stack: &Stack) -> Vec<String> {
    let mut keys: Vec<String> = stack
        .market_objects()
        .list(&stack.market_data.prefix)
        .await
        .expect("listed")
        .into_iter()
        .filter_map(|object| object.key.strip_prefix(&stack.market_data.prefix).map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn the_named_files_are_deleted_and_their_versions_stay_readable() {
    let stack = stack_with_data().await;
    let objects = stack.market_objects();
    let btc = format!("{}{}", stack.market_data.prefix, KEYS[0]);
    let version = objects.head(&btc).await.expect("head").expect("there").version_id;
    let answer = ask(&stack, "valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(
        answer.json["deleted"].as_array().map(Vec::len),
        Some(2),
        "{}",
        answer.json
    );
    assert_eq!(
        left(&stack).await,
        ["binance/BTC_USDT-1h.parquet", "kraken/markets.json"]
    );
    assert!(
        objects
            .get_version(&btc, version.as_deref())
            .await
            .expect("read")
            .is_some(),
        "a pinned version stays readable"
    );
    let again = ask(&stack, "valid.json").await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(
        again.json["missing"].as_array().map(Vec::len),
        Some(2),
        "{}",
        again.json
    );

    let markets = ask(&stack, "valid-markets.json").await;
    assert_eq!(markets.status, 200, "{}", markets.json);
    assert_eq!(left(&stack).await, ["binance/BTC_USDT-1h.parquet"]);
}

#[tokio::test]
async fn a_malformed_delete_names_its_parameter_and_deletes_nothing() {
    let stack = stack_with_data().await;
    let answer = ask(&stack, "invalid-parameters.json").await;
    for field in ["exchange", "markets", "timeframe"] {
        answer.assert_names_field(field);
    }
    ask(&stack, "invalid-nothing-named.json")
        .await
        .assert_names_field("pairs");
    assert_eq!(left(&stack).await.len(), KEYS.len());
}
