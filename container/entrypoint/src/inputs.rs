//! The run's inputs: the merged config (fetched from S3, or prepared here when the container was launched without
//! one), the strategy with the run's parameters, and each pair's candles with the exchange's `markets.json`, written
//! into Freqtrade's layout. A run planned by the workflow reads the candles at the object versions its manifest
//! pins, and refuses bytes whose hash is not the manifest's: a later upload cannot change a planned run.

use tradai::mlflow::{ModelRegistry, StrategyVersion};
use tradai::objects::{ObjectStore, s3_object};
use tradai::run_manifest::{DataFile, Observed, RunManifest, sha256_of};
use tradai::workflow::prepare::{RunFields, merged_config};

use crate::failure::RunFailure;
use crate::settings::EntrypointSettings;
use crate::workspace::Workspace;

/// Fetches the config and the candles into `workspace`; prepares the config first when there is none and MLflow
/// (`registry`) can say where the strategy's base config is.
pub async fn fetch_inputs(
    settings: &EntrypointSettings,
    registry: Option<&impl ModelRegistry>,
    objects: &impl ObjectStore,
    workspace: &Workspace,
) -> Result<(), RunFailure> {
    // Launched directly there is no PrepareConfig step before the container: it prepares the config itself.
    if settings.config_path.is_none()
        && let Some(registry) = registry
    {
        prepare_config(registry, objects, settings, workspace).await?;
    }
    if let Some(uri) = settings.config_path.as_deref().filter(|path| path.starts_with("s3://")) {
        let config = read_config(objects, uri).await?;
        workspace.write_config(&config)?;
    }
    crate::strategy::place_strategy(settings, &workspace.strategies)?;
    let Some(uri) = settings.run_manifest.as_deref() else {
        return fetch_candles(settings, objects, workspace).await;
    };
    let manifest = read_manifest(objects, uri).await?;
    fetch_pinned(settings, objects, workspace, &manifest).await?;
    observe(settings, objects, uri, manifest).await
}

/// Records in the manifest at `uri` what this container runs: its engine (the image's `ENGINE_VERSION`) and its
/// own version. Outside the fingerprint: the digest already decides both; a diff shows them.
async fn observe(
    settings: &EntrypointSettings,
    objects: &impl ObjectStore,
    uri: &str,
    manifest: RunManifest,
) -> Result<(), RunFailure> {
    let observed = Observed {
        engine: settings.engine_version.clone().unwrap_or_else(|| "unknown".to_owned()),
        entrypoint: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let manifest = RunManifest {
        observed: Some(observed),
        ..manifest
    };
    let (bucket, key) = s3_object(uri).ok_or_else(|| RunFailure::inputs(format!("{uri} names no S3 object")))?;
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|error| RunFailure::inputs_because("the manifest cannot be written", error))?;
    objects
        .in_bucket(bucket)
        .put(key, bytes)
        .await
        .map_err(|error| RunFailure::inputs_because(format!("the manifest {uri} could not be written"), error))
}

/// The manifest at `uri`.
async fn read_manifest(objects: &impl ObjectStore, uri: &str) -> Result<RunManifest, RunFailure> {
    let bytes = read_object(objects, uri, "manifest").await?;
    serde_json::from_slice(&bytes).map_err(|error| RunFailure::inputs_because(format!("the manifest {uri}"), error))
}

/// The bytes of the `what` (the config, the manifest) at `uri` (`s3://bucket/key`), which must be there.
async fn read_object(objects: &impl ObjectStore, uri: &str, what: &str) -> Result<Vec<u8>, RunFailure> {
    let (bucket, key) = s3_object(uri).ok_or_else(|| RunFailure::inputs(format!("{uri} names no S3 object")))?;
    objects
        .in_bucket(bucket)
        .get(key)
        .await
        .map_err(|error| RunFailure::inputs_because(format!("the {what} {uri} could not be read"), error))?
        .ok_or_else(|| RunFailure::inputs(format!("the {what} {uri} does not exist")))
}

/// The candle files and markets snapshot `manifest` pins, each at its version and checked against its hash, into
/// the engine's data folder.
async fn fetch_pinned(
    settings: &EntrypointSettings,
    objects: &impl ObjectStore,
    workspace: &Workspace,
    manifest: &RunManifest,
) -> Result<(), RunFailure> {
    let Some(location) = &settings.market_data else {
        return Ok(());
    };
    let data = objects.in_bucket(&location.bucket);
    let exchange_prefix = format!("{}{}/", location.prefix, settings.exchange);
    for file in manifest.data.iter().chain(&manifest.markets) {
        let bytes = read_pinned(&data, file, location).await?;
        let relative = match &file.pair {
            Some(_) => file.key.strip_prefix(&exchange_prefix).unwrap_or(&file.key),
            None => "markets.json",
        };
        write(&workspace.datadir.join(relative), &bytes)?;
    }
    tracing::info!(run_id = %settings.run_id, files = manifest.data.len(), "pinned market data fetched");
    Ok(())
}

