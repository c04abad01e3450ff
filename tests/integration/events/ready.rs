//! GET /ready: 200 when MLflow, the table and the buckets answer; 503 naming each that does not.

use tradai_tests::stack::Stack;

use super::{event, registry, request};
use crate::answer::Answer;

const FUNCTION: &str = "ready";

#[tokio::test]
async fn ready_when_every_dependency_answers() {
    let stack = Stack::fresh().await;
    let deps = ready::Deps {
        mlflow: registry(),
        table: stack.store(),
        buckets: vec![("market-data".to_owned(), stack.market_objects())],
    };
    let answer = Answer::read(
        ready::handle(&deps, request(FUNCTION, "valid.json"))
            .await
            .expect("answers"),
    );
    answer.assert_well_formed(&event(FUNCTION, "valid.json"));
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.json["status"], "ready");
    for name in ["mlflow", "dynamodb", "s3:market-data"] {
        assert_eq!(answer.json["checks"][name]["ok"], true, "{name}: {}", answer.json);
    }
}

#[tokio::test]
async fn ready_refuses_a_body_or_a_query_parameter() {
    let stack = Stack::fresh().await;
    let deps = ready::Deps {
        mlflow: registry(),
        table: stack.store(),
        buckets: vec![("market-data".to_owned(), stack.market_objects())],
    };
    for (name, field) in [
        ("invalid-body.json", "body"),
        ("invalid-query-parameter.json", "checks"),
    ] {
        let answer = Answer::read(ready::handle(&deps, request(FUNCTION, name)).await.expect("answers"));
        answer.assert_well_formed(&event(FUNCTION, name));
        answer.assert_names_field(field);
    }
}

#[tokio::test]
async fn ready_names_what_is_down() {
    let stack = Stack::fresh().await;
    let port = tradai_tests::free_port();
    let deps = ready::Deps {
        mlflow: tradai::mlflow::MlflowClient::new(tradai::mlflow::MlflowOptions::new(format!(
            "http://127.0.0.1:{port}"
        )))
        .expect("client"),
        table: tradai::store::DynamoDbStore::new(stack.dynamodb.clone(), "no-such-table"),
        buckets: vec![
            ("market-data".to_owned(), stack.market_objects()),
            (
                "results".to_owned(),
                tradai::objects::S3Objects::new(stack.s3.clone(), "no-such-bucket"),
            ),
        ],
    };
    let answer = Answer::read(
        ready::handle(&deps, request(FUNCTION, "valid.json"))
            .await
            .expect("answers"),
    );
    assert_eq!(answer.status, 503, "{}", answer.json);
    assert_eq!(answer.json["status"], "not_ready");
    assert_eq!(answer.json["checks"]["s3:market-data"]["ok"], true);
    for name in ["mlflow", "dynamodb", "s3:results"] {
        assert_eq!(answer.json["checks"][name]["ok"], false, "{name}");
        assert!(
            answer.json["checks"][name]["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{name}"
        );
    }
}
