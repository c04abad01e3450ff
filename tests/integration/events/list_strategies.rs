//! GET /strategies: the registered strategies by name, a page at a time; a malformed query names its parameter.

use super::{event, registry, request};
use crate::answer::Answer;

const FUNCTION: &str = "list-strategies";

/// The strategy the sample events name, registered with two versions.
pub(super) async fn register_ema_cross() -> Vec<u32> {
    tradai_tests::mlflow::register(
        "EmaCross",
        &[
            &[
                (
                    "ecr_url",
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:1",
                ),
                ("config_path", "s3://tradai-configs/EmaCross/base.yaml"),
                ("timeframe", "5m"),
            ],
            &[
                (
                    "ecr_url",
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:2",
                ),
                ("config_path", "s3://tradai-configs/EmaCross/base.yaml"),
                ("timeframe", "5m"),
            ],
        ],
        &[],
    )
    .await
}

async fn ask(name: &str) -> Answer {
    let deps = list_strategies::Deps { registry: registry() };
    let answer = Answer::read(
        list_strategies::handle(&deps, request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

#[tokio::test]
async fn strategies_are_listed_by_name() {
    register_ema_cross().await;
    let answer = ask("valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let strategies = answer.json["strategies"].as_array().expect("strategies");
    assert!(!strategies.is_empty() && strategies.len() <= 10);
    let names: Vec<&str> = strategies.iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.windows(2).all(|pair| pair[0] <= pair[1]), "by name: {names:?}");
}

#[tokio::test]
async fn a_malformed_listing_query_names_its_parameter() {
    ask("invalid-limit-zero.json").await.assert_names_field("limit");
    ask("invalid-unknown-parameter.json").await.assert_names_field("sort");
}
