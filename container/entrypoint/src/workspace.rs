//! A run's folder under `WORK_DIR`: the engine's config, user data, candles and results, in Freqtrade's layout.

use std::path::{Path, PathBuf};

use crate::failure::RunFailure;
use crate::settings::EntrypointSettings;

/// `{WORK_DIR}/{run_id}/` and what the engine finds in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub folder: PathBuf,
    /// Where a backtest's results go (`--backtest-directory`).
    pub backtests: PathBuf,
    /// `{userdir}`; hyperopt writes its results under it.
    pub userdir: PathBuf,
    /// The exchange's candles (and `markets.json`).
    pub datadir: PathBuf,
    /// Where the engine loads the strategy from: the image's folder, or the run's copy of it when the run has
    /// strategy parameters to write beside it.
    pub strategies: PathBuf,
}

impl Workspace {
    /// Makes the run's folders.
    pub fn create(settings: &EntrypointSettings) -> Result<Self, RunFailure> {
        let folder = settings.work_dir.join(settings.run_id.to_string());
        let workspace = Self {
            backtests: folder.join("backtest_results"),
            userdir: folder.join("user_data"),
            datadir: folder.join("data").join(&settings.exchange),
            strategies: match settings.strategy_parameters {
                Some(_) => folder.join("strategies"),
                None => settings.strategy_path.clone(),
            },
            folder,
        };
        for path in [&workspace.backtests, &workspace.userdir, &workspace.datadir] {
            std::fs::create_dir_all(path).map_err(|source| RunFailure::Workspace {
                folder: workspace.folder.clone(),
                source,
            })?;
        }
        Ok(workspace)
    }

    /// The config the engine reads: where an S3 config is fetched to, or a local `CONFIG_PATH` where it is.
    pub fn config(&self, settings: &EntrypointSettings) -> PathBuf {
        match settings.config_path.as_deref() {
            Some(path) if !path.starts_with("s3://") => PathBuf::from(path),
            _ => self.folder.join("config.json"),
        }
    }

    /// Writes the run's config as JSON, which Freqtrade reads whatever the config was written in.
    pub fn write_config(&self, config: &serde_json::Value) -> Result<(), RunFailure> {
        let text = serde_json::to_vec_pretty(config)
            .map_err(|error| RunFailure::inputs_because("cannot write the config", error))?;
        let file = self.folder.join("config.json");
        std::fs::write(&file, text).map_err(|error| RunFailure::inputs_because("cannot write the config", error))
    }

    /// The engine command with its `{placeholders}` replaced.
    pub fn engine_argv(&self, settings: &EntrypointSettings) -> Vec<String> {
        let display = |path: &Path| path.display().to_string();
        let mut replacements = vec![
            ("{config}", display(&self.config(settings))),
            ("{userdir}", display(&self.userdir)),
            ("{datadir}", display(&self.datadir)),
            ("{backtest_directory}", display(&self.backtests)),
            ("{strategy}", settings.strategy.clone()),
            ("{strategy_path}", display(&self.strategies)),
            ("{timeframe}", settings.timeframe.to_string()),
            ("{timerange}", settings.timerange.clone()),
            ("{run_id}", settings.run_id.to_string()),
        ];
        if let Some(hyperopt) = settings.hyperopt() {
            replacements.extend([
                ("{epochs}", hyperopt.epochs.to_string()),
                ("{hyperopt_loss}", hyperopt.loss.clone()),
                ("{random_state}", hyperopt.random_state.to_string()),
            ]);
        }
        settings
            .engine_command
            .iter()
            .map(|part| {
                replacements
                    .iter()
                    .fold(part.clone(), |text, (from, to)| text.replace(from, to))
            })
            .collect()
    }
}
