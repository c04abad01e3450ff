//! Rotating a password secret the way Secrets Manager asks a rotation function to: four steps, each called with the
//! secret and the new version's token (`ClientRequestToken`). `createSecret` makes the new version as `AWSPENDING`
//! (the same JSON with a new `password`); `setSecret` makes that password work where the old one does (a
//! [`PasswordHolder`]: MLflow's user store, the database); `testSecret` logs in with it; `finishSecret` makes it
//! `AWSCURRENT` and tells the holder. Secrets Manager may call a step again, and a step done before does nothing more
//! (`finishSecret` tells the holder again: what it does then must be safe to repeat).

mod mlflow;
mod secrets_manager;

use std::collections::BTreeMap;
use std::future::Future;

use serde::Deserialize;

use crate::mlflow::credentials::BasicAuth;

pub use mlflow::MlflowUser;
pub use secrets_manager::SecretsManagerVersions;

/// The stage of the version clients read.
pub const CURRENT: &str = "AWSCURRENT";
/// The stage of the version being rotated in.
pub const PENDING: &str = "AWSPENDING";

type Source = Box<dyn std::error::Error + Send + Sync>;

/// One of the four steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Step {
    #[serde(rename = "createSecret")]
    Create,
    #[serde(rename = "setSecret")]
    Set,
    #[serde(rename = "testSecret")]
    Test,
    #[serde(rename = "finishSecret")]
    Finish,
}

/// What Secrets Manager sends a rotation function.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RotationEvent {
    /// The secret's ARN.
    #[serde(rename = "SecretId")]
    pub secret_id: String,
    /// The version being rotated in.
    #[serde(rename = "ClientRequestToken")]
    pub token: String,
    #[serde(rename = "Step")]
    pub step: Step,
}

/// Why a step failed (Secrets Manager then marks the rotation failed and leaves `AWSCURRENT` as it was).
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("rotation is not enabled for secret {0}")]
    NotEnabled(String),
    #[error("secret {secret} has no version {token} to rotate in")]
    UnknownVersion { secret: String, token: String },
    #[error("version {token} of secret {secret} is not AWSPENDING")]
    NotPending { secret: String, token: String },
    #[error("secret {secret} is not JSON with a username and a password")]
    Malformed { secret: String },
    #[error("secret {0} is not one this function rotates")]
    UnknownSecret(String),
    #[error("Secrets Manager, secret {secret}")]
    Secrets {
        secret: String,
        #[source]
        source: Source,
    },
    #[error("{holder}: the new password could not be {action}")]
    Holder {
        holder: String,
        action: &'static str,
        #[source]
        source: Source,
    },
}

/// Which version of a secret to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version<'a> {
    /// The version with this stage.
    Stage(&'a str),
    /// The version with this id (a rotation's token).
    Id(&'a str),
}

/// A secret's versions: whether it rotates, and each version's stages by version id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions {
    pub rotation_enabled: bool,
    pub stages: BTreeMap<String, Vec<String>>,
}

impl Versions {
    fn has(&self, version: &str, stage: &str) -> bool {
        self.stages
            .get(version)
            .is_some_and(|stages| stages.iter().any(|s| s == stage))
    }

    /// The version holding `stage`, if one does.
    fn holding(&self, stage: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(version, _)| version.as_str())
    }
}

/// Where secrets and their versions are kept (Secrets Manager).
pub trait SecretVersions: Send + Sync {
    fn versions(&self, secret: &str) -> impl Future<Output = Result<Versions, RotationError>> + Send;

    /// The value of one version; `None` when it has none.
    fn value(
        &self,
        secret: &str,
        version: Version<'_>,
    ) -> impl Future<Output = Result<Option<String>, RotationError>> + Send;

    /// A new password: 32 letters and digits.
    fn random_password(&self) -> impl Future<Output = Result<String, RotationError>> + Send;

    /// Stores `value` as version `token`, staged `AWSPENDING`.
    fn put_pending(
        &self,
        secret: &str,
        token: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), RotationError>> + Send;

    /// Moves `AWSCURRENT` to version `token`, from version `from` (which then is `AWSPREVIOUS`).
    fn make_current(
        &self,
        secret: &str,
        token: &str,
        from: Option<&str>,
    ) -> impl Future<Output = Result<(), RotationError>> + Send;
}

