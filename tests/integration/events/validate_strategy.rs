//! ValidateStrategy against MLflow, ECR and S3: an alias is pinned to its version and its image tag to ECR's digest; an archived version, a missing
//! image, a missing config and an unknown alias each fail with their own name; a state without the strategy's
//! name or version is `InvalidInput`.

use tradai::images::EcrImages;
use tradai::mlflow::MlflowClient;
use tradai::objects::S3Objects;
use tradai_tests::stack::Stack;

use serde_json::Value;

use super::{assert_invalid_input, event, invocation, registry};

const FUNCTION: &str = "validate-strategy";
/// The strategy the sample events name; each test registers it under a name of its own.
const NAME: &str = "EmaCrossCandidate";

/// The registered versions the sample events name by alias, and what the valid one points at.
struct Registered {
    name: String,
    deps: validate_strategy::Deps<MlflowClient, EcrImages, S3Objects>,
    candidate: u32,
    image: String,
    config: String,
    sdk: aws_config::SdkConfig,
}

/// `candidate` (good), `archived`, `no-image` (its tag is not pushed) and `no-config` (its config is not there).
async fn registered() -> Registered {
    let stack = Stack::fresh().await;
    let repository = format!("strategy-emacross-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let repository_uri = stack.push_image(&repository, "3").await;
    let config = stack
        .put_config("strategies/EmaCrossCandidate/base.json", b"{}".to_vec())
        .await;
    let image = format!("{repository_uri}:3");
    let missing_image = format!("{repository_uri}:99");
    let missing_config = format!("s3://{}/strategies/none.json", stack.config_bucket);
    let name = tradai_tests::mlflow::unique_name(NAME);
    let versions = tradai_tests::mlflow::register(
        &name,
        &[
            &[("ecr_url", image.as_str()), ("config_path", config.as_str())],
            &[
                ("ecr_url", image.as_str()),
                ("config_path", config.as_str()),
                ("archived", "true"),
            ],
            &[("ecr_url", missing_image.as_str()), ("config_path", config.as_str())],
            &[("ecr_url", image.as_str()), ("config_path", missing_config.as_str())],
        ],
        &[],
    )
    .await;
    let aliases = [
        ("candidate", versions[0]),
        ("archived", versions[1]),
        ("no-image", versions[2]),
        ("no-config", versions[3]),
    ];
    tradai_tests::mlflow::register(&name, &[], &aliases).await;
    Registered {
        name,
        deps: validate_strategy::Deps {
            registry: registry(),
            images: EcrImages::new(aws_sdk_ecr::Client::new(&stack.sdk)),
            configs: S3Objects::new(stack.s3.clone(), &stack.config_bucket),
        },
        candidate: versions[0],
        image,
        config,
        sdk: stack.sdk.clone(),
    }
}

impl Registered {
    /// The sample event `name`, naming this test's strategy.
    fn state(&self, name: &str) -> Value {
        let text = event(FUNCTION, name).to_string().replace(NAME, &self.name);
        serde_json::from_str(&text).expect("JSON")
    }
}

#[tokio::test]
async fn an_alias_is_pinned_to_its_version_with_its_image_and_config() {
    let registered = registered().await;
    let output = validate_strategy::handle(&registered.deps, invocation(&registered.state("valid.json")))
        .await
        .expect("valid");
    assert_eq!(
        output["strategy"]["version"], registered.candidate,
        "the alias is pinned to its version"
    );
    assert_eq!(output["strategy"]["ecr_url"], registered.image.as_str());
    assert_eq!(output["strategy"]["config_path"], registered.config.as_str());

    // The tag is resolved to the digest ECR holds for it: the image by that digest is the one tagged 3.
    let digest = output["strategy"]["image_digest"].as_str().expect("a digest");
    assert!(digest.len() == 71 && digest.starts_with("sha256:"), "{digest}");
    let repository = registered
        .image
        .rsplit_once('/')
        .and_then(|(_, name)| name.split_once(':'))
        .expect("a repository")
        .0;
    let found = aws_sdk_ecr::Client::new(&registered.sdk)
        .describe_images()
        .repository_name(repository)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(digest)
                .build(),
        )
        .send()
        .await
        .expect("the image by its digest");
    assert_eq!(found.image_details()[0].image_tags(), ["3"]);
}

#[tokio::test]
async fn each_missing_piece_fails_with_its_own_name() {
    let registered = registered().await;
    for (name, kind, phrase) in [
        ("archived-version.json", "StrategyArchived", "archived"),
        ("missing-config.json", "MissingConfig", "strategies/none.json"),
        ("missing-image.json", "MissingImage", ":99"),
        ("unknown-alias.json", "StrategyNotFound", "nonexistent"),
    ] {
        let error = validate_strategy::handle(&registered.deps, invocation(&registered.state(name)))
            .await
            .expect_err("refused");
        assert_eq!(error.error_type, kind, "{}", error.error_message);
        assert!(error.error_message.contains(phrase), "{}", error.error_message);
    }
}

#[tokio::test]
async fn a_state_without_the_strategy_is_invalid_input() {
    let registered = registered().await;
    for (name, field) in [
        ("invalid-missing-strategy-name.json", "strategy_name"),
        ("invalid-missing-strategy-version.json", "strategy_version"),
    ] {
        let answer = validate_strategy::handle(&registered.deps, invocation(&registered.state(name))).await;
        assert_invalid_input(answer, field);
    }
}
