//! POST /strategies against moto's ECR, S3 and ECS and the real MLflow: a release becomes its config in S3, its task
//! definition and a tagged MLflow version with the alias; the same release again is that version (200); an image
//! not in ECR, a malformed field or a config that is not a mapping is a 400 naming the field, and nothing is written.

use serde_json::Value;
use tradai::images::EcrImages;
use tradai::mlflow::{MlflowClient, ModelRegistry};
use tradai::objects::S3Objects;
use tradai::registration::{EcsTaskDefinitions, TaskShape};
use tradai_tests::stack::Stack;

use super::{event, registry};
use crate::answer::Answer;

const FUNCTION: &str = "register-strategy";
const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/tradai-strategy-task-dev";
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/tradai-strategy-execution-dev";
const MLFLOW_SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tradai/dev/mlflow-strategy-AbCdEf";

type Deps = register_strategy::Deps<MlflowClient, EcrImages, S3Objects, EcsTaskDefinitions>;

fn deps(stack: &Stack) -> Deps {
    let shape = TaskShape {
        cpu: 1024,
        memory_mib: 2048,
        task_role_arn: Some(TASK_ROLE.to_owned()),
        execution_role_arn: Some(EXECUTION_ROLE.to_owned()),
        mlflow_credentials_secret: Some(MLFLOW_SECRET.to_owned()),
        region: tradai_tests::moto::REGION.to_owned(),
        ..TaskShape::default()
    };
    Deps {
        registry: registry(),
        images: EcrImages::new(aws_sdk_ecr::Client::new(&stack.sdk)),
        configs: tradai::aws::s3_objects(&stack.sdk, &stack.config_bucket),
        tasks: EcsTaskDefinitions::new(aws_sdk_ecs::Client::new(&stack.sdk), shape),
        task_prefix: "strategy-".to_owned(),
        strategy_user: Some("tradai-strategy".to_owned()),
    }
}

/// The sample event `name` with its body's fields replaced by `changes`.
fn changed(name: &str, changes: &Value) -> Value {
    let mut event = event(FUNCTION, name);
    let mut body: Value = serde_json::from_str(event["body"].as_str().expect("body")).expect("JSON body");
    for (key, value) in changes.as_object().into_iter().flatten() {
        body[key] = value.clone();
    }
    event["body"] = Value::String(body.to_string());
    event
}

async fn ask(deps: &Deps, event: &Value) -> Answer {
    let request = tradai_tests::events::request_from_json(&event.to_string());
    let answer = Answer::read(register_strategy::handle(deps, request).await.expect("answers"));
    answer.assert_well_formed(event);
    answer
}

/// A strategy name no other test uses, and its image pushed to moto's ECR.
async fn release(stack: &Stack) -> (String, String) {
    let name = tradai_tests::mlflow::unique_name("Registered");
    let uri = stack
        .push_image(&format!("strategy-{}", name.to_lowercase()), "1")
        .await;
    (name, format!("{uri}:1"))
}