/// Where a secret's password is also kept, which must learn the new one: a user store, a database.
pub trait PasswordHolder: Send + Sync {
    /// Its name, for errors.
    fn name(&self) -> String;

    /// Makes `pending` work; `current` is what works now. Called again after it succeeded, it succeeds.
    fn set(&self, current: &BasicAuth, pending: &BasicAuth) -> impl Future<Output = Result<(), Source>> + Send;

    /// Succeeds when `pending` works.
    fn test(&self, pending: &BasicAuth) -> impl Future<Output = Result<(), Source>> + Send;

    /// After `pending` became `AWSCURRENT`: whatever must follow it (a restart of what read the old one).
    fn finished(&self) -> impl Future<Output = Result<(), Source>> + Send;
}

/// Runs `event`'s step for the secret it names, whose password `holder` keeps.
pub async fn rotate(
    secrets: &impl SecretVersions,
    holder: &impl PasswordHolder,
    event: &RotationEvent,
) -> Result<(), RotationError> {
    let secret = event.secret_id.as_str();
    let token = event.token.as_str();
    let versions = secrets.versions(secret).await?;
    if !versions.rotation_enabled {
        return Err(RotationError::NotEnabled(secret.to_owned()));
    }
    let done = versions.has(token, CURRENT);
    match versions.stages.get(token) {
        // Secrets Manager stages the token before createSecret; whoever else starts a rotation may not.
        None if event.step != Step::Create => {
            return Err(RotationError::UnknownVersion {
                secret: secret.to_owned(),
                token: token.to_owned(),
            });
        }
        Some(_) if !done && !versions.has(token, PENDING) => {
            return Err(RotationError::NotPending {
                secret: secret.to_owned(),
                token: token.to_owned(),
            });
        }
        _ => {}
    }
    let holder_failed = |action: &'static str| {
        move |source| RotationError::Holder {
            holder: holder.name(),
            action,
            source,
        }
    };
    match event.step {
        // A version already current was rotated in before: only finishing is told again.
        Step::Create | Step::Set | Step::Test if done => Ok(()),
        Step::Create => {
            if secrets.value(secret, Version::Id(token)).await?.is_some() {
                return Ok(());
            }
            let current = value(secrets, secret, Version::Stage(CURRENT)).await?;
            let mut next: serde_json::Value = serde_json::from_str(&current).map_err(|_| malformed(secret))?;
            next["password"] = serde_json::Value::String(secrets.random_password().await?);
            secrets.put_pending(secret, token, &next.to_string()).await
        }
        Step::Set => {
            let current = credentials(secrets, secret, Version::Stage(CURRENT)).await?;
            let pending = credentials(secrets, secret, Version::Id(token)).await?;
            holder.set(&current, &pending).await.map_err(holder_failed("set"))
        }
        Step::Test => {
            let pending = credentials(secrets, secret, Version::Id(token)).await?;
            holder.test(&pending).await.map_err(holder_failed("used"))
        }
        Step::Finish => {
            if !done {
                secrets.make_current(secret, token, versions.holding(CURRENT)).await?;
            }
            holder.finished().await.map_err(holder_failed("put to use"))
        }
    }
}

fn malformed(secret: &str) -> RotationError {
    RotationError::Malformed {
        secret: secret.to_owned(),
    }
}

async fn value(secrets: &impl SecretVersions, secret: &str, version: Version<'_>) -> Result<String, RotationError> {
    secrets.value(secret, version).await?.ok_or_else(|| malformed(secret))
}

