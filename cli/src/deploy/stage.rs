//! A deployed stage as `tradai` remembers it (`STATE/stages/<stage>.json`: the stack's outputs, its API), so
//! later commands reach it with `--stage`; and what of a stage outlives its stack (tables, buckets).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use aws_config::SdkConfig;
use serde::{Deserialize, Serialize};

use super::failure;
use super::preflight::Account;
use crate::Failure;

/// A stage as its last deploy left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedStage {
    pub stage: String,
    pub stack_name: String,
    pub region: String,
    pub account: String,
    /// The HTTP API (the stack's `ApiUrl` output).
    pub api_url: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub deployed_at: String,
}

fn path(state: &Path, stage: &str) -> PathBuf {
    state.join("stages").join(format!("{stage}.json"))
}

impl DeployedStage {
    /// Stack `stack_name`'s outputs as CloudFormation answers them now.
    pub async fn read_from_stack(account: &Account, stage: &str, stack_name: &str) -> Result<DeployedStage, Failure> {
        let answer = aws_sdk_cloudformation::Client::new(&account.sdk)
            .describe_stacks()
            .stack_name(stack_name)
            .send()
            .await
            .map_err(|error| failure(format!("reading stack {stack_name}: {}", tradai::report::chain(&error))))?;
        let stack = answer
            .stacks()
            .first()
            .ok_or_else(|| failure(format!("stack {stack_name} is not there after its deploy")))?;
        let outputs: BTreeMap<String, String> = stack
            .outputs()
            .iter()
            .filter_map(|output| Some((output.output_key()?.to_owned(), output.output_value()?.to_owned())))
            .collect();
        Ok(DeployedStage {
            stage: stage.to_owned(),
            stack_name: stack_name.to_owned(),
            region: account.region.clone(),
            account: account.account_id.clone(),
            api_url: outputs.get("ApiUrl").cloned(),
            outputs,
            deployed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    /// Writes the record under `state`; answers where.
    pub fn save(&self, state: &Path) -> std::io::Result<PathBuf> {
        let path = path(state, &self.stage);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// The record of `stage` under `state`, when it was deployed from there.
    pub fn load(state: &Path, stage: &str) -> Option<DeployedStage> {
        let text = std::fs::read_to_string(path(state, stage)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Removes the record of `stage` (a destroyed stage is not reached any more).
    pub fn forget(state: &Path, stage: &str) -> std::io::Result<()> {
        match std::fs::remove_file(path(state, stage)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

/// What of a stage may outlive its stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataResource {
    Bucket(String),
    Table(String),
}

impl fmt::Display for DataResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataResource::Bucket(name) => write!(f, "bucket {name}"),
            DataResource::Table(name) => write!(f, "table {name}"),
        }
    }
}

/// The stack's buckets and tables (what its deletion may keep), read before it is deleted.
pub async fn retained_resources(sdk: &SdkConfig, stack_name: &str) -> Result<Vec<DataResource>, Failure> {
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let mut resources = Vec::new();
    let mut token = None;
    loop {
        let page = cloudformation
            .list_stack_resources()
            .stack_name(stack_name)
            .set_next_token(token)
            .send()
            .await
            .map_err(|error| failure(format!("listing stack {stack_name}: {}", tradai::report::chain(&error))))?;
        for resource in page.stack_resource_summaries() {
            let name = resource.physical_resource_id().unwrap_or_default().to_owned();
            match resource.resource_type() {
                Some("AWS::S3::Bucket") if !name.is_empty() => resources.push(DataResource::Bucket(name)),
                Some("AWS::DynamoDB::Table") if !name.is_empty() => resources.push(DataResource::Table(name)),
                _ => {}
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(resources);
        }
    }
}

/// Those of `resources` that still exist.
pub async fn existing(sdk: &SdkConfig, resources: &[DataResource]) -> Result<Vec<DataResource>, Failure> {
    let (s3, dynamodb) = (aws_sdk_s3::Client::new(sdk), aws_sdk_dynamodb::Client::new(sdk));
    let mut left = Vec::new();
    for resource in resources {
        let there = match resource {
            DataResource::Bucket(name) => s3.head_bucket().bucket(name).send().await.is_ok(),
            DataResource::Table(name) => dynamodb.describe_table().table_name(name).send().await.is_ok(),
        };
        if there {
            left.push(resource.clone());
        }
    }
    Ok(left)
}

/// Deletes `resources`: each bucket emptied of every object version and delete marker first, each table's
/// deletion protection turned off first.
pub async fn delete_data(sdk: &SdkConfig, resources: &[DataResource]) -> Result<(), Failure> {
    let (s3, dynamodb) = (aws_sdk_s3::Client::new(sdk), aws_sdk_dynamodb::Client::new(sdk));
    for resource in resources {
        super::step(format!("deleting {resource}"));
        let problem =
            |error: &dyn std::error::Error| failure(format!("deleting {resource}: {}", tradai::report::chain(error)));
        match resource {
            DataResource::Bucket(name) => {
                empty_bucket(&s3, name).await.map_err(|error| problem(&*error))?;
                s3.delete_bucket()
                    .bucket(name)
                    .send()
                    .await
                    .map_err(|error| problem(&error))?;
            }
            DataResource::Table(name) => {
                let protected = dynamodb
                    .describe_table()
                    .table_name(name)
                    .send()
                    .await
                    .map_err(|error| problem(&error))?
                    .table()
                    .and_then(|table| table.deletion_protection_enabled())
                    .unwrap_or(false);
                if protected {
                    dynamodb
                        .update_table()
                        .table_name(name)
                        .deletion_protection_enabled(false)
                        .send()
                        .await
                        .map_err(|error| problem(&error))?;
                }
                dynamodb
                    .delete_table()
                    .table_name(name)
                    .send()
                    .await
                    .map_err(|error| problem(&error))?;
            }
        }
    }
    Ok(())
}

/// Deletes every object version and delete marker of bucket `name`, a page (at most 1 000) at a time.
async fn empty_bucket(s3: &aws_sdk_s3::Client, name: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    loop {
        let page = s3.list_object_versions().bucket(name).send().await?;
        let mut objects = Vec::new();
        for (key, version) in page
            .versions()
            .iter()
            .map(|version| (version.key(), version.version_id()))
            .chain(
                page.delete_markers()
                    .iter()
                    .map(|marker| (marker.key(), marker.version_id())),
            )
        {
            if let Some(key) = key {
                objects.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.map(str::to_owned))
                        .build()?,
                );
            }
        }
        if objects.is_empty() {
            return Ok(());
        }
        let delete = Delete::builder().set_objects(Some(objects)).quiet(true).build()?;
        s3.delete_objects().bucket(name).delete(delete).send().await?;
    }
}
