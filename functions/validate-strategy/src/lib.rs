//! ValidateStrategy: the requested version (or alias) is registered and not archived, its `ecr_url` image exists
//! in ECR, and its `config_path` object exists in S3. Each failure names what is missing.

use aws_sdk_ecr::types::ImageIdentifier;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tradai::mlflow::{ModelRegistry, StrategyVersion};
use tradai::workflow::{StepError, run_id_of};

/// What the step needs: the model registry, ECR and S3.
pub struct Deps<R> {
    pub registry: R,
    pub ecr: aws_sdk_ecr::Client,
    pub s3: aws_sdk_s3::Client,
}

fn failure(name: &'static str, message: String) -> Diagnostic {
    StepError { name, message }.into()
}

/// `123.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:3` → (`strategy-emacross`, tag `3`); `@sha256:…` → digest.
fn image_of(url: &str) -> Option<(String, ImageIdentifier)> {
    let (_, path) = url.split_once('/')?;
    if let Some((repository, digest)) = path.split_once('@') {
        return Some((
            repository.to_owned(),
            ImageIdentifier::builder().image_digest(digest).build(),
        ));
    }
    let (repository, tag) = path.rsplit_once(':').unwrap_or((path, "latest"));
    Some((repository.to_owned(), ImageIdentifier::builder().image_tag(tag).build()))
}

/// Answers the state with `strategy: {version, ecr_url, config_path, tags}` added: the version pinned, so that
/// moving an alias later never changes this run.
pub async fn handle<R: ModelRegistry>(deps: &Deps<R>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let mut state = event.payload;
    let run_id = run_id_of(&state)?;
    let name = state
        .get("strategy_name")
        .and_then(Value::as_str)
        .ok_or_else(|| StepError::invalid_input("the state has no strategy_name"))?
        .to_owned();
    let wanted = state.get("strategy_version").cloned().unwrap_or(Value::Null);
    let registry_down = |error: tradai::mlflow::RegistryError| StepError::transient("MLflow", &error);
    let version: Option<StrategyVersion> = match &wanted {
        Value::Number(number) => {
            let number = number.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                StepError::invalid_input(format!("strategy_version {number} is not a version number"))
            })?;
            deps.registry.version(&name, number).await.map_err(registry_down)?
        }
        Value::String(alias) => deps.registry.resolve_alias(&name, alias).await.map_err(registry_down)?,
        _ => return Err(StepError::invalid_input("the state has no strategy_version").into()),
    };
    let Some(version) = version else {
        return Err(failure(
            "StrategyNotFound",
            format!("strategy {name} version {wanted} is not registered"),
        ));
    };
    if version.is_archived() {
        return Err(failure(
            "StrategyArchived",
            format!("strategy {name} version {} is archived", version.version),
        ));
    }
    let ecr_url = version.tags.get("ecr_url").cloned().ok_or_else(|| {
        failure(
            "MissingImage",
            format!("strategy {name} version {} has no ecr_url tag", version.version),
        )
    })?;
    let (repository, image) =
        image_of(&ecr_url).ok_or_else(|| failure("MissingImage", format!("ecr_url {ecr_url} is not an image URL")))?;
    let found = deps
        .ecr
        .describe_images()
        .repository_name(&repository)
        .image_ids(image)
        .send()
        .await;
    if let Err(error) = found {
        let error = error.into_service_error();
        return Err(
            if error.is_image_not_found_exception() || error.is_repository_not_found_exception() {
                failure("MissingImage", format!("the image {ecr_url} does not exist"))
            } else {
                StepError::transient("ECR", &error).into()
            },
        );
    }
    let config_path = version.tags.get("config_path").cloned().ok_or_else(|| {
        failure(
            "MissingConfig",
            format!("strategy {name} version {} has no config_path tag", version.version),
        )
    })?;
    let (bucket, key) = tradai::market_data::s3_object(&config_path).ok_or_else(|| {
        failure(
            "MissingConfig",
            format!("config_path {config_path} is not an s3:// URI"),
        )
    })?;
    if let Err(error) = deps.s3.head_object().bucket(bucket).key(key).send().await {
        let error = error.into_service_error();
        return Err(if error.is_not_found() {
            failure("MissingConfig", format!("the config {config_path} does not exist"))
        } else {
            StepError::transient("S3", &error).into()
        });
    }
    tracing::info!(%run_id, strategy = %name, version = version.version, "strategy validated");
    if let Value::Object(fields) = &mut state {
        fields.insert(
            "strategy".to_owned(),
            json!({"version": version.version, "ecr_url": ecr_url, "config_path": config_path, "tags": version.tags}),
        );
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_urls_name_a_repository_and_a_tag_or_digest() {
        let (repository, image) = image_of("123.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:3").expect("url");
        assert_eq!(
            (repository.as_str(), image.image_tag()),
            ("strategy-emacross", Some("3"))
        );
        let (_, image) = image_of("123.dkr.ecr.us-east-1.amazonaws.com/s@sha256:abc").expect("url");
        assert_eq!(image.image_digest(), Some("sha256:abc"));
        assert!(image_of("strategy-emacross").is_none());
    }
}
