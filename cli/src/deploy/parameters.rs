//! The stage's template parameters: samconfig.toml's `parameter_overrides` with the user's `--parameter NAME=VALUE`
//! merged over them. The SAM CLI replaces samconfig's whole list when the command line gives one, so a prod deploy
//! given only an e-mail address would deploy `Stage=dev`; `tradai deploy` always passes the whole merged set.

use std::fmt;

/// Template parameters in the order they were first named; a name appears once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters(Vec<(String, String)>);

/// A parameter that cannot be read or is not the template's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error("{0:?} is not NAME=VALUE")]
    Malformed(String),
    #[error("{name} is not a parameter of the template (it has {known})")]
    Unknown { name: String, known: String },
}

impl Parameters {
    /// Reads SAM's `parameter_overrides` text: `Name=Value` pairs separated by spaces, a value with spaces in
    /// double quotes (`AlertEmail="a b"`).
    pub fn parse_overrides(text: &str) -> Result<Parameters, ParameterError> {
        let mut parameters = Parameters::default();
        let mut rest = text.trim_start();
        while !rest.is_empty() {
            let (name, after) = rest
                .split_once('=')
                .ok_or_else(|| ParameterError::Malformed(rest.to_owned()))?;
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(ParameterError::Malformed(rest.to_owned()));
            }
            let (value, after) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted
                        .find('"')
                        .ok_or_else(|| ParameterError::Malformed(rest.to_owned()))?;
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => after.split_at(after.find(char::is_whitespace).unwrap_or(after.len())),
            };
            parameters.set(name, value);
            rest = after.trim_start();
        }
        Ok(parameters)
    }

    /// Reads one `--parameter NAME=VALUE`.
    pub fn parse_one(text: &str) -> Result<(String, String), ParameterError> {
        match text.split_once('=') {
            Some((name, value)) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                Ok((name.to_owned(), value.to_owned()))
            }
            _ => Err(ParameterError::Malformed(text.to_owned())),
        }
    }

    /// Sets `name` to `value`, in its place when it was already named.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.iter_mut().find(|(known, _)| known == name) {
            Some((_, old)) => value.clone_into(old),
            None => self.0.push((name.to_owned(), value.to_owned())),
        }
    }

    /// These parameters with `overrides` set over them; every name must be one of the template's `known`.
    pub fn merged(&self, overrides: &[(String, String)], known: &[String]) -> Result<Parameters, ParameterError> {
        let mut merged = self.clone();
        for (name, value) in overrides {
            merged.set(name, value);
        }
        match merged.0.iter().find(|(name, _)| !known.contains(name)) {
            Some((name, _)) => Err(ParameterError::Unknown {
                name: name.clone(),
                known: known.join(", "),
            }),
            None => Ok(merged),
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.as_str())
    }

    /// The arguments of `sam deploy --parameter-overrides`: one `Name=Value` each (SAM reads them as one list).
    pub fn arguments(&self) -> Vec<String> {
        self.0.iter().map(|(name, value)| format!("{name}={value}")).collect()
    }
}

impl fmt::Display for Parameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .0
            .iter()
            .map(|(name, value)| match value.contains(char::is_whitespace) {
                true => format!("{name}=\"{value}\""),
                false => format!("{name}={value}"),
            })
            .collect();
        f.write_str(&shown.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        ["Stage", "ExecutorMode", "LogRetentionDays", "AlertEmail"]
            .map(str::to_owned)
            .to_vec()
    }

    #[test]
    fn samconfigs_overrides_read_as_sam_writes_them() {
        let read = Parameters::parse_overrides(r#"Stage=prod  LogRetentionDays=365 AlertEmail="on call@example.com""#)
            .expect("read");
        assert_eq!(read.get("Stage"), Some("prod"));
        assert_eq!(read.get("AlertEmail"), Some("on call@example.com"));
        assert_eq!(
            read.to_string(),
            r#"Stage=prod LogRetentionDays=365 AlertEmail="on call@example.com""#
        );
        assert_eq!(Parameters::parse_overrides("").expect("empty"), Parameters::default());
        for bad in ["Stage", "=prod", r#"A="open"#] {
            assert!(Parameters::parse_overrides(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_users_parameters_are_merged_over_samconfigs_never_replacing_them() {
        let stage = Parameters::parse_overrides("Stage=prod ExecutorMode=sqs LogRetentionDays=365").expect("read");
        let given = [
            Parameters::parse_one("AlertEmail=oncall@example.com").expect("one"),
            Parameters::parse_one("LogRetentionDays=90").expect("one"),
        ];
        let merged = stage.merged(&given, &known()).expect("merged");
        assert_eq!(
            merged.arguments(),
            [
                "Stage=prod",
                "ExecutorMode=sqs",
                "LogRetentionDays=90",
                "AlertEmail=oncall@example.com"
            ]
        );
        let unknown = [Parameters::parse_one("Stag=dev").expect("one")];
        let error = stage.merged(&unknown, &known()).expect_err("not the template's");
        assert!(
            error.to_string().starts_with("Stag is not a parameter of the template"),
            "{error}"
        );
        assert!(Parameters::parse_one("no-equals").is_err());
        assert_eq!(
            Parameters::parse_one("AlertEmail=").expect("an empty value"),
            ("AlertEmail".into(), String::new())
        );
    }
}
