//! Images a stage runs, kept in this account's ECR: the repository made once (a `templates/repository.yaml` stack),
//! the image built for linux/amd64 and pushed once per tag (tags are immutable) — MLflow's on every deploy, the
//! sample strategy's by `tradai smoke`.

use std::path::{Path, PathBuf};

use aws_config::SdkConfig;

use super::preflight::Account;
use super::tools::Tool;
use super::{failure, step};
use crate::Failure;

/// One `docker build`.
#[derive(Debug, Clone)]
pub struct Build {
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    /// `--build-arg NAME=VALUE`s.
    pub arguments: Vec<String>,
    /// A local tag for an image a later build starts from; `None` for the last build, which is the image pushed.
    pub tag: Option<String>,
}

/// An image in a repository of this account's ECR, and how to build it.
#[derive(Debug, Clone)]
pub struct Image {
    pub repository: String,
    /// The stack that holds the repository.
    pub stack: String,
    pub tag: String,
    /// In order; the last one is tagged with the image's URI and pushed.
    pub builds: Vec<Build>,
}

impl Image {
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG`.
    pub fn uri(&self, account: &Account) -> String {
        format!("{}/{}:{}", registry(account), self.repository, self.tag)
    }
}

fn registry(account: &Account) -> String {
    format!("{}.dkr.ecr.{}.amazonaws.com", account.account_id, account.region)
}

/// Makes sure `image` is in ECR: its repository stack deployed when the repository is missing, the image built and
/// pushed when its tag is not there. Answers its URI.
pub async fn ensure(
    root: &Path,
    account: &Account,
    sam: &Tool,
    docker: &Tool,
    image: &Image,
) -> Result<String, Failure> {
    let repository = image.repository.as_str();
    let ecr = aws_sdk_ecr::Client::new(&account.sdk);
    let found = ecr.describe_repositories().repository_names(repository).send().await;
    match found {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_repository_not_found_exception()) =>
        {
            step(format!("creating ECR repository {repository} (stack {})", image.stack));
            sam.run(&[
                "deploy".into(),
                "--template-file".into(),
                root.join("templates/repository.yaml").display().to_string(),
                "--stack-name".into(),
                image.stack.clone(),
                "--region".into(),
                account.region.clone(),
                "--no-confirm-changeset".into(),
                "--no-fail-on-empty-changeset".into(),
                "--on-failure".into(),
                "DELETE".into(),
                "--parameter-overrides".into(),
                format!("RepositoryName={repository}"),
            ])
            .await?;
        }
        Err(error) => {
            return Err(failure(format!(
                "reading ECR repository {repository}: {}",
                tradai::report::chain(&error)
            )));
        }
    }
    let uri = image.uri(account);
    let tagged = ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(&image.tag)
                .build(),
        )
        .send()
        .await;
    match tagged {
        Ok(_) => {
            step(format!("image {repository}:{} is in ECR", image.tag));
            return Ok(uri);
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_image_not_found_exception()) => {}
        Err(error) => {
            return Err(failure(format!(
                "reading image {repository}:{}: {}",
                image.tag,
                tradai::report::chain(&error)
            )));
        }
    }
    step(format!("building and pushing {uri}"));
    let password = registry_password(&account.sdk).await?;
    docker
        .run_with_input(
            &[
                "login".into(),
                "--username".into(),
                "AWS".into(),
                "--password-stdin".into(),
                registry(account),
            ],
            &password,
        )
        .await?;
    for build in &image.builds {
        let mut arguments = vec![
            "build".to_owned(),
            "--platform".into(),
            "linux/amd64".into(),
            "--file".into(),
            build.dockerfile.display().to_string(),
            "--tag".into(),
            build.tag.clone().unwrap_or_else(|| uri.clone()),
        ];
        for argument in &build.arguments {
            arguments.extend(["--build-arg".to_owned(), argument.clone()]);
        }
        arguments.push(build.context.display().to_string());
        docker.run(&arguments).await?;
    }
    docker.run(&["push".into(), uri.clone()]).await?;
    Ok(uri)
}

/// The password `docker login` takes for this account's ECR registry.
async fn registry_password(sdk: &SdkConfig) -> Result<String, Failure> {
    use base64::Engine as _;
    let token = aws_sdk_ecr::Client::new(sdk)
        .get_authorization_token()
        .send()
        .await
        .map_err(|error| failure(format!("ECR GetAuthorizationToken: {}", tradai::report::chain(&error))))?;
    let encoded = token
        .authorization_data()
        .first()
        .and_then(|data| data.authorization_token())
        .ok_or_else(|| failure("ECR answered no authorization token"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| failure(format!("ECR's authorization token: {error}")))?;
    let text = String::from_utf8_lossy(&decoded);
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
        .ok_or_else(|| failure("ECR's authorization token is not user:password"))
}
