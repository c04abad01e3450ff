//! `tradai strategy register [DIR]`: a strategy's release from the manifest in its folder (`strategy.yaml`: name,
//! image, base config, timeframe, pairs, warm-up days, description, alias), any field overridden by a flag, sent to
//! `POST /strategies`. On the local stack the folder is the image: it is pushed to the local ECR first, tagged by
//! its content. A deployed stage needs the image CI pushed, named in the manifest or with `--image`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::table::pairs;
use crate::{Context, Failure, exit};

/// The manifest's name in a strategy's folder.
pub const MANIFEST: &str = "strategy.yaml";

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The strategy's folder, holding its code and `strategy.yaml`.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[arg(long)]
    pub name: Option<String>,
    /// The image in ECR (required for a deployed stage; locally the folder is pushed as the image).
    #[arg(long)]
    pub image: Option<String>,
    /// The base config file (YAML or JSON), relative to the folder.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub pairs: Option<Vec<String>>,
    #[arg(long)]
    pub warmup_days: Option<u32>,
    #[arg(long)]
    pub description: Option<String>,
    /// Move this alias (such as `production`) to the version registered.
    #[arg(long)]
    pub alias: Option<String>,
}

/// `strategy.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: Option<String>,
    pub image: Option<String>,
    pub config: Option<PathBuf>,
    pub timeframe: Option<String>,
    pub pairs: Option<Vec<String>>,
    pub warmup_days: Option<u32>,
    pub description: Option<String>,
    pub alias: Option<String>,
    /// The hyperoptable parameters a sweep may vary, with their ranges.
    pub parameters: Option<Value>,
}

/// The manifest in `dir`, or an empty one when there is none.
pub fn manifest(dir: &Path) -> Result<Manifest, Failure> {
    let path = dir.join(MANIFEST);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(Manifest::default());
    };
    let document = tradai::config::parse_document(&bytes)
        .map_err(|error| Failure::bad_input(format!("{}: {error}", path.display())))?;
    serde_json::from_value(document).map_err(|error| Failure::bad_input(format!("{}: {error}", path.display())))
}

/// The release `POST /strategies` takes, from the manifest with the flags over it; `image` is the image to name
/// when neither gives one.
pub fn release(args: &RegisterArgs, manifest: Manifest, image: Option<String>) -> Result<Value, Failure> {
    let missing = |field: &str| {
        Failure::bad_input(format!(
            "--{field}: required (or `{}` in {})",
            field.replace('-', "_"),
            args.dir.join(MANIFEST).display()
        ))
    };
    let name = args.name.clone().or(manifest.name).ok_or_else(|| missing("name"))?;
    let image = args.image.clone().or(manifest.image).or(image).ok_or_else(|| {
        Failure::bad_input(
            "--image: a deployed stage runs the image CI pushed to ECR; name it with --image or `image` in strategy.yaml",
        )
    })?;
    let config = args
        .config
        .clone()
        .or(manifest.config)
        .unwrap_or_else(|| PathBuf::from("config.yaml"));
    let config_path = args.dir.join(&config);
    let base_config = std::fs::read_to_string(&config_path)
        .map_err(|error| Failure::bad_input(format!("--config: {}: {error}", config_path.display())))?;
    let timeframe = args
        .timeframe
        .clone()
        .or(manifest.timeframe)
        .ok_or_else(|| missing("timeframe"))?;
    let pairs = args.pairs.clone().or(manifest.pairs).ok_or_else(|| missing("pairs"))?;
    let mut body = json!({
        "name": name,
        "image": image,
        "base_config": base_config,
        "timeframe": timeframe,
        "pairs": pairs,
        "warmup_days": args.warmup_days.or(manifest.warmup_days).unwrap_or(0),
    });
    if let Some(description) = args.description.clone().or(manifest.description) {
        body["description"] = json!(description);
    }
    if let Some(alias) = args.alias.clone().or(manifest.alias) {
        body["alias"] = json!(alias);
    }
    if let Some(parameters) = manifest.parameters {
        body["parameters"] = parameters;
    }
    Ok(body)
}