/// The bytes of `file` at the version it pins, refused unless they hash to what the manifest says.
async fn read_pinned(
    data: &impl ObjectStore,
    file: &DataFile,
    location: &tradai::market_data::DataLocation,
) -> Result<Vec<u8>, RunFailure> {
    let uri = location.uri(&file.key);
    let version = file.version_id.as_deref();
    let bytes = data
        .get_version(&file.key, version)
        .await
        .map_err(|error| RunFailure::inputs_because(format!("{uri} could not be read"), error))?
        .ok_or_else(|| {
            RunFailure::inputs(format!(
                "{uri} version {} is not there any more",
                version.unwrap_or("(current)")
            ))
        })?;
    let found = sha256_of(&bytes);
    if found != file.sha256 {
        return Err(RunFailure::inputs(format!(
            "{uri} is not the file the run was planned with: {found}, the manifest pins {}",
            file.sha256
        )));
    }
    Ok(bytes)
}

/// Each pair's candles, and the exchange's `markets.json` when there is one, into the engine's data folder.
async fn fetch_candles(
    settings: &EntrypointSettings,
    objects: &impl ObjectStore,
    workspace: &Workspace,
) -> Result<(), RunFailure> {
    let Some(location) = &settings.market_data else {
        return Ok(());
    };
    let data = objects.in_bucket(&location.bucket);
    let unreadable = |error| RunFailure::inputs_because("the market data could not be read", error);
    let exchange_prefix = format!("{}{}/", location.prefix, settings.exchange);
    for pair in &settings.pairs {
        let key = tradai::market_data::dataset_key(location, &settings.exchange, pair, settings.timeframe);
        let bytes = data.get(&key).await.map_err(unreadable)?.ok_or_else(|| {
            RunFailure::inputs(format!(
                "no {} market data for {pair} at {}",
                settings.timeframe,
                location.uri(&key)
            ))
        })?;
        let target = workspace
            .datadir
            .join(key.strip_prefix(&exchange_prefix).unwrap_or(&key));
        write(&target, &bytes)?;
    }
    if let Some(bytes) = data
        .get(&tradai::market_data::markets_key(location, &settings.exchange))
        .await
        .map_err(unreadable)?
    {
        write(&workspace.datadir.join("markets.json"), &bytes)?;
    }
    Ok(())
}

fn write(target: &std::path::Path, bytes: &[u8]) -> Result<(), RunFailure> {
    let failed = |error| RunFailure::inputs_because(format!("cannot write {}", target.display()), error);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::write(target, bytes).map_err(failed)
}

/// The YAML or JSON document at `uri` (`s3://bucket/key`).
async fn read_config(objects: &impl ObjectStore, uri: &str) -> Result<serde_json::Value, RunFailure> {
    let bytes = read_object(objects, uri, "config").await?;
    tradai::config::parse_document(&bytes)
        .map_err(|error| RunFailure::inputs_because(format!("the config {uri}"), error))
}

/// The run's config as PrepareConfig makes it (`tradai::workflow::prepare`), for a container launched without
/// one: the version's (or alias's) `config_path` tag → the base config → `CONFIG_OVERRIDES` → the run's fields.
async fn prepare_config(
    registry: &impl ModelRegistry,
    objects: &impl ObjectStore,
    settings: &EntrypointSettings,
    workspace: &Workspace,
) -> Result<(), RunFailure> {
    let name = &settings.strategy;
    let registry_down = |error| RunFailure::inputs_because("MLflow", error);
    let version = match settings.strategy_version.parse::<u32>() {
        Ok(number) => registry.version(name, number).await,
        Err(_) => registry.resolve_alias(name, &settings.strategy_version).await,
    }
    .map_err(registry_down)?
    .ok_or_else(|| {
        RunFailure::inputs(format!(
            "strategy {name} version {} is not registered",
            settings.strategy_version
        ))
    })?;
    let (base, uri) = version_config(&version, name, objects).await?;
    let run = RunFields {
        run_id: settings.run_id,
        pairs: settings.pairs.iter().map(|pair| pair.as_str()).collect(),
        timeframe: settings.timeframe.as_str(),
        experiment_name: &settings.experiment_name,
        strategy_name: name,
        strategy_version: version.version,
    };
    let config = merged_config(base, &settings.config_overrides, &run);
    tracing::info!(run_id = %settings.run_id, %uri, version = version.version, "run config prepared");
    workspace.write_config(&config)
}

/// The base config a registered version's `config_path` tag names (YAML or JSON, in S3), and that URI.
pub(crate) async fn version_config(
    version: &StrategyVersion,
    name: &str,
    objects: &impl ObjectStore,
) -> Result<(serde_json::Value, String), RunFailure> {
    let uri = version.tags.get("config_path").ok_or_else(|| {
        RunFailure::inputs(format!(
            "strategy {name} version {} has no config_path tag",
            version.version
        ))
    })?;
    if s3_object(uri).is_none() {
        return Err(RunFailure::inputs(format!("config_path {uri} is not an s3:// URI")));
    }
    Ok((read_config(objects, uri).await?, uri.clone()))
}
