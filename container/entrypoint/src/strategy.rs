//! The strategy's code where the engine loads it (`--strategy-path`), and the run's strategy parameters beside it.
//!
//! Freqtrade reads a strategy's parameters from the JSON file named like the strategy's file (`EmaCross.py` →
//! `EmaCross.json`), whose `strategy_name` must be the class. The image's strategy folder is the image's, so a run
//! with parameters gets its own copy of the folder in its workspace with the parameter file written there: the
//! values the image's own file has are kept, the run's win, and no other run sees them.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::failure::RunFailure;
use crate::settings::EntrypointSettings;

/// Places the strategy for the engine in `strategies` (the run's copy), when the run has parameters; a run
/// without any loads the image's folder as it is.
pub fn place_strategy(settings: &EntrypointSettings, strategies: &Path) -> Result<(), RunFailure> {
    let Some(parameters) = &settings.strategy_parameters else {
        return Ok(());
    };
    copy_folder(&settings.strategy_path, strategies)?;
    let file = strategy_file(strategies, &settings.strategy)?;
    let target = file.with_extension("json");
    let mut params = match std::fs::read(&target) {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|shipped| shipped.get("params").and_then(Value::as_object).cloned())
            .ok_or_else(|| {
                RunFailure::inputs(format!(
                    "{} in the image is not a Freqtrade parameter file",
                    target.display()
                ))
            })?,
        Err(_) => Map::new(),
    };
    for (space, values) in parameters {
        let merged = params.entry(space.clone()).or_insert_with(|| Value::Object(Map::new()));
        if let (Some(merged), Some(values)) = (merged.as_object_mut(), values.as_object()) {
            merged.extend(values.iter().map(|(name, value)| (name.clone(), value.clone())));
        }
    }
    let document = json!({"strategy_name": settings.strategy, "params": params, "ft_stratparam_v": 1});
    let text = serde_json::to_vec_pretty(&document)
        .map_err(|error| RunFailure::inputs_because("cannot write the strategy parameters", error))?;
    std::fs::write(&target, text)
        .map_err(|error| RunFailure::inputs_because(format!("cannot write {}", target.display()), error))?;
    tracing::info!(run_id = %settings.run_id, file = %target.display(), "strategy parameters written");
    Ok(())
}

/// Copies the strategy folder (its modules and data, not byte-code caches or hidden files) into `to`.
fn copy_folder(from: &Path, to: &Path) -> Result<(), RunFailure> {
    let unreadable =
        |error| RunFailure::inputs_because(format!("the strategy folder {} cannot be read", from.display()), error);
    std::fs::create_dir_all(to)
        .map_err(|error| RunFailure::inputs_because(format!("cannot make {}", to.display()), error))?;
    for entry in std::fs::read_dir(from).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text.starts_with('.') || text == "__pycache__" {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if source.is_dir() {
            copy_folder(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .map_err(|error| RunFailure::inputs_because(format!("cannot copy {}", source.display()), error))?;
        }
    }
    Ok(())
}

/// The file of `folder` (not below it: Freqtrade's strategy search is not recursive by default) defining class
/// `strategy`.
fn strategy_file(folder: &Path, strategy: &str) -> Result<PathBuf, RunFailure> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|error| RunFailure::inputs_because(format!("cannot read {}", folder.display()), error))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "py"))
        .collect();
    files.sort();
    files
        .into_iter()
        .find(|path| std::fs::read_to_string(path).is_ok_and(|code| defines_class(&code, strategy)))
        .ok_or_else(|| {
            RunFailure::inputs(format!(
                "no file of the strategy folder defines class {strategy}, so its parameters have nowhere to go"
            ))
        })
}

/// Whether `code` has a line `class <name>(` or `class <name>:`.
fn defines_class(code: &str, name: &str) -> bool {
    code.lines().any(|line| {
        line.strip_prefix("class ")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.trim_start().starts_with(['(', ':']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_is_found_by_its_definition_not_a_longer_name() {
        let code = "import x\nclass EmaCrossV2(IStrategy):\n    pass\nclass EmaCross (IStrategy):\n";
        assert!(defines_class(code, "EmaCross"));
        assert!(defines_class("class EmaCross:\n", "EmaCross"));
        assert!(!defines_class("class EmaCrossV2(IStrategy):\n", "EmaCross"));
        assert!(!defines_class("    class EmaCross(IStrategy):\n", "EmaCross"), "nested");
    }
}