#[tokio::test]
async fn a_release_is_its_config_its_task_definition_and_a_tagged_version_with_its_alias() {
    let stack = Stack::fresh().await;
    let deps = deps(&stack);
    let (name, image) = release(&stack).await;
    let event = changed("valid.json", &serde_json::json!({"name": name, "image": image}));
    let answer = ask(&deps, &event).await;
    assert_eq!(answer.status, 201, "{}", answer.json);
    assert_eq!(answer.json["created"], true);
    assert_eq!(answer.json["task_definition"], format!("strategy-{name}:1"));
    let version = u32::try_from(answer.json["version"].as_u64().expect("a version")).expect("small");

    let config_path = answer.json["config_path"].as_str().expect("config_path");
    let key = config_path
        .strip_prefix(&format!("s3://{}/", stack.config_bucket))
        .expect("in the configs bucket");
    let written = stack.keys_in(&stack.config_bucket, key).await;
    assert_eq!(written, [key]);

    let defined = aws_sdk_ecs::Client::new(&stack.sdk)
        .describe_task_definition()
        .task_definition(format!("strategy-{name}"))
        .send()
        .await
        .expect("the task definition")
        .task_definition
        .expect("defined");
    let container = &defined.container_definitions()[0];
    // The image by the digest ECR gave its tag, which the version keeps: a tag moved later changes neither.
    let digest = answer.json["tags"]["image_digest"]
        .as_str()
        .expect("the digest is kept");
    let in_ecr = aws_sdk_ecr::Client::new(&stack.sdk)
        .describe_images()
        .repository_name(tradai::images::ImageRef::parse(&image).expect("an image").repository)
        .send()
        .await
        .expect("described");
    assert_eq!(in_ecr.image_details()[0].image_digest(), Some(digest));
    assert_eq!(
        (container.name(), container.image()),
        (
            Some("strategy"),
            Some(tradai::images::by_digest(&image, digest).as_str())
        )
    );
    // The stack's roles, and MLflow's credentials injected by ECS from the secret, never written into the definition.
    assert_eq!(
        (defined.task_role_arn(), defined.execution_role_arn()),
        (Some(TASK_ROLE), Some(EXECUTION_ROLE))
    );
    let secrets: Vec<(&str, &str)> = container
        .secrets()
        .iter()
        .map(|secret| (secret.name(), secret.value_from()))
        .collect();
    assert_eq!(
        secrets,
        [
            (
                "MLFLOW_TRACKING_USERNAME",
                format!("{MLFLOW_SECRET}:username::").as_str()
            ),
            (
                "MLFLOW_TRACKING_PASSWORD",
                format!("{MLFLOW_SECRET}:password::").as_str()
            ),
        ]
    );

    let production = registry()
        .resolve_alias(&name, "production")
        .await
        .expect("MLflow answers")
        .expect("the alias");
    assert_eq!(production.version, version);
    for (tag, value) in [
        ("ecr_url", image.as_str()),
        ("config_path", config_path),
        ("timeframe", "5m"),
        ("pairs", "BTC/USDT,ETH/USDT"),
        ("warmup_days", "10"),
        (
            "parameters",
            r#"{"buy_ema_fast":{"high":15,"low":4},"buy_ema_slow":{"high":50,"low":16}}"#,
        ),
    ] {
        assert_eq!(production.tags.get(tag).map(String::as_str), Some(value), "{tag}");
    }

    let again = ask(&deps, &event).await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(
        (again.json["version"].as_u64(), &again.json["created"]),
        (Some(u64::from(version)), &Value::Bool(false))
    );
    assert_eq!(
        registry().versions(&name).await.expect("versions").len(),
        1,
        "no second version"
    );
}

#[tokio::test]
async fn a_bad_release_is_a_400_naming_its_field_and_nothing_is_written() {
    let stack = Stack::fresh().await;
    let deps = deps(&stack);
    let (name, image) = release(&stack).await;
    let every_field = ask(&deps, &event(FUNCTION, "invalid-fields.json")).await;
    for field in ["name", "image", "base_config", "pairs", "warmup_days"] {
        every_field.assert_names_field(field);
    }
    let not_a_mapping = changed(
        "invalid-config-not-a-mapping.json",
        &serde_json::json!({"name": name, "image": image}),
    );
    ask(&deps, &not_a_mapping).await.assert_names_field("base_config");
    let not_pushed = changed(
        "valid.json",
        &serde_json::json!({"name": name, "image": image.replace(":1", ":404")}),
    );
    let answer = ask(&deps, &not_pushed).await;
    answer.assert_names_field("image");
    assert!(
        answer.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not in ECR")),
        "{}",
        answer.json
    );

    assert!(
        stack
            .keys_in(&stack.config_bucket, &format!("strategies/{name}/"))
            .await
            .is_empty()
    );
    assert!(registry().strategy(&name).await.expect("MLflow answers").is_none());
    let defined = aws_sdk_ecs::Client::new(&stack.sdk)
        .describe_task_definition()
        .task_definition(format!("strategy-{name}"))
        .send()
        .await;
    assert!(defined.is_err(), "no task definition: {defined:?}");
}
