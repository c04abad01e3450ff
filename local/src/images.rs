//! Local strategy images. There is no Docker engine here: a strategy's image is its folder, run by the project's
//! Freqtrade through the offline launcher (`container/engine/freqtrade_offline.py`), as the image's
//! `ENGINE_LAUNCHER` runs it, with the folder as the image's `STRATEGY_PATH`. [`push`] puts such an image into the local ECR — what `docker build` and `docker push` do on AWS —
//! with the environment the image would carry in an annotation of its manifest; the local ECS gives a task that
//! environment under the task definition's own, as a container's `ENV` lies under the task's.

use std::collections::BTreeMap;
use std::path::Path;

use aws_config::SdkConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Error, project_root};

/// The manifest annotation holding the image's environment, a JSON object.
pub const ENVIRONMENT_ANNOTATION: &str = "org.tradai.local.environment";

/// The environment a local image of the strategy in `folder` carries.
pub fn environment(folder: &Path) -> Result<BTreeMap<String, String>, Error> {
    let root = project_root();
    let python = root.join(".stand-ins/freqtrade/bin/python");
    if !python.exists() {
        return Err(Error::NotInstalled {
            tool: "Freqtrade",
            path: python,
        });
    }
    let launcher = vec![
        python.display().to_string(),
        root.join("container/engine/freqtrade_offline.py").display().to_string(),
    ];
    Ok(BTreeMap::from([
        ("ENGINE_LAUNCHER".to_owned(), Value::from(launcher).to_string()),
        ("ENGINE_VERSION".to_owned(), engine_version(&root)),
        ("STRATEGY_PATH".to_owned(), folder.display().to_string()),
        (
            "WORK_DIR".to_owned(),
            root.join(".stand-ins/local-ecs/work").display().to_string(),
        ),
    ]))
}

/// The project's Freqtrade as the strategy image names its engine (`freqtrade-2026.9`), from the installed
/// distribution's metadata folder.
fn engine_version(root: &Path) -> String {
    let site_packages = std::fs::read_dir(root.join(".stand-ins/freqtrade/lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join("site-packages"));
    site_packages
        .flat_map(|folder| std::fs::read_dir(folder).into_iter().flatten().flatten())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix("freqtrade-")?.strip_suffix(".dist-info")?.to_owned();
            Some(format!("freqtrade-{version}"))
        })
        .next()
        .unwrap_or_else(|| "freqtrade-unknown".to_owned())
}

/// A tag made of the folder's files (names and contents): the same code is the same tag, a change a new one.
pub fn content_tag(folder: &Path) -> Result<String, Error> {
    let mut files = Vec::new();
    collect(folder, folder, &mut files)?;
    files.sort();
    let mut digest = Sha256::new();
    for relative in &files {
        let bytes = std::fs::read(folder.join(relative)).map_err(|source| Error::Read {
            path: folder.join(relative),
            source,
        })?;
        digest.update(relative.as_bytes());
        digest.update([0]);
        digest.update(&bytes);
    }
    let hex: String = digest
        .finalize()
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(format!("local-{hex}"))
}

fn collect(base: &Path, folder: &Path, files: &mut Vec<String>) -> Result<(), Error> {
    let entries = std::fs::read_dir(folder).map_err(|source| Error::Read {
        path: folder.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            collect(base, &path, files)?;
        } else if let Ok(relative) = path.strip_prefix(base) {
            files.push(relative.display().to_string());
        }
    }
    Ok(())
}

/// Pushes the local image of the strategy in `folder` to repository `repository` (made if missing) of the local
/// ECR behind `sdk`, tagged `tag`; answers the image URL.
pub async fn push(sdk: &SdkConfig, folder: &Path, repository: &str, tag: &str) -> Result<String, Error> {
    let folder = folder.canonicalize().map_err(|source| Error::Read {
        path: folder.to_path_buf(),
        source,
    })?;
    let environment = environment(&folder)?;
    let ecr = aws_sdk_ecr::Client::new(sdk);
    let created = ecr.create_repository().repository_name(repository).send().await;
    let uri = match created {
        Ok(answer) => answer.repository.and_then(|made| made.repository_uri),
        Err(error) => {
            let error = error.into_service_error();
            if !error.is_repository_already_exists_exception() {
                return Err(Error::aws(format!("creating repository {repository}"), error));
            }
            ecr.describe_repositories()
                .repository_names(repository)
                .send()
                .await
                .map_err(|error| Error::aws(format!("reading repository {repository}"), error.into_service_error()))?
                .repositories
                .unwrap_or_default()
                .into_iter()
                .next()
                .and_then(|found| found.repository_uri)
        }
    }
    .ok_or_else(|| Error::Template(format!("the local ECR made repository {repository} without a URI")))?;
    let environment = serde_json::to_string(&environment).unwrap_or_default();
    let config_digest = format!("sha256:{:x}", Sha256::digest(environment.as_bytes()));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": environment.len(),
            "digest": config_digest},
        "layers": [],
        "annotations": {
            ENVIRONMENT_ANNOTATION: environment,
            "org.opencontainers.image.source": folder.display().to_string(),
        },
    });
    let pushed = ecr
        .put_image()
        .repository_name(repository)
        .image_manifest(manifest.to_string())
        .image_tag(tag)
        .send()
        .await;
    if let Err(error) = pushed {
        let error = error.into_service_error();
        // The same tag of the same content is already there: a push of it again is done.
        if !error.is_image_already_exists_exception() {
            return Err(Error::aws(format!("pushing {repository}:{tag}"), error));
        }
    }
    Ok(format!("{uri}:{tag}"))
}

/// The environment the manifest of a local image carries (none for an image pushed any other way).
pub fn environment_of(manifest: &Value) -> Vec<(String, String)> {
    manifest["annotations"][ENVIRONMENT_ANNOTATION]
        .as_str()
        .and_then(|text| serde_json::from_str::<BTreeMap<String, String>>(text).ok())
        .map(|variables| variables.into_iter().collect())
        .unwrap_or_default()
}
