//! GET /strategies/{name}: the strategy's versions newest first with their aliases and tags; 404 for an
//! unregistered name, 400 naming `name` for a malformed one, 503 at once when MLflow is down.

use super::list_strategies::register_ema_cross;
use super::{event, registry, request};
use crate::answer::Answer;

const FUNCTION: &str = "get-strategy";

async fn ask(name: &str) -> Answer {
    let deps = get_strategy::Deps { registry: registry() };
    let answer = Answer::read(
        get_strategy::handle(&deps, request(FUNCTION, name))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

#[tokio::test]
async fn a_strategy_shows_its_versions_newest_first_with_aliases_and_tags() {
    let numbers = register_ema_cross().await;
    let production = *numbers.last().expect("a version");
    tradai_tests::mlflow::register("EmaCross", &[], &[("production", production)]).await;
    let answer = ask("valid.json").await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["name"], "EmaCross");
    assert_eq!(answer.json["aliases"]["production"], production);
    // Other tests register EmaCross versions too: find ours rather than assume it is the newest.
    let versions = answer.json["versions"].as_array().expect("versions");
    let numbers: Vec<u64> = versions.iter().filter_map(|v| v["version"].as_u64()).collect();
    assert!(
        numbers.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {numbers:?}"
    );
    let ours = versions
        .iter()
        .find(|v| v["version"] == production)
        .expect("the production version");
    assert_eq!(ours["aliases"], serde_json::json!(["production"]));
    assert!(ours["tags"]["ecr_url"].as_str().is_some_and(|url| url.ends_with(":2")));
}

#[tokio::test]
async fn an_unregistered_strategy_is_404_and_a_malformed_name_is_named() {
    assert_eq!(ask("unknown-strategy.json").await.status, 404);
    ask("invalid-malformed-name.json").await.assert_names_field("name");
    ask("invalid-too-long-name.json").await.assert_names_field("name");
}

#[tokio::test]
async fn strategy_routes_answer_503_quickly_when_mlflow_is_down() {
    let port = tradai_tests::free_port();
    let mut options = tradai::mlflow::MlflowOptions::new(format!("http://127.0.0.1:{port}"));
    options.connect_timeout = std::time::Duration::from_millis(300);
    let deps = get_strategy::Deps {
        registry: tradai::mlflow::MlflowClient::new(options).expect("client"),
    };
    let started = std::time::Instant::now();
    let answer = Answer::read(
        get_strategy::handle(&deps, request(FUNCTION, "valid.json"))
            .await
            .expect("answers"),
    );
    assert_eq!(answer.status, 503, "{}", answer.json);
    assert!(
        answer.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("MLflow"))
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "no hang: {:?}",
        started.elapsed()
    );
}
