//! ValidateStrategy: the requested version (or alias) is registered and not archived, its `ecr_url` image is in
//! the image registry (the digest the version was registered with — what its task definition runs — or, for a
//! version registered before digests were kept, its tag resolved to one), and its `config_path` object is in S3
//! and reads as a config. Each failure names what is missing. The version is pinned here, so that moving an alias
//! later never changes this run, and the exchange the base config names is noted, so that CheckDataFreshness checks
//! the candles the run will read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ErrorType, StepError};
use crate::backtest::{RunId, StrategyVersion};
use crate::images::{ImageRef, ImageReference, ImageRegistry};
use crate::mlflow::{ModelRegistry, RegistryError};
use crate::objects::{ObjectStore, s3_object};
use crate::registration::IMAGE_DIGEST_TAG;
use crate::sweep::{Combination, Declared};
use crate::validation::ValidationErrors;

/// What the step reads: the job's strategy and the version or alias asked for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StrategyRequest {
    pub run_id: RunId,
    pub strategy_name: String,
    pub strategy_version: StrategyVersion,
    #[serde(default)]
    pub config: RunParameters,
}

/// The part of the job's config this step checks: the strategy parameters asked for, if any.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RunParameters {
    #[serde(default)]
    pub parameters: Combination,
}

/// The strategy version the run is pinned to (`$.strategy`), as PrepareConfig and the engine read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedStrategy {
    pub version: u32,
    pub ecr_url: String,
    /// The digest `ecr_url` resolved to when the run was validated: the image bytes the run is pinned to, whatever
    /// the tag names later (none in the state of a run validated before digests were resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    pub config_path: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The exchange the base config names (`exchange.name`, lower-cased), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
}

/// What the step adds to the state.
#[derive(Debug, Serialize)]
pub struct Validated {
    pub strategy: ValidatedStrategy,
}

/// The errors this step raises.
pub const RAISES: &[ErrorType] = &[
    ErrorType::StrategyNotFound,
    ErrorType::StrategyArchived,
    ErrorType::MissingImage,
    ErrorType::MissingConfig,
    ErrorType::InvalidConfig,
    ErrorType::InvalidInput,
    ErrorType::TransientDependency,
];

