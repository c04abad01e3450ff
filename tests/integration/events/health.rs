//! GET /health: healthy without calling anything; a body or a query parameter is refused, named.

use super::{event, request};
use crate::answer::Answer;

const FUNCTION: &str = "health";

async fn ask(name: &str) -> Answer {
    let answer = Answer::read(health::handle(request(FUNCTION, name)).await.expect("answers"));
    answer.assert_well_formed(&event(FUNCTION, name));
    answer
}

#[tokio::test]
async fn health_answers_healthy_with_the_service_name() {
    let answer = ask("valid.json").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["status"], "healthy");
    assert_eq!(answer.json["service"], health::SERVICE);
}

#[tokio::test]
async fn health_refuses_a_body_or_a_query_parameter() {
    ask("invalid-body.json").await.assert_names_field("body");
    ask("invalid-query-parameter.json").await.assert_names_field("verbose");
}
