//! POST /data/freshness: each pair's newest candle and age from its file's footer, a missing pair named as such; a
//! malformed question names its field.

use chrono::TimeDelta;
use tradai::backtest::{Symbol, Timeframe};
use tradai::time::Timestamp;
use tradai_tests::candles::CandleFile;
use tradai_tests::stack::Stack;

use super::{event, request};
use crate::answer::Answer;

const FUNCTION: &str = "data-freshness";

async fn ask(stack: &Stack, name: &str) -> Answer {
    let deps = data_freshness::Deps {
        objects: stack.market_objects(),
        location: stack.market_data.clone(),
    };
    let answer = Answer::read(
        data_freshness::handle(&deps, request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

#[tokio::test]
async fn each_pair_is_judged_by_its_newest_candle_and_a_missing_one_is_named() {
    let stack = Stack::fresh().await;
    let now = Timestamp::now();
    for (pair, age) in [("BTC/USDT", 1), ("ETH/USDT", 48)] {
        let symbol = Symbol::try_from(pair.to_owned()).expect("valid");
        let key = tradai::market_data::dataset_key(&stack.market_data, "binance", &symbol, Timeframe::M5);
        let file = CandleFile::ending_at(now.minus(TimeDelta::hours(age)), TimeDelta::minutes(5), 500);
        stack.put_market_data(&key, file.to_parquet()).await;
    }
    let answer = ask(&stack, "valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["all_fresh"], false);
    assert_eq!(answer.json["symbols"]["BTC/USDT"]["is_fresh"], true);
    assert_eq!(answer.json["symbols"]["BTC/USDT"]["row_count"], 500);
    assert_eq!(answer.json["symbols"]["ETH/USDT"]["is_fresh"], false);
    assert_eq!(answer.json["symbols"]["ETH/USDT"]["age_hours"], 48.0);
    assert_eq!(answer.json["symbols"]["SOL/USDT"]["is_fresh"], false);
    assert!(
        answer.json["symbols"]["SOL/USDT"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no 5m data"))
    );
}

#[tokio::test]
async fn a_malformed_freshness_question_names_its_field() {
    let stack = Stack::fresh().await;
    for (name, field) in [
        ("invalid-empty-symbols.json", "symbols"),
        ("invalid-negative-max-age.json", "max_age_hours"),
        ("invalid-unknown-field.json", "pairs"),
        ("invalid-unknown-timeframe.json", "timeframe"),
    ] {
        ask(&stack, name).await.assert_names_field(field);
    }
}
