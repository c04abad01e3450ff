//! [`SecretVersions`] over AWS Secrets Manager.

use super::{PENDING, RotationError, SecretVersions, Version, Versions};

/// Secrets Manager's versions of secrets.
#[derive(Debug, Clone)]
pub struct SecretsManagerVersions {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerVersions {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

fn failed<E>(secret: &str) -> impl FnOnce(E) -> RotationError + '_
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| RotationError::Secrets {
        secret: secret.to_owned(),
        source: Box::new(error),
    }
}

impl SecretVersions for SecretsManagerVersions {
    async fn versions(&self, secret: &str) -> Result<Versions, RotationError> {
        let described = self
            .client
            .describe_secret()
            .secret_id(secret)
            .send()
            .await
            .map_err(|error| failed(secret)(error.into_service_error()))?;
        Ok(Versions {
            rotation_enabled: described.rotation_enabled().unwrap_or(false),
            stages: described
                .version_ids_to_stages()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
    }

    async fn value(&self, secret: &str, version: Version<'_>) -> Result<Option<String>, RotationError> {
        let request = self.client.get_secret_value().secret_id(secret);
        let request = match version {
            Version::Stage(stage) => request.version_stage(stage),
            Version::Id(id) => request.version_id(id),
        };
        match request.send().await {
            Ok(answer) => Ok(answer.secret_string().map(str::to_owned)),
            Err(error) => {
                let error = error.into_service_error();
                if error.is_resource_not_found_exception() {
                    Ok(None)
                } else {
                    Err(RotationError::Secrets {
                        secret: secret.to_owned(),
                        source: Box::new(error),
                    })
                }
            }
        }
    }

    async fn random_password(&self) -> Result<String, RotationError> {
        self.client
            .get_random_password()
            .password_length(32)
            .exclude_punctuation(true)
            .send()
            .await
            .map_err(|error| failed("(a random password)")(error.into_service_error()))?
            .random_password
            .ok_or_else(|| RotationError::Secrets {
                secret: "(a random password)".to_owned(),
                source: "Secrets Manager answered no password".into(),
            })
    }

    async fn put_pending(&self, secret: &str, token: &str, value: &str) -> Result<(), RotationError> {
        self.client
            .put_secret_value()
            .secret_id(secret)
            .client_request_token(token)
            .secret_string(value)
            .version_stages(PENDING)
            .send()
            .await
            .map_err(|error| failed(secret)(error.into_service_error()))?;
        Ok(())
    }

    async fn make_current(&self, secret: &str, token: &str, from: Option<&str>) -> Result<(), RotationError> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret)
            .version_stage(super::CURRENT)
            .move_to_version_id(token)
            .set_remove_from_version_id(from.map(str::to_owned))
            .send()
            .await
            .map_err(|error| failed(secret)(error.into_service_error()))?;
        Ok(())
    }
}
