//! MLflow's basic-auth credentials, from where a deployment keeps them: none (the local stack), given as
//! `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` (a container: ECS injects them from the secret when the
//! task starts), or a Secrets Manager secret named by `MLFLOW_CREDENTIALS_SECRET` (a function: read on first use and
//! kept for the instance's life, so the password is never in the function's configuration).

use serde::Deserialize;

use super::RegistryError;

/// Where an [`super::MlflowClient`] finds the credentials it sends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// MLflow needs none.
    #[default]
    None,
    /// Basic auth with these.
    Given { username: String, password: String },
    /// Basic auth with the JSON `{"username", "password"}` of this Secrets Manager secret (name or ARN).
    Secret(String),
}

impl Credentials {
    pub fn given(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Given {
            username: username.into(),
            password: password.into(),
        }
    }
}

/// A username and password, as the secret holds them.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"…")
            .finish()
    }
}

/// Reads `secret` (its current version) and parses it; SDK failures are transient, a secret without both fields
/// is not.
pub async fn read_secret(client: &aws_sdk_secretsmanager::Client, secret: &str) -> Result<BasicAuth, RegistryError> {
    let answer = client
        .get_secret_value()
        .secret_id(secret)
        // What a call without a stage reads on AWS, said: after a rotation moved the stage, moto answers the version
        // that was current when the secret was made or last put.
        .version_stage(crate::rotation::CURRENT)
        .send()
        .await
        .map_err(|error| RegistryError::Credentials {
            secret: secret.to_owned(),
            source: Box::new(error.into_service_error()),
        })?;
    let text = answer.secret_string().ok_or_else(|| RegistryError::Credentials {
        secret: secret.to_owned(),
        source: "the secret holds no string".into(),
    })?;
    parse(secret, text)
}

fn parse(secret: &str, text: &str) -> Result<BasicAuth, RegistryError> {
    let auth: BasicAuth = serde_json::from_str(text).map_err(|_| RegistryError::Credentials {
        secret: secret.to_owned(),
        // The parser's message could quote the password: say only what is wrong.
        source: r#"the secret is not JSON {"username": "...", "password": "..."}"#.into(),
    })?;
    if auth.username.is_empty() || auth.password.is_empty() {
        return Err(RegistryError::Credentials {
            secret: secret.to_owned(),
            source: "the secret's username or password is empty".into(),
        });
    }
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_a_username_and_a_password() {
        let auth = parse(
            "s",
            r#"{"username": "tradai", "password": "p4ss", "engine": "ignored"}"#,
        )
        .expect("parses");
        assert_eq!(auth.username, "tradai");
        assert_eq!(auth.password, "p4ss");
        assert!(!format!("{auth:?}").contains("p4ss"), "the password stays out of logs");
    }

    #[test]
    fn a_secret_without_both_fields_is_refused_without_quoting_it() {
        for text in [
            r#"{"username": "tradai"}"#,
            r#"{"username": "", "password": "x"}"#,
            "hunter2",
        ] {
            let error = parse("tradai/dev/mlflow", text).expect_err("refused");
            let message = format!("{error}: {}", std::error::Error::source(&error).expect("source"));
            assert!(message.contains("tradai/dev/mlflow"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