pub async fn register(context: &Context, args: RegisterArgs) -> Result<u8, Failure> {
    if !args.dir.is_dir() {
        return Err(Failure::bad_input(format!("{}: not a folder", args.dir.display())));
    }
    let manifest = manifest(&args.dir)?;
    let needs_image = args.image.is_none() && manifest.image.is_none();
    let name = args.name.clone().or_else(|| manifest.name.clone());
    let local_image = match (&context.local, needs_image, &name) {
        (Some(local), true, Some(name)) => Some(push_local(local, &args.dir, name).await?),
        _ => None,
    };
    let body = release(&args, manifest, local_image)?;
    let registered = context.api.post("/strategies", &body).await?;
    context.print(&registered, || {
        let text = |key: &str| registered[key].as_str().unwrap_or_default().to_owned();
        let aliases: Vec<String> = registered["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|alias| alias.as_str().map(str::to_owned))
            .collect();
        let verb = if registered["created"] == true {
            "registered"
        } else {
            "already registered"
        };
        format!(
            "{verb} {} version {}\n{}",
            text("name"),
            registered["version"],
            pairs(&[
                ("aliases", aliases.join(", ")),
                ("image", text("image")),
                ("config", text("config_path")),
                ("task definition", text("task_definition")),
            ])
        )
    });
    Ok(exit::OK)
}

/// Pushes the folder as the strategy's local image; answers its URL.
pub(crate) async fn push_local(local: &crate::stack::Running, dir: &Path, name: &str) -> Result<String, Failure> {
    let failed = |error: tradai_local::Error| crate::stack::local_failure(&error);
    let tag = tradai_local::images::content_tag(dir).map_err(failed)?;
    let sdk = tradai_local::moto::sdk_config_for(&local.aws_endpoint).await;
    tradai_local::images::push(&sdk, dir, &format!("strategy-{}", name.to_lowercase()), &tag)
        .await
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path, extra: &[&str]) -> RegisterArgs {
        use clap::Parser;
        let mut line = vec!["tradai", "strategy", "register", dir.to_str().expect("a path")];
        line.extend_from_slice(extra);
        match crate::Cli::parse_from(line).command {
            crate::Command::Strategy(crate::StrategyArgs {
                action: Some(crate::StrategyAction::Register(args)),
                ..
            }) => args,
            other => panic!("a register: {other:?}"),
        }
    }

    #[test]
    fn the_manifest_gives_the_release_and_flags_override_it() {
        let dir = std::env::temp_dir().join(format!("tradai-register-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder");
        std::fs::write(
            dir.join(MANIFEST),
            "name: EmaCross\nconfig: base.yaml\ntimeframe: 5m\npairs: [BTC/USDT, ETH/USDT]\nwarmup_days: 10\nalias: production\n\
             parameters:\n  buy_ema_fast: {low: 4, high: 15}\n",
        )
        .expect("manifest");
        std::fs::write(dir.join("base.yaml"), "stake_currency: USDT\n").expect("config");
        let args = args(&dir, &["--timeframe", "1h", "--image", "r.example/strategy-emacross:7"]);
        let body = release(&args, manifest(&dir).expect("manifest"), None).expect("a release");
        assert_eq!(
            body,
            json!({"name": "EmaCross", "image": "r.example/strategy-emacross:7", "base_config": "stake_currency: USDT\n",
                "timeframe": "1h", "pairs": ["BTC/USDT", "ETH/USDT"], "warmup_days": 10, "alias": "production",
                "parameters": {"buy_ema_fast": {"low": 4, "high": 15}}})
        );
        let no_image = release(&self::args(&dir, &[]), manifest(&dir).expect("manifest"), None);
        assert!(no_image.is_err_and(|failure| failure.message.starts_with("--image")));
        std::fs::write(dir.join(MANIFEST), "name: EmaCross\nstrategy_class: X\n").expect("manifest");
        assert!(manifest(&dir).is_err_and(|failure| failure.message.contains("strategy_class")));
        let _cleaned = std::fs::remove_dir_all(&dir);
    }
}