/// Checks the strategy version `request` asks for, in `registry`, `images` and (for its base config) `objects`.
pub async fn validate_strategy(
    registry: &impl ModelRegistry,
    images: &impl ImageRegistry,
    objects: &impl ObjectStore,
    request: &StrategyRequest,
) -> Result<Validated, StepError> {
    let name = &request.strategy_name;
    let registry_down = |error: RegistryError| StepError::transient("MLflow", error);
    let found = match &request.strategy_version {
        StrategyVersion::Number(number) => registry.version(name, *number).await,
        StrategyVersion::Alias(alias) => registry.resolve_alias(name, alias).await,
    }
    .map_err(registry_down)?;
    let version = found.ok_or_else(|| StepError::StrategyNotFound {
        name: name.clone(),
        version: request.strategy_version.to_string(),
    })?;
    if version.is_archived() {
        return Err(StepError::StrategyArchived {
            name: name.clone(),
            version: version.version,
        });
    }
    let parameters = &request.config.parameters;
    if !parameters.is_empty() {
        let declared = Declared::from_tags(&version.tags).map_err(|problem| {
            StepError::invalid_input(format!("strategy {name} version {}: {problem}", version.version))
        })?;
        let refused = declared.check_values("config.parameters", parameters);
        if !refused.is_empty() {
            return Err(StepError::invalid_input(format!(
                "strategy {name} version {}: {}",
                version.version,
                ValidationErrors(refused)
            )));
        }
    }
    let tag = |tag: &str| version.tags.get(tag).cloned();
    let ecr_url = tag("ecr_url").ok_or_else(|| {
        StepError::MissingImage(format!(
            "strategy {name} version {} has no ecr_url tag",
            version.version
        ))
    })?;
    let image = ImageRef::parse(&ecr_url)
        .ok_or_else(|| StepError::MissingImage(format!("ecr_url {ecr_url} is not an image URL")))?;
    // A version registered with its digest runs that digest (its task definition names it), whatever the tag
    // names now; an older version runs its tag, resolved here.
    let (asked, missing) = match tag(IMAGE_DIGEST_TAG) {
        Some(digest) => (
            ImageRef {
                reference: ImageReference::Digest(digest.clone()),
                ..image
            },
            format!(
                "the image {ecr_url} at {digest}, which version {} was registered with, is not in ECR any more",
                version.version
            ),
        ),
        None => (image, format!("the image {ecr_url} does not exist")),
    };
    let image_digest = images
        .digest(&asked)
        .await
        .map_err(|error| StepError::transient("ECR", error))?
        .ok_or(StepError::MissingImage(missing))?;
    let config_path = tag("config_path").ok_or_else(|| {
        StepError::MissingConfig(format!(
            "strategy {name} version {} has no config_path tag",
            version.version
        ))
    })?;
    let (bucket, key) = s3_object(&config_path)
        .ok_or_else(|| StepError::MissingConfig(format!("config_path {config_path} is not an s3:// URI")))?;
    let bytes = objects
        .in_bucket(bucket)
        .get(key)
        .await
        .map_err(|error| StepError::transient("S3", error))?
        .ok_or_else(|| StepError::MissingConfig(format!("the config {config_path} does not exist")))?;
    let base = crate::config::parse_document(&bytes).map_err(|error| StepError::InvalidConfig {
        uri: config_path.clone(),
        source: Box::new(error),
    })?;
    let exchange = base["exchange"]["name"]
        .as_str()
        .map(str::to_ascii_lowercase)
        .filter(|name| !name.is_empty());
    tracing::info!(run_id = %request.run_id, strategy = %name, version = version.version, "strategy validated");
    Ok(Validated {
        strategy: ValidatedStrategy {
            version: version.version,
            ecr_url,
            image_digest: Some(image_digest),
            config_path,
            tags: version.tags,
            exchange,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::MemoryObjects;
    use crate::workflow::fakes::{FakeImages, FakeRegistry};

    const IMAGE: &str = "123.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:3";

    fn request(version: StrategyVersion) -> StrategyRequest {
        StrategyRequest {
            run_id: RunId::new(),
            strategy_name: "EmaCross".into(),
            strategy_version: version,
            config: RunParameters::default(),
        }
    }

    async fn world(tags: &[(&str, &str)]) -> (FakeRegistry, FakeImages, MemoryObjects) {
        let registry =
            FakeRegistry::default()
                .with_version("EmaCross", 3, tags)
                .with_alias("EmaCross", "production", 3);
        let objects = MemoryObjects::new("configs");
        objects
            .put("strategies/EmaCross.yaml", b"{}".to_vec())
            .await
            .expect("put");
        (registry, FakeImages::with(&[IMAGE]), objects)
    }

    async fn failure(tags: &[(&str, &str)], version: StrategyVersion) -> StepError {
        let (registry, images, objects) = world(tags).await;
        let error = validate_strategy(&registry, &images, &objects, &request(version))
            .await
            .expect_err("refused");
        assert!(RAISES.contains(&error.error_type()), "{error:?}");
        error
    }

    const GOOD: &[(&str, &str)] = &[
        ("ecr_url", IMAGE),
        ("config_path", "s3://configs/strategies/EmaCross.yaml"),
    ];

    /// A version registered with a digest is validated at that digest, though its tag names other bytes now; a
    /// digest no longer in the registry is a missing image, named.
    #[tokio::test]
    async fn a_version_registered_with_a_digest_runs_that_digest_whatever_the_tag_names_now() {
        let registered = crate::run_manifest::sha256_of(b"strategy-emacross:3");
        let tags = [GOOD, &[("image_digest", registered.as_str())]].concat();
        let (registry, _, objects) = world(&tags).await;
        // The tag no longer names those bytes (moved, or deleted): the registry holds them by digest only.
        let images = FakeImages::with(&[&format!(
            "123.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross@{registered}"
        )]);
        let validated = validate_strategy(&registry, &images, &objects, &request(StrategyVersion::Number(3)))
            .await
            .expect("valid");
        assert_eq!(validated.strategy.image_digest, Some(registered.clone()));

        let gone = [GOOD, &[("image_digest", "sha256:0b")]].concat();
        let error = failure(&gone, StrategyVersion::Number(3)).await;
        assert!(matches!(error, StepError::MissingImage(_)), "{error:?}");
        assert!(error.to_string().contains("sha256:0b"), "{error}");
    }

    #[tokio::test]
    async fn an_alias_is_pinned_to_its_version() {
        let (registry, images, objects) = world(GOOD).await;
        let validated = validate_strategy(
            &registry,
            &images,
            &objects,
            &request(StrategyVersion::Alias("production".into())),
        )
        .await
        .expect("valid");
        assert_eq!(validated.strategy.version, 3);
        assert_eq!(validated.strategy.ecr_url, IMAGE);
        assert_eq!(
            validated.strategy.image_digest,
            Some(crate::run_manifest::sha256_of(b"strategy-emacross:3")),
            "the tag resolved to the registry's digest"
        );
        assert_eq!(validated.strategy.config_path, "s3://configs/strategies/EmaCross.yaml");
        assert_eq!(validated.strategy.exchange, None, "the base config names no exchange");
    }

    #[tokio::test]
    async fn the_base_configs_exchange_is_noted_and_an_unreadable_base_config_refused() {
        let (registry, images, objects) = world(GOOD).await;
        objects
            .put(
                "strategies/EmaCross.yaml",
                b"stake_amount: 100\nexchange:\n  name: Kraken\n".to_vec(),
            )
            .await
            .expect("put");
        let validated = validate_strategy(&registry, &images, &objects, &request(StrategyVersion::Number(3)))
            .await
            .expect("valid");
        assert_eq!(validated.strategy.exchange.as_deref(), Some("kraken"));

        objects
            .put("strategies/EmaCross.yaml", b"exchange: [unclosed".to_vec())
            .await
            .expect("put");
        let error = validate_strategy(&registry, &images, &objects, &request(StrategyVersion::Number(3)))
            .await
            .expect_err("unreadable");
        assert_eq!(error.error_type(), ErrorType::InvalidConfig);
        assert!(RAISES.contains(&error.error_type()));
        assert!(error.to_string().contains("strategies/EmaCross.yaml"), "{error}");
    }

    #[tokio::test]
    async fn each_missing_piece_is_named() {
        let unknown = failure(GOOD, StrategyVersion::Alias("nonexistent".into())).await;
        assert_eq!(
            unknown.to_string(),
            "strategy EmaCross version nonexistent is not registered"
        );
        let archived = [GOOD, &[("archived", "true")]].concat();
        assert_eq!(
            failure(&archived, StrategyVersion::Number(3)).await.error_type(),
            ErrorType::StrategyArchived
        );
        let no_image = failure(&GOOD[1..], StrategyVersion::Number(3)).await;
        assert_eq!(no_image.error_type(), ErrorType::MissingImage);
        assert!(no_image.to_string().contains("no ecr_url tag"), "{no_image}");
        let other_image = [
            ("ecr_url", "123.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:99"),
            GOOD[1],
        ];
        let missing = failure(&other_image, StrategyVersion::Number(3)).await;
        assert!(missing.to_string().contains(":99 does not exist"), "{missing}");
        let no_config = [GOOD[0], ("config_path", "s3://configs/strategies/none.yaml")];
        let missing = failure(&no_config, StrategyVersion::Number(3)).await;
        assert_eq!(missing.error_type(), ErrorType::MissingConfig);
        assert!(missing.to_string().contains("strategies/none.yaml"), "{missing}");
        let not_s3 = [GOOD[0], ("config_path", "/etc/config.yaml")];
        assert_eq!(
            failure(&not_s3, StrategyVersion::Number(3)).await.error_type(),
            ErrorType::MissingConfig
        );
    }

    #[tokio::test]
    async fn parameters_must_be_declared_by_the_version_and_within_its_bounds() {
        let with = |parameters: serde_json::Value| {
            let mut asked = request(StrategyVersion::Number(3));
            asked.config = serde_json::from_value(serde_json::json!({"parameters": parameters})).expect("parameters");
            asked
        };
        let declared = [GOOD, &[("parameters", r#"{"buy_ema_fast": {"low": 3, "high": 20}}"#)]].concat();
        let (registry, images, objects) = world(&declared).await;
        let accepted = validate_strategy(
            &registry,
            &images,
            &objects,
            &with(serde_json::json!({"buy_ema_fast": 8})),
        )
        .await
        .expect("declared and within bounds");
        assert_eq!(accepted.strategy.version, 3);

        let outside = validate_strategy(
            &registry,
            &images,
            &objects,
            &with(serde_json::json!({"buy_ema_fast": 50})),
        )
        .await
        .expect_err("outside the bounds");
        assert_eq!(outside.error_type(), ErrorType::InvalidInput);
        assert_eq!(
            outside.to_string(),
            "strategy EmaCross version 3: config.parameters.buy_ema_fast: 50 is outside buy_ema_fast's whole numbers \
             from 3 to 20"
        );
        let (registry, images, objects) = world(GOOD).await;
        let undeclared = validate_strategy(
            &registry,
            &images,
            &objects,
            &with(serde_json::json!({"buy_ema_fast": 8})),
        )
        .await
        .expect_err("nothing declared");
        assert!(
            undeclared.to_string().contains("declares no parameters"),
            "{undeclared}"
        );
    }

    #[tokio::test]
    async fn a_registry_that_does_not_answer_is_transient() {
        let (_, images, objects) = world(GOOD).await;
        let error = validate_strategy(
            &FakeRegistry::down(),
            &images,
            &objects,
            &request(StrategyVersion::Number(3)),
        )
        .await
        .expect_err("down");
        assert_eq!(error.error_type(), ErrorType::TransientDependency);
        assert!(RAISES.contains(&error.error_type()));
    }
}
