//! [`PasswordHolder`] for an MLflow basic-auth user: MLflow keeps its users' passwords in its own store, so a new
//! password is set there by the admin (`users/update-password`) before it becomes the secret's current one.

use crate::mlflow::credentials::BasicAuth;
use crate::mlflow::{Credentials, MlflowClient, MlflowOptions, ModelRegistry};

use super::{PasswordHolder, Source};

/// The MLflow user a secret holds the credentials of.
#[derive(Debug, Clone)]
pub struct MlflowUser {
    /// How to reach MLflow (the credentials are the step's own).
    options: MlflowOptions,
    /// Who sets the password: `None` when the secret is the admin's own (the current value then is the admin).
    admin: Option<BasicAuth>,
}

impl MlflowUser {
    /// The admin's own secret.
    pub fn admin(options: MlflowOptions) -> Self {
        Self { options, admin: None }
    }

    /// Another user's secret, whose password `admin` sets.
    pub fn set_by(options: MlflowOptions, admin: BasicAuth) -> Self {
        Self {
            options,
            admin: Some(admin),
        }
    }

    fn client(&self, auth: &BasicAuth) -> Result<MlflowClient, Source> {
        let mut options = self.options.clone();
        options.credentials = Credentials::given(&auth.username, &auth.password);
        Ok(MlflowClient::new(options)?)
    }
}

impl PasswordHolder for MlflowUser {
    fn name(&self) -> String {
        format!("MLflow at {}", self.options.tracking_uri)
    }

    async fn set(&self, current: &BasicAuth, pending: &BasicAuth) -> Result<(), Source> {
        // Set before (the step runs again): the admin's old password no longer works, the new one does.
        if self.test(pending).await.is_ok() {
            return Ok(());
        }
        let (admin, own) = match &self.admin {
            Some(admin) => (admin, None),
            None => (current, Some(current.password.as_str())),
        };
        Ok(self
            .client(admin)?
            .update_password(&pending.username, &pending.password, own)
            .await?)
    }

    async fn test(&self, pending: &BasicAuth) -> Result<(), Source> {
        // Every user may list the registry (the strategy user reads it): a 401 is a password that does not work.
        self.client(pending)?.list_strategies(1, None).await?;
        Ok(())
    }

    async fn finished(&self) -> Result<(), Source> {
        // Functions read the secret again on a 401, and MLflow takes the current value at its next start.
        Ok(())
    }
}
