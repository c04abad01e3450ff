//! Registering a strategy version, as a release does: the image checked in ECR and its tag resolved to a digest,
//! the base config written to the configs bucket under a name made of its content, the strategy's task definition
//! registered with the image by that digest (a tag moved later cannot change what the version runs), and an MLflow
//! model version tagged with what the workflow reads (`ecr_url`, `image_digest`, `config_path`, `task_definition`,
//! `timeframe`, `pairs`, `warmup_days`, and `parameters` when the release declares what a sweep may vary), the
//! alias moved when one is given. The same image URL registered again after its tag moved is a new version.
//!
//! Everything is checked before anything is written. Registering the same release again answers the version it
//! made (MLflow gets no second version), so a retried request is harmless.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backtest::{Symbol, Timeframe, validate_strategy_name};
use crate::images::{ImageError, ImageRef, ImageRegistry, by_digest};
use crate::mlflow::{ModelRegistry, RegistryError, StrategyVersion};
use crate::objects::{ObjectError, ObjectStore};
use crate::sweep::Declared;
use crate::sweep::declared::PARAMETERS_TAG;
use crate::validation::{FieldError, MAX_SYMBOLS, ValidationErrors};

/// The largest base config accepted.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;
/// The longest warm-up a strategy may ask for.
pub const MAX_WARMUP_DAYS: u32 = 3650;

/// A release of a strategy, as `POST /strategies` takes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub name: String,
    /// The image URL (`<registry>/<repository>:<tag>` or `@sha256:…`).
    pub image: String,
    /// The base config's text, YAML or JSON, as the strategy keeps it (comments survive).
    pub base_config: String,
    pub timeframe: Timeframe,
    pub pairs: Vec<Symbol>,
    #[serde(default)]
    pub warmup_days: u32,
    #[serde(default)]
    pub description: Option<String>,
    /// Moved to the version registered (or found).
    #[serde(default)]
    pub alias: Option<String>,
    /// The hyperoptable parameters a sweep may vary, with their ranges (`{"buy_rsi": {"low": 20, "high": 40}}`):
    /// what the strategy's code declares, kept in the version's `parameters` tag.
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
}

/// The longest `parameters` declaration kept, as compact JSON (MLflow's limit on a model version tag's value).
pub const MAX_PARAMETERS_CHARS: usize = 5000;

/// A release that passed [`check`]: its image, and its declared parameters as the version's tag keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub image: ImageRef,
    pub parameters: Option<String>,
}

/// What a registration made, or found already made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registered {
    pub name: String,
    pub version: u32,
    /// False when the same release was registered before and its version is answered again.
    pub created: bool,
    pub aliases: Vec<String>,
    pub image: String,
    pub config_path: String,
    pub task_definition: String,
    pub tags: BTreeMap<String, String>,
}

