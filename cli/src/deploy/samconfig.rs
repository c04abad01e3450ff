//! What samconfig.toml says of a stage: `[<stage>.global.parameters]` and `[<stage>.deploy.parameters]` — the
//! stack's name, its region, its template parameters and tags.

use std::path::Path;

use super::parameters::{ParameterError, Parameters};

/// One stage's deploy settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageConfig {
    pub stage: String,
    pub stack_name: String,
    /// `region`, when samconfig names one.
    pub region: Option<String>,
    pub parameters: Parameters,
}

/// Why samconfig.toml gives no stage.
#[derive(Debug, thiserror::Error)]
pub enum SamconfigError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not TOML: {message}")]
    NotToml { path: String, message: String },
    #[error("{path} has no stage {stage} (a [{stage}.deploy.parameters] table); it has {known}")]
    NoStage { path: String, stage: String, known: String },
    #[error("{path}: [{stage}.deploy.parameters] {key} is missing or not text")]
    Missing {
        path: String,
        stage: String,
        key: &'static str,
    },
    #[error("{path}: [{stage}.deploy.parameters] parameter_overrides: {source}")]
    Parameters {
        path: String,
        stage: String,
        #[source]
        source: ParameterError,
    },
}

/// Stage `stage` of the samconfig.toml at `path`.
pub fn read(path: &Path, stage: &str) -> Result<StageConfig, SamconfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SamconfigError::Unreadable {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown, stage)
}

fn parse(text: &str, path: &str, stage: &str) -> Result<StageConfig, SamconfigError> {
    let document: toml::Table = text.parse().map_err(|error: toml::de::Error| SamconfigError::NotToml {
        path: path.to_owned(),
        message: error.message().to_owned(),
    })?;
    let table = |command: &str| {
        document
            .get(stage)
            .and_then(|environment| environment.get(command))
            .and_then(|command| command.get("parameters"))
            .and_then(toml::Value::as_table)
    };
    let Some(deploy) = table("deploy") else {
        let known: Vec<&str> = document
            .iter()
            .filter(|(name, environment)| *name != "default" && environment.get("deploy").is_some())
            .map(|(name, _)| name.as_str())
            .collect();
        return Err(SamconfigError::NoStage {
            path: path.to_owned(),
            stage: stage.to_owned(),
            known: known.join(", "),
        });
    };
    let text_of = |table: Option<&toml::Table>, key: &'static str| {
        table
            .and_then(|table| table.get(key))
            .and_then(toml::Value::as_str)
            .map(str::to_owned)
    };
    let stack_name = text_of(table("global"), "stack_name")
        .or_else(|| text_of(Some(deploy), "stack_name"))
        .ok_or_else(|| SamconfigError::Missing {
            path: path.to_owned(),
            stage: stage.to_owned(),
            key: "stack_name",
        })?;
    let overrides = text_of(Some(deploy), "parameter_overrides").unwrap_or_default();
    let parameters = Parameters::parse_overrides(&overrides).map_err(|source| SamconfigError::Parameters {
        path: path.to_owned(),
        stage: stage.to_owned(),
        source,
    })?;
    Ok(StageConfig {
        stage: stage.to_owned(),
        stack_name,
        region: text_of(Some(deploy), "region"),
        parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_samconfig_gives_each_stage_its_own_parameters() {
        let path = crate::deploy::project_root().join("samconfig.toml");
        let prod = read(&path, "prod").expect("prod");
        assert_eq!(prod.stack_name, "tradai-serverless-prod");
        assert_eq!(prod.parameters.get("Stage"), Some("prod"));
        assert_eq!(read(&path, "dev").expect("dev").parameters.get("Stage"), Some("dev"));
        let error = read(&path, "staging").expect_err("no such stage");
        assert!(error.to_string().contains("it has dev, prod"), "{error}");
    }

    #[test]
    fn a_stage_without_a_stack_name_or_with_unreadable_parameters_is_named() {
        let missing = parse("[qa.deploy.parameters]\nregion = \"eu-west-1\"\n", "s.toml", "qa").expect_err("no name");
        assert_eq!(
            missing.to_string(),
            "s.toml: [qa.deploy.parameters] stack_name is missing or not text"
        );
        let bad = parse(
            "[qa.deploy.parameters]\nstack_name = \"x\"\nparameter_overrides = \"Stage\"\n",
            "s.toml",
            "qa",
        )
        .expect_err("unreadable");
        assert!(bad.to_string().contains("parameter_overrides"), "{bad}");
        let ok = parse("[qa.deploy.parameters]\nstack_name = \"x\"\n", "s.toml", "qa").expect("read");
        assert_eq!((ok.region, ok.parameters), (None, Parameters::default()));
    }
}
