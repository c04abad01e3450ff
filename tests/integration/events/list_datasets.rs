//! GET /data/datasets: every candle file by key, or one exchange's; a malformed query names its parameter.

use tradai::time::Timestamp;
use tradai_tests::stack::Stack;

use super::{event, request};
use crate::answer::Answer;

const FUNCTION: &str = "list-datasets";

async fn stack_with_two_exchanges() -> Stack {
    let stack = Stack::fresh().await;
    let small = tradai_tests::candles::CandleFile::ending_at(Timestamp::now(), chrono::TimeDelta::hours(1), 5);
    for key in ["ohlcv/binance/BTC_USDT-1h.parquet", "ohlcv/kraken/ETH_EUR-1h.parquet"] {
        stack.put_market_data(key, small.to_parquet()).await;
    }
    stack
}

async fn ask(stack: &Stack, name: &str) -> Answer {
    let deps = list_datasets::Deps {
        objects: stack.market_objects(),
        location: stack.market_data.clone(),
    };
    let answer = Answer::read(
        list_datasets::handle(&deps, request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

fn exchanges(answer: &Answer) -> Vec<&str> {
    let datasets = answer.json["datasets"].as_array().expect("datasets");
    datasets.iter().filter_map(|d| d["exchange"].as_str()).collect()
}

#[tokio::test]
async fn every_dataset_is_listed_or_one_exchanges() {
    let stack = stack_with_two_exchanges().await;
    let all = ask(&stack, "valid.json").await;
    assert_eq!(all.status, 200, "{}", all.json);
    assert_eq!(exchanges(&all), ["binance", "kraken"]);
    let event = event(FUNCTION, "valid-one-exchange.json");
    let only = event["queryStringParameters"]["exchange"]
        .as_str()
        .expect("an exchange");
    let one = ask(&stack, "valid-one-exchange.json").await;
    assert_eq!(one.status, 200, "{}", one.json);
    assert_eq!(exchanges(&one), [only]);
}

#[tokio::test]
async fn a_malformed_datasets_query_names_its_parameter() {
    let stack = stack_with_two_exchanges().await;
    ask(&stack, "invalid-repeated-parameter.json")
        .await
        .assert_names_field("exchange");
    ask(&stack, "invalid-unknown-parameter.json")
        .await
        .assert_names_field("symbol");
}