/// Why a release was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("ECR could not be asked")]
    Images(#[source] ImageError),
    #[error("the configs bucket could not be written")]
    Objects(#[source] ObjectError),
    #[error("the task definition could not be registered")]
    Tasks(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("MLflow did not register the version")]
    Registry(#[source] RegistryError),
}

/// Writes to the model registry.
pub trait ModelRegistrar: ModelRegistry {
    /// Creates registered model `name` unless it exists.
    fn ensure_model(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Creates a version of `name` from `source` with `tags`.
    fn create_version(
        &self,
        name: &str,
        source: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<StrategyVersion, RegistryError>> + Send;

    /// Points `alias` of `name` at `version`.
    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: u32,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Takes away whatever `username` was granted on model `name` (MLflow makes the user who creates a model its
    /// manager), leaving it what it may do on every model; none granted is done.
    fn withdraw_grants(&self, name: &str, username: &str) -> impl Future<Output = Result<(), RegistryError>> + Send;
}

/// Where strategy task definitions are registered.
pub trait TaskDefinitions: Send + Sync {
    /// Registers a revision of `family` running `image` as container `strategy`; answers `family:revision`.
    fn register(
        &self,
        family: &str,
        image: &str,
    ) -> impl Future<Output = Result<String, Box<dyn std::error::Error + Send + Sync>>> + Send;
}

/// The tag that keeps the digest `ecr_url` resolved to at registration: what the version's task definition runs.
pub const IMAGE_DIGEST_TAG: &str = "image_digest";

/// The tags a registered version carries.
pub const TAGS: &[&str] = &[
    "ecr_url",
    IMAGE_DIGEST_TAG,
    "config_path",
    "task_definition",
    "timeframe",
    "pairs",
    "warmup_days",
    PARAMETERS_TAG,
];

/// Checks `release` field by field; every problem is named.
pub fn check(release: &Release) -> Result<Checked, ValidationErrors> {
    let mut errors = Vec::new();
    if let Err(message) = validate_strategy_name(&release.name) {
        errors.push(FieldError::new("name", message));
    }
    let image = ImageRef::parse(&release.image);
    if image.is_none() {
        errors.push(FieldError::new(
            "image",
            format!(
                "{:?} is not an image URL such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:1",
                release.image
            ),
        ));
    }
    if release.base_config.len() > MAX_CONFIG_BYTES {
        errors.push(FieldError::new(
            "base_config",
            format!("at most {MAX_CONFIG_BYTES} bytes"),
        ));
    } else if let Err(error) = crate::config::parse_document(release.base_config.as_bytes()) {
        errors.push(FieldError::new("base_config", error.to_string()));
    }
    if release.pairs.is_empty() {
        errors.push(FieldError::new("pairs", "at least one pair"));
    } else if release.pairs.len() > MAX_SYMBOLS {
        errors.push(FieldError::new("pairs", format!("at most {MAX_SYMBOLS} pairs")));
    }
    if release.warmup_days > MAX_WARMUP_DAYS {
        errors.push(FieldError::new(
            "warmup_days",
            format!("at most {MAX_WARMUP_DAYS} days"),
        ));
    }
    if let Some(alias) = &release.alias {
        let well_formed = alias.chars().next().is_some_and(|first| first.is_ascii_alphabetic())
            && alias.len() <= 128
            && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !well_formed {
            errors.push(FieldError::new(
                "alias",
                "a letter, then letters, digits, `_` or `-` (such as production)",
            ));
        }
    }
    if release.description.as_ref().is_some_and(|text| text.len() > 5000) {
        errors.push(FieldError::new("description", "at most 5000 characters"));
    }
    let parameters = release.parameters.as_ref().and_then(|value| {
        let declared = Declared::from_json("parameters", value)
            .map_err(|refused| errors.extend(refused.errors().iter().cloned()))
            .ok()?;
        let tag = declared.to_tag();
        if tag.len() > MAX_PARAMETERS_CHARS {
            errors.push(FieldError::new(
                "parameters",
                format!(
                    "the declaration is {} characters of JSON; at most {MAX_PARAMETERS_CHARS}",
                    tag.len()
                ),
            ));
        }
        (!declared.is_empty()).then_some(tag)
    });
    match (image, errors.is_empty()) {
        (Some(image), true) => Ok(Checked { image, parameters }),
        _ => Err(ValidationErrors(errors)),
    }
}

/// Where the base config is kept: a name made of its content, so the same config is one object.
pub fn config_key(release: &Release) -> String {
    let digest = Sha256::digest(release.base_config.as_bytes());
    let hex: String = digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
    format!("strategies/{}/config-{hex}.yaml", release.name)
}

/// Registers `release`: checks it, then writes the config to `configs`, the task definition (`prefix` + name) and
/// the MLflow version, and moves the alias.
///
/// `strategy_user` is the MLflow user strategy containers log in as: any grant it holds on the model is withdrawn
/// before a version is created in it, so a model it made first (to manage the versions registered into it later) is
/// the registry's again.
pub async fn register<R: ModelRegistrar>(
    release: &Release,
    images: &impl ImageRegistry,
    configs: &impl ObjectStore,
    tasks: &impl TaskDefinitions,
    registry: &R,
    task_prefix: &str,
    strategy_user: Option<&str>,
) -> Result<Registered, RegistrationError> {
    let Checked { image, parameters } = check(release).map_err(RegistrationError::Invalid)?;
    let Some(digest) = images.digest(&image).await.map_err(RegistrationError::Images)? else {
        return Err(RegistrationError::Invalid(ValidationErrors::one(
            "image",
            format!("{} is not in ECR: push it first", release.image),
        )));
    };
    let key = config_key(release);
    let config_path = format!("s3://{}/{key}", configs.bucket());
    let pairs: Vec<&str> = release.pairs.iter().map(Symbol::as_str).collect();
    let mut wanted = BTreeMap::from([
        ("ecr_url".to_owned(), release.image.clone()),
        (IMAGE_DIGEST_TAG.to_owned(), digest.clone()),
        ("config_path".to_owned(), config_path.clone()),
        ("timeframe".to_owned(), release.timeframe.to_string()),
        ("pairs".to_owned(), pairs.join(",")),
        ("warmup_days".to_owned(), release.warmup_days.to_string()),
    ]);
    if let Some(parameters) = parameters {
        wanted.insert(PARAMETERS_TAG.to_owned(), parameters);
    }
    let same_release = |version: &StrategyVersion| {
        wanted.iter().all(|(tag, value)| version.tags.get(tag) == Some(value))
            && version.tags.get(PARAMETERS_TAG) == wanted.get(PARAMETERS_TAG)
            && version.tags.contains_key("task_definition")
    };
    let newest = registry
        .versions(&release.name)
        .await
        .map_err(RegistrationError::Registry)?
        .into_iter()
        .next();
    let (version, created) = match newest.filter(same_release) {
        Some(version) => (version, false),
        None => {
            configs
                .put(&key, release.base_config.clone().into_bytes())
                .await
                .map_err(RegistrationError::Objects)?;
            let task_definition = tasks
                .register(
                    &format!("{task_prefix}{}", release.name),
                    &by_digest(&release.image, &digest),
                )
                .await
                .map_err(RegistrationError::Tasks)?;
            wanted.insert("task_definition".to_owned(), task_definition);
            registry
                .ensure_model(&release.name, release.description.as_deref())
                .await
                .map_err(RegistrationError::Registry)?;
            if let Some(user) = strategy_user {
                registry
                    .withdraw_grants(&release.name, user)
                    .await
                    .map_err(RegistrationError::Registry)?;
            }
            let version = registry
                .create_version(&release.name, &config_path, &wanted)
                .await
                .map_err(RegistrationError::Registry)?;
            (version, true)
        }
    };
    let mut aliases = version.aliases.clone();
    if let Some(alias) = &release.alias {
        registry
            .set_alias(&release.name, alias, version.version)
            .await
            .map_err(RegistrationError::Registry)?;
        if !aliases.contains(alias) {
            aliases.push(alias.clone());
        }
    }
    let mut tags = version.tags.clone();
    tags.extend(wanted.clone());
    Ok(Registered {
        name: release.name.clone(),
        version: version.version,
        created,
        aliases,
        image: release.image.clone(),
        config_path,
        task_definition: tags.get("task_definition").cloned().unwrap_or_default(),
        tags,
    })
}

/// How strategy tasks are defined on ECS: Fargate, `awsvpc`, the stack's roles and log group.
#[derive(Debug, Clone, Default)]
pub struct TaskShape {
    /// Task CPU units (`1024` = 1 vCPU) and memory in MiB.
    pub cpu: u32,
    pub memory_mib: u32,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    /// The container's log group (the awslogs driver), if any.
    pub log_group: Option<String>,
    /// The secret (ARN) whose `username` and `password` ECS injects as `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD` when a task starts (the execution role reads it), if MLflow needs credentials.
    pub mlflow_credentials_secret: Option<String>,
    pub region: String,
}

/// Amazon ECS task definitions.
#[derive(Debug, Clone)]
pub struct EcsTaskDefinitions {
    client: aws_sdk_ecs::Client,
    shape: TaskShape,
}

impl EcsTaskDefinitions {
    pub fn new(client: aws_sdk_ecs::Client, shape: TaskShape) -> Self {
        Self { client, shape }
    }
}

impl TaskDefinitions for EcsTaskDefinitions {
    async fn register(&self, family: &str, image: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        use aws_sdk_ecs::types::{
            Compatibility, ContainerDefinition, LogConfiguration, LogDriver, NetworkMode, Secret,
        };
        let mut container = ContainerDefinition::builder()
            .name("strategy")
            .image(image)
            .essential(true);
        if let Some(group) = &self.shape.log_group {
            container = container.log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", group)
                    .options("awslogs-region", &self.shape.region)
                    .options("awslogs-stream-prefix", family)
                    .build()?,
            );
        }
        if let Some(secret) = &self.shape.mlflow_credentials_secret {
            for (variable, field) in [
                ("MLFLOW_TRACKING_USERNAME", "username"),
                ("MLFLOW_TRACKING_PASSWORD", "password"),
            ] {
                container = container.secrets(
                    Secret::builder()
                        .name(variable)
                        .value_from(format!("{secret}:{field}::"))
                        .build()?,
                );
            }
        }
        let answer = self
            .client
            .register_task_definition()
            .family(family)
            .container_definitions(container.build())
            .cpu(self.shape.cpu.to_string())
            .memory(self.shape.memory_mib.to_string())
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .set_task_role_arn(self.shape.task_role_arn.clone())
            .set_execution_role_arn(self.shape.execution_role_arn.clone())
            .send()
            .await
            .map_err(|error| Box::new(error.into_service_error()))?;
        let defined = answer.task_definition.ok_or("ECS answered no task definition")?;
        Ok(format!(
            "{}:{}",
            defined.family.unwrap_or_else(|| family.to_owned()),
            defined.revision
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::mlflow::{Strategy, StrategyPage};
    use crate::objects::MemoryObjects;
    use crate::workflow::fakes::FakeImages;

    const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:1";

    #[derive(Default)]
    struct Registry {
        versions: Mutex<Vec<StrategyVersion>>,
        aliases: Mutex<Vec<(String, u32)>>,
        models: Mutex<Vec<String>>,
        /// (model, user, versions the model had when it was called).
        withdrawn: Mutex<Vec<(String, String, usize)>>,
    }

    impl ModelRegistry for Registry {
        async fn list_strategies(&self, _max: u32, _token: Option<&str>) -> Result<StrategyPage, RegistryError> {
            unreachable!("registration lists nothing")
        }
        async fn strategy(&self, _name: &str) -> Result<Option<Strategy>, RegistryError> {
            unreachable!("registration reads versions")
        }
        async fn versions(&self, name: &str) -> Result<Vec<StrategyVersion>, RegistryError> {
            let mut versions: Vec<_> = self
                .versions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|version| version.name == name)
                .cloned()
                .collect();
            versions.reverse();
            Ok(versions)
        }
        async fn version(&self, _name: &str, _version: u32) -> Result<Option<StrategyVersion>, RegistryError> {
            unreachable!("registration reads versions")
        }
        async fn resolve_alias(&self, _name: &str, _alias: &str) -> Result<Option<StrategyVersion>, RegistryError> {
            unreachable!("registration reads versions")
        }
        async fn health(&self) -> Result<(), RegistryError> {
            Ok(())
        }
    }

    impl ModelRegistrar for Registry {
        async fn ensure_model(&self, name: &str, _description: Option<&str>) -> Result<(), RegistryError> {
            self.models
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(name.to_owned());
            Ok(())
        }
        async fn withdraw_grants(&self, name: &str, username: &str) -> Result<(), RegistryError> {
            let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner()).len();
            self.withdrawn.lock().unwrap_or_else(|e| e.into_inner()).push((
                name.to_owned(),
                username.to_owned(),
                versions,
            ));
            Ok(())
        }
        async fn create_version(
            &self,
            name: &str,
            source: &str,
            tags: &BTreeMap<String, String>,
        ) -> Result<StrategyVersion, RegistryError> {
            let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
            let version = StrategyVersion {
                name: name.to_owned(),
                version: u32::try_from(versions.len()).unwrap_or_default() + 1,
                status: "READY".to_owned(),
                aliases: Vec::new(),
                tags: tags.clone(),
                run_id: None,
                source: Some(source.to_owned()),
                description: None,
                created_at_ms: 0,
            };
            versions.push(version.clone());
            Ok(version)
        }
        async fn set_alias(&self, _name: &str, alias: &str, version: u32) -> Result<(), RegistryError> {
            self.aliases
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((alias.to_owned(), version));
            Ok(())
        }
    }

    #[derive(Default)]
    struct Tasks(Mutex<Vec<String>>);

    impl TaskDefinitions for Tasks {
        async fn register(
            &self,
            family: &str,
            image: &str,
        ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
            let mut registered = self.0.lock().unwrap_or_else(|e| e.into_inner());
            registered.push(image.to_owned());
            Ok(format!("{family}:{}", registered.len()))
        }
    }

    fn release(changes: serde_json::Value) -> Release {
        let mut body = json!({"name": "EmaCross", "image": IMAGE, "base_config": "stake_currency: USDT\n",
            "timeframe": "5m", "pairs": ["BTC/USDT", "ETH/USDT"], "warmup_days": 10, "alias": "production"});
        for (key, value) in changes.as_object().into_iter().flatten() {
            body[key] = value.clone();
        }
        serde_json::from_value(body).expect("a release")
    }

    /// The registry, configs bucket and task definitions a registration writes to, with the image pushed.
    #[derive(Default)]
    struct World {
        configs: MemoryObjects,
        tasks: Tasks,
        registry: Registry,
    }

    impl World {
        fn new() -> Self {
            Self {
                configs: MemoryObjects::new("configs"),
                ..Self::default()
            }
        }

        async fn register(
            &self,
            release: &Release,
            images: &impl ImageRegistry,
        ) -> Result<Registered, RegistrationError> {
            register(
                release,
                images,
                &self.configs,
                &self.tasks,
                &self.registry,
                "strategy-",
                Some("tradai-strategy"),
            )
            .await
        }
    }

    #[tokio::test]
    async fn a_release_is_its_config_its_task_definition_and_a_tagged_version_with_the_alias() {
        let world = World::new();
        let registered = world
            .register(&release(json!({})), &FakeImages::with(&[IMAGE]))
            .await
            .expect("registered");
        assert_eq!((registered.version, registered.created), (1, true));
        assert_eq!(registered.task_definition, "strategy-EmaCross:1");
        assert_eq!(registered.aliases, ["production"]);
        let key = config_key(&release(json!({})));
        assert_eq!(
            world.configs.get(&key).await.expect("read"),
            Some(b"stake_currency: USDT\n".to_vec())
        );
        let digest = crate::run_manifest::sha256_of(b"strategy-emacross:1");
        assert_eq!(
            *world.tasks.0.lock().expect("tasks"),
            [by_digest(IMAGE, &digest)],
            "the task definition runs the image by the digest its tag had"
        );
        let version = &world.registry.versions.lock().expect("versions")[0];
        for (tag, value) in [
            ("ecr_url", IMAGE),
            ("image_digest", digest.as_str()),
            ("config_path", &format!("s3://configs/{key}")),
            ("task_definition", "strategy-EmaCross:1"),
            ("timeframe", "5m"),
            ("pairs", "BTC/USDT,ETH/USDT"),
            ("warmup_days", "10"),
        ] {
            assert_eq!(version.tags.get(tag).map(String::as_str), Some(value), "{tag}");
        }
        assert_eq!(
            *world.registry.aliases.lock().expect("aliases"),
            [("production".to_owned(), 1)]
        );
        assert_eq!(
            *world.registry.withdrawn.lock().expect("withdrawn"),
            [("EmaCross".to_owned(), "tradai-strategy".to_owned(), 0)],
            "the strategy user's grants on the model are withdrawn before its first version"
        );
    }

    #[tokio::test]
    async fn the_same_release_again_answers_its_version_and_a_changed_one_makes_the_next() {
        let world = World::new();
        let images = FakeImages::with(&[IMAGE]);
        let first = world.register(&release(json!({})), &images).await.expect("first");
        let again = world.register(&release(json!({})), &images).await.expect("again");
        assert_eq!((again.version, again.created), (first.version, false));
        assert_eq!(
            world.tasks.0.lock().expect("tasks").len(),
            1,
            "no second task definition"
        );
        let changed = world
            .register(&release(json!({"base_config": "stake_currency: BTC\n"})), &images)
            .await
            .expect("changed");
        assert_eq!((changed.version, changed.created), (2, true));
        assert_ne!(changed.config_path, first.config_path);
        let withdrawn = world.registry.withdrawn.lock().expect("withdrawn");
        let before: Vec<usize> = withdrawn.iter().map(|(_, _, versions)| *versions).collect();
        assert_eq!(
            before,
            [0, 1],
            "before each version created, none when the release was there"
        );
    }

    /// A registry whose every image resolves to one digest: a tag pushed again.
    struct Pushed(&'static str);

    impl ImageRegistry for Pushed {
        async fn digest(&self, _image: &ImageRef) -> Result<Option<String>, ImageError> {
            Ok(Some(self.0.to_owned()))
        }
    }

    #[tokio::test]
    async fn the_same_image_url_after_its_tag_moved_is_a_new_version_running_the_new_digest() {
        let world = World::new();
        let first = world
            .register(&release(json!({})), &Pushed("sha256:aa"))
            .await
            .expect("first");
        let moved = world
            .register(&release(json!({})), &Pushed("sha256:bb"))
            .await
            .expect("moved");
        assert_eq!((first.version, moved.version, moved.created), (1, 2, true));
        assert_eq!(moved.tags.get(IMAGE_DIGEST_TAG).map(String::as_str), Some("sha256:bb"));
        assert_eq!(
            *world.tasks.0.lock().expect("tasks"),
            [by_digest(IMAGE, "sha256:aa"), by_digest(IMAGE, "sha256:bb")],
            "version 1 keeps running what it was registered with"
        );
    }

    #[tokio::test]
    async fn declared_parameters_are_kept_in_a_tag_and_a_change_of_them_is_a_new_version() {
        let world = World::new();
        let images = FakeImages::with(&[IMAGE]);
        let declared = json!({"parameters": {"buy_ema_fast": {"low": 4, "high": 15}}});
        let first = world
            .register(&release(declared.clone()), &images)
            .await
            .expect("first");
        assert_eq!(
            first.tags.get(PARAMETERS_TAG).map(String::as_str),
            Some(r#"{"buy_ema_fast":{"high":15,"low":4}}"#)
        );
        let again = world.register(&release(declared), &images).await.expect("again");
        assert_eq!((again.version, again.created), (first.version, false));
        let undeclared = world.register(&release(json!({})), &images).await.expect("undeclared");
        assert_eq!(
            (undeclared.version, undeclared.created),
            (2, true),
            "dropping the declaration is a change"
        );
        assert!(!undeclared.tags.contains_key(PARAMETERS_TAG));

        let bad = release(
            json!({"parameters": {"buy_ema_fast": {"low": 15, "high": 4}, "stoploss": {"low": -1, "high": 0}}}),
        );
        let Err(RegistrationError::Invalid(errors)) = world.register(&bad, &images).await else {
            panic!("refused")
        };
        let fields: Vec<&str> = errors.errors().iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["parameters.buy_ema_fast", "parameters.stoploss"]);
    }

    #[tokio::test]
    async fn a_bad_release_names_each_field_and_writes_nothing() {
        let world = World::new();
        let bad = release(
            json!({"name": "1bad", "image": "nonsense", "base_config": "- a list\n", "pairs": [],
            "warmup_days": 99999, "alias": "9"}),
        );
        let Err(RegistrationError::Invalid(errors)) = world.register(&bad, &FakeImages::with(&[IMAGE])).await else {
            panic!("refused")
        };
        let fields: Vec<&str> = errors.errors().iter().map(|error| error.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "image", "base_config", "pairs", "warmup_days", "alias"]
        );
        let missing = world.register(&release(json!({})), &FakeImages::default()).await;
        let Err(RegistrationError::Invalid(errors)) = missing else {
            panic!("refused")
        };
        assert_eq!(errors.errors()[0].field, "image");
        assert!(errors.errors()[0].message.contains("not in ECR"), "{errors}");
        assert!(world.configs.keys().is_empty() && world.tasks.0.lock().expect("tasks").is_empty());
        assert!(world.registry.versions.lock().expect("versions").is_empty());
    }
}