async fn credentials(
    secrets: &impl SecretVersions,
    secret: &str,
    version: Version<'_>,
) -> Result<BasicAuth, RotationError> {
    let text = value(secrets, secret, version).await?;
    let auth: BasicAuth = serde_json::from_str(&text).map_err(|_| malformed(secret))?;
    if auth.username.is_empty() || auth.password.is_empty() {
        return Err(malformed(secret));
    }
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A version's value and its stages.
    type Kept = (Option<String>, Vec<String>);

    /// Secret "s": version id → what it keeps.
    #[derive(Default)]
    struct Store {
        versions: Mutex<BTreeMap<String, Kept>>,
        enabled: bool,
    }

    impl Store {
        fn with_current(value: &str) -> Self {
            let store = Store {
                enabled: true,
                ..Store::default()
            };
            store
                .versions
                .lock()
                .expect("versions")
                .insert("v1".to_owned(), (Some(value.to_owned()), vec![CURRENT.to_owned()]));
            store
        }

        fn stage(&self, version: &str, stage: &str) {
            self.versions
                .lock()
                .expect("versions")
                .entry(version.to_owned())
                .or_default()
                .1
                .push(stage.to_owned());
        }

        fn at(&self, stage: &str) -> Option<String> {
            self.versions
                .lock()
                .expect("versions")
                .values()
                .find(|(_, stages)| stages.iter().any(|s| s == stage))
                .and_then(|(value, _)| value.clone())
        }
    }

    impl SecretVersions for Store {
        async fn versions(&self, _secret: &str) -> Result<Versions, RotationError> {
            Ok(Versions {
                rotation_enabled: self.enabled,
                stages: self
                    .versions
                    .lock()
                    .expect("versions")
                    .iter()
                    .map(|(id, (_, stages))| (id.clone(), stages.clone()))
                    .collect(),
            })
        }
        async fn value(&self, _secret: &str, version: Version<'_>) -> Result<Option<String>, RotationError> {
            Ok(match version {
                Version::Stage(stage) => self.at(stage),
                Version::Id(id) => self
                    .versions
                    .lock()
                    .expect("versions")
                    .get(id)
                    .and_then(|(v, _)| v.clone()),
            })
        }
        async fn random_password(&self) -> Result<String, RotationError> {
            Ok(format!("new-{}", self.versions.lock().expect("versions").len()))
        }
        async fn put_pending(&self, _secret: &str, token: &str, value: &str) -> Result<(), RotationError> {
            let mut versions = self.versions.lock().expect("versions");
            let entry = versions.entry(token.to_owned()).or_default();
            entry.0 = Some(value.to_owned());
            if !entry.1.iter().any(|s| s == PENDING) {
                entry.1.push(PENDING.to_owned());
            }
            Ok(())
        }
        async fn make_current(&self, _secret: &str, token: &str, from: Option<&str>) -> Result<(), RotationError> {
            let mut versions = self.versions.lock().expect("versions");
            if let Some(from) = from {
                versions.get_mut(from).expect("from").1 = vec!["AWSPREVIOUS".to_owned()];
            }
            versions.get_mut(token).expect("token").1 = vec![CURRENT.to_owned()];
            Ok(())
        }
    }

    /// Records what it was asked; `works` is the password it accepts.
    #[derive(Default)]
    struct Holder {
        calls: Mutex<Vec<String>>,
        works: Mutex<String>,
    }

    impl PasswordHolder for Holder {
        fn name(&self) -> String {
            "the holder".to_owned()
        }
        async fn set(&self, current: &BasicAuth, pending: &BasicAuth) -> Result<(), Source> {
            self.calls.lock().expect("calls").push(format!(
                "set {} {}→{}",
                pending.username, current.password, pending.password
            ));
            *self.works.lock().expect("works") = pending.password.clone();
            Ok(())
        }
        async fn test(&self, pending: &BasicAuth) -> Result<(), Source> {
            self.calls
                .lock()
                .expect("calls")
                .push(format!("test {}", pending.password));
            if *self.works.lock().expect("works") == pending.password {
                Ok(())
            } else {
                Err("refused".into())
            }
        }
        async fn finished(&self) -> Result<(), Source> {
            self.calls.lock().expect("calls").push("finished".to_owned());
            Ok(())
        }
    }

    fn event(step: Step) -> RotationEvent {
        RotationEvent {
            secret_id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:tradai/dev/mlflow-AbCdEf".to_owned(),
            token: "t2".to_owned(),
            step,
        }
    }

    #[tokio::test]
    async fn the_four_steps_put_a_new_password_where_it_is_kept_then_make_it_current_and_again_do_nothing_more() {
        let store = Store::with_current(r#"{"username": "tradai", "password": "old", "engine": "kept"}"#);
        store.stage("t2", PENDING);
        let holder = Holder::default();
        for step in [Step::Create, Step::Set, Step::Test, Step::Finish] {
            rotate(&store, &holder, &event(step)).await.expect("rotated");
        }
        let current: serde_json::Value = serde_json::from_str(&store.at(CURRENT).expect("current")).expect("JSON");
        assert_eq!(current["username"], "tradai");
        assert_eq!(current["engine"], "kept", "what else the secret holds is kept");
        assert_ne!(current["password"], "old");
        let new = current["password"].as_str().expect("password").to_owned();
        assert_eq!(
            store.at("AWSPREVIOUS").as_deref(),
            Some(r#"{"username": "tradai", "password": "old", "engine": "kept"}"#)
        );
        assert_eq!(
            *holder.calls.lock().expect("calls"),
            [
                format!("set tradai old→{new}"),
                format!("test {new}"),
                "finished".to_owned()
            ]
        );

        // Secrets Manager calls a step again: only finishing is repeated, and it moves nothing.
        for step in [Step::Create, Step::Set, Step::Test, Step::Finish] {
            rotate(&store, &holder, &event(step)).await.expect("again");
        }
        assert_eq!(holder.calls.lock().expect("calls").len(), 4, "only finished again");
        let again: serde_json::Value = serde_json::from_str(&store.at(CURRENT).expect("current")).expect("JSON");
        assert_eq!(again["password"], new.as_str());
    }

    #[tokio::test]
    async fn create_makes_the_pending_version_once() {
        let store = Store::with_current(r#"{"username": "tradai", "password": "old"}"#);
        rotate(&store, &Holder::default(), &event(Step::Create))
            .await
            .expect("made without a staged token");
        let first = store.at(PENDING).expect("pending");
        rotate(&store, &Holder::default(), &event(Step::Create))
            .await
            .expect("again");
        assert_eq!(store.at(PENDING), Some(first), "not a second password");
    }

    #[tokio::test]
    async fn a_step_for_a_version_that_is_not_pending_or_a_secret_that_does_not_rotate_is_refused() {
        let store = Store::with_current(r#"{"username": "tradai", "password": "old"}"#);
        let holder = Holder::default();
        assert!(matches!(
            rotate(&store, &holder, &event(Step::Set)).await,
            Err(RotationError::UnknownVersion { .. })
        ));
        store.stage("t2", "AWSPREVIOUS");
        assert!(matches!(
            rotate(&store, &holder, &event(Step::Test)).await,
            Err(RotationError::NotPending { .. })
        ));
        let off = Store {
            enabled: false,
            ..Store::default()
        };
        assert!(matches!(
            rotate(&off, &holder, &event(Step::Create)).await,
            Err(RotationError::NotEnabled(_))
        ));
        assert!(holder.calls.lock().expect("calls").is_empty());
    }

    #[tokio::test]
    async fn a_password_that_does_not_work_fails_the_test_and_nothing_becomes_current() {
        let store = Store::with_current(r#"{"username": "tradai", "password": "old"}"#);
        store.stage("t2", PENDING);
        let holder = Holder::default();
        rotate(&store, &holder, &event(Step::Create)).await.expect("created");
        let error = rotate(&store, &holder, &event(Step::Test))
            .await
            .expect_err("never set");
        assert_eq!(error.to_string(), "the holder: the new password could not be used");
        assert_eq!(
            store.at(CURRENT).as_deref(),
            Some(r#"{"username": "tradai", "password": "old"}"#)
        );
    }

    #[tokio::test]
    async fn a_secret_without_a_username_and_password_is_named_and_not_quoted() {
        let store = Store::with_current(r#"{"password": "hunter2"}"#);
        store.stage("t2", PENDING);
        store
            .put_pending("s", "t2", r#"{"password": "x"}"#)
            .await
            .expect("pending");
        let error = rotate(&store, &Holder::default(), &event(Step::Set))
            .await
            .expect_err("malformed");
        assert!(error.to_string().contains("tradai/dev/mlflow"), "{error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn secrets_managers_event_reads_as_a_step() {
        let event: RotationEvent = serde_json::from_str(
            r#"{"Step": "setSecret", "SecretId": "arn:s", "ClientRequestToken": "t", "RotationToken": "r"}"#,
        )
        .expect("reads");
        assert_eq!(event.step, Step::Set);
        assert_eq!((event.secret_id.as_str(), event.token.as_str()), ("arn:s", "t"));
    }
}
