//! The MLflow REST adapter (`/api/2.0/mlflow/...`): timeouts, basic auth when credentials are set (or a secret names them), one retry of a
//! call that failed in transport or with a 5xx, and a circuit breaker so a dead MLflow costs nothing but a refusal.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::breaker::CircuitBreaker;
use super::credentials::{BasicAuth, Credentials, read_secret};
use super::{ModelRegistry, RegistryError, Strategy, StrategyPage, StrategyVersion};

/// How an [`MlflowClient`] reaches MLflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlflowOptions {
    /// Base URI, such as `http://mlflow.tradai.local:5000`.
    pub tracking_uri: String,
    /// Basic-auth credentials, or where to read them.
    pub credentials: Credentials,
    /// The longest one attempt may take.
    pub request_timeout: Duration,
    /// The longest connecting may take.
    pub connect_timeout: Duration,
    /// Attempts per call (at least 1); only transport failures and 5xx answers are tried again.
    pub attempts: u32,
    /// Failures in a row that open the circuit, and how long it stays open.
    pub breaker_threshold: u32,
    pub breaker_recovery: Duration,
}

impl MlflowOptions {
    /// Defaults fit for a function with a 10 s timeout.
    pub fn new(tracking_uri: impl Into<String>) -> Self {
        Self {
            tracking_uri: tracking_uri.into().trim_end_matches('/').to_owned(),
            credentials: Credentials::None,
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(1),
            attempts: 2,
            breaker_threshold: 5,
            breaker_recovery: Duration::from_secs(30),
        }
    }
}

/// MLflow's model registry over REST.
#[derive(Debug)]
pub struct MlflowClient {
    /// Built on first use: loading the platform's TLS roots costs ~2.5 ms, which a cold start need not pay.
    http: std::sync::OnceLock<reqwest::Client>,
    /// What a [`Credentials::Secret`] holds, read on the first call that needs it and again after MLflow refused
    /// it (the secret was rotated).
    secret: tokio::sync::RwLock<Option<BasicAuth>>,
    options: MlflowOptions,
    breaker: CircuitBreaker,
}

/// One REST call.
pub(super) enum Call<'a> {
    Get(&'a [(&'a str, &'a str)]),
    /// Not repeated: a create sent twice could make two.
    Post(&'a serde_json::Value),
    /// An upload to a fixed path: safe to repeat.
    Put(Vec<u8>),
    /// An update that sets what it names: safe to repeat.
    Patch(&'a serde_json::Value),
}

impl Call<'_> {
    fn repeatable(&self) -> bool {
        !matches!(self, Call::Post(_))
    }
}

/// One failed attempt, and whether trying again may help.
struct Attempt {
    error: RegistryError,
    transient: bool,
    /// MLflow answered 401: the credentials sent are not (or no longer) its.
    refused: bool,
}

impl MlflowClient {
    pub fn new(options: MlflowOptions) -> Result<Self, RegistryError> {
        if !options.tracking_uri.starts_with("http://") && !options.tracking_uri.starts_with("https://") {
            return Err(RegistryError::Rejected(format!(
                "{} is not an http(s) URI",
                options.tracking_uri
            )));
        }
        let breaker = CircuitBreaker::new(options.breaker_threshold, options.breaker_recovery);
        Ok(Self {
            http: std::sync::OnceLock::new(),
            secret: tokio::sync::RwLock::new(None),
            options,
            breaker,
        })
    }

    /// The HTTP client, built the first time it is needed.
    fn http(&self) -> Result<&reqwest::Client, RegistryError> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .timeout(self.options.request_timeout)
            .connect_timeout(self.options.connect_timeout)
            .build()
            .map_err(|error| RegistryError::Unreachable(Box::new(error)))?;
        Ok(self.http.get_or_init(|| client))
    }

    /// The username and password to send, if any; a secret is read on first use and kept until [`Self::forget`],
    /// with the SDK configured from the environment as every function's is.
    async fn basic_auth(&self) -> Result<Option<BasicAuth>, RegistryError> {
        match &self.options.credentials {
            Credentials::None => Ok(None),
            Credentials::Given { username, password } => Ok(Some(BasicAuth {
                username: username.clone(),
                password: password.clone(),
            })),
            Credentials::Secret(secret) => {
                if let Some(auth) = self.secret.read().await.as_ref() {
                    return Ok(Some(auth.clone()));
                }
                let mut kept = self.secret.write().await;
                if kept.is_none() {
                    // Boxed: the SDK's futures are deep, and every call of every client would carry them inline.
                    let read = Box::pin(async {
                        // As every client of the function is built: its timeouts, and its name as the caller.
                        let settings = crate::settings::AwsSettings {
                            app_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
                            ..crate::settings::AwsSettings::default()
                        };
                        let config = crate::aws::sdk_config(&settings).await;
                        read_secret(&aws_sdk_secretsmanager::Client::new(&config), secret).await
                    });
                    *kept = Some(read.await?);
                }
                Ok(kept.clone())
            }
        }
    }

    /// Drops the credentials read from a secret, so the next call reads it again; false when they are not a
    /// secret's (reading again would send the same).
    async fn forget(&self) -> bool {
        if !matches!(self.options.credentials, Credentials::Secret(_)) {
            return false;
        }
        *self.secret.write().await = None;
        true
    }

    /// Sets the password of basic-auth user `username`: as the admin, or as that user itself, which MLflow asks to
    /// repeat its `current` password.
    pub async fn update_password(
        &self,
        username: &str,
        password: &str,
        current: Option<&str>,
    ) -> Result<(), RegistryError> {
        let mut body = serde_json::json!({"username": username, "password": password});
        if let Some(current) = current {
            body["current_password"] = serde_json::json!(current);
        }
        let answer: Option<serde_json::Value> = self
            .call("/api/2.0/mlflow/users/update-password", &Call::Patch(&body))
            .await?;
        // MLflow without its auth app has no such route: there is no password to set, which is not done.
        answer
            .map(|_| ())
            .ok_or_else(|| RegistryError::Rejected(format!("MLflow has no user {username} (or no auth app)")))
    }

    /// The breaker, for inspection.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// GETs `path` with `query`; `Ok(None)` when MLflow says the resource does not exist.
    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<Option<T>, RegistryError> {
        self.call(path, &Call::Get(query)).await
    }

    /// Sends `call` to `path` through the circuit breaker, trying again after a transport failure or a 5xx when
    /// the call is safe to repeat.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        call: &Call<'_>,
    ) -> Result<Option<T>, RegistryError> {
        let permit = self.breaker.try_acquire(Instant::now())?;
        let attempts = if call.repeatable() {
            self.options.attempts.max(1)
        } else {
            1
        };
        let mut outcome = Err(Attempt {
            error: RegistryError::Rejected("no attempt made".into()),
            transient: false,
            refused: false,
        });
        let mut read_again = false;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(150 * u64::from(attempt))).await;
            }
            outcome = self.attempt(path, call).await;
            // Refused credentials from a secret were rotated since they were read: read it once more and send the
            // call again (a refused call did nothing, so a create is safe to send again too).
            if matches!(outcome, Err(Attempt { refused: true, .. })) && !read_again && self.forget().await {
                read_again = true;
                outcome = self.attempt(path, call).await;
            }
            match &outcome {
                Err(Attempt { transient: true, .. }) => continue,
                _ => break,
            }
        }
        // Only MLflow's own failures count against it; a 4xx is an answer.
        let healthy = !matches!(outcome, Err(Attempt { transient: true, .. }));
        self.breaker.record(permit, healthy, Instant::now());
        outcome.map_err(|attempt| attempt.error)
    }

    async fn attempt<T: DeserializeOwned>(&self, path: &str, call: &Call<'_>) -> Result<Option<T>, Attempt> {
        let url = format!("{}{path}", self.options.tracking_uri);
        let http = self.http().map_err(|error| Attempt {
            transient: false,
            refused: false,
            error,
        })?;
        let mut request = match call {
            Call::Get(query) => http.get(&url).query(query),
            Call::Post(body) => http.post(&url).json(body),
            Call::Put(bytes) => http.put(&url).body(bytes.clone()),
            Call::Patch(body) => http.patch(&url).json(body),
        };
        // A secret that cannot be read is not MLflow's failure: neither tried again nor held against its breaker.
        if let Some(auth) = self.basic_auth().await.map_err(|error| Attempt {
            transient: false,
            refused: false,
            error,
        })? {
            request = request.basic_auth(auth.username, Some(auth.password));
        }
        let response = request.send().await.map_err(|error| Attempt {
            transient: true,
            refused: false,
            error: if error.is_timeout() {
                RegistryError::Timeout(Box::new(error))
            } else {
                RegistryError::Unreachable(Box::new(error))
            },
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|error| Attempt {
            transient: true,
            refused: false,
            error: RegistryError::Unreachable(Box::new(error)),
        })?;
        if status.is_success() {
            if body.is_empty() {
                return serde_json::from_slice(b"{}").map(Some).map_err(|error| Attempt {
                    transient: false,
                    refused: false,
                    error: RegistryError::Malformed(Box::new(error)),
                });
            }
            return serde_json::from_slice(&body).map(Some).map_err(|error| Attempt {
                transient: false,
                refused: false,
                error: RegistryError::Malformed(Box::new(error)),
            });
        }
        let failure: MlflowError = serde_json::from_slice(&body).unwrap_or_default();
        // MLflow answers a missing alias with INVALID_PARAMETER_VALUE "... alias x not found".
        let missing_alias = failure.error_code == "INVALID_PARAMETER_VALUE" && failure.message.contains("not found");
        if status == StatusCode::NOT_FOUND || failure.error_code == "RESOURCE_DOES_NOT_EXIST" || missing_alias {
            return Ok(None);
        }
        let message = if failure.message.is_empty() {
            String::from_utf8_lossy(&body).chars().take(200).collect()
        } else {
            failure.message
        };
        if status.is_server_error() {
            Err(Attempt {
                transient: true,
                refused: false,
                error: RegistryError::Failed {
                    status: status.as_u16(),
                    message,
                },
            })
        } else {
            Err(Attempt {
                transient: false,
                refused: status == StatusCode::UNAUTHORIZED,
                error: RegistryError::Rejected(format!("{}: {message}", status.as_u16())),
            })
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct MlflowError {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct KeyValue {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct AliasEntry {
    alias: String,
    version: String,
}

#[derive(Debug, Deserialize)]
struct RawModel {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    creation_timestamp: i64,
    #[serde(default)]
    last_updated_timestamp: i64,
    #[serde(default)]
    latest_versions: Vec<RawVersion>,
    #[serde(default)]
    aliases: Vec<AliasEntry>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
struct RawVersion {
    name: String,
    version: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    current_stage: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    creation_timestamp: i64,
}

fn tags(list: Vec<KeyValue>) -> BTreeMap<String, String> {
    list.into_iter().map(|tag| (tag.key, tag.value)).collect()
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|text| !text.is_empty())
}

impl TryFrom<RawVersion> for StrategyVersion {
    type Error = RegistryError;

    fn try_from(raw: RawVersion) -> Result<Self, RegistryError> {
        let version = raw
            .version
            .parse()
            .map_err(|_| RegistryError::Malformed(format!("version {:?} is not a number", raw.version).into()))?;
        let mut tags = tags(raw.tags);
        // MLflow's deprecated stages still mark archived versions on older registries.
        if raw.current_stage.as_deref() == Some("Archived") {
            tags.entry("archived".to_owned()).or_insert_with(|| "true".to_owned());
        }
        Ok(StrategyVersion {
            name: raw.name,
            version,
            status: raw.status,
            aliases: raw.aliases,
            tags,
            run_id: non_empty(raw.run_id),
            source: non_empty(raw.source),
            description: non_empty(raw.description),
            created_at_ms: raw.creation_timestamp,
        })
    }
}

impl TryFrom<RawModel> for Strategy {
    type Error = RegistryError;

    fn try_from(raw: RawModel) -> Result<Self, RegistryError> {
        let aliases = raw
            .aliases
            .into_iter()
            .map(|entry| {
                let version = entry.version.parse().map_err(|_| {
                    RegistryError::Malformed(format!("alias {} points at {:?}", entry.alias, entry.version).into())
                })?;
                Ok((entry.alias, version))
            })
            .collect::<Result<BTreeMap<_, _>, RegistryError>>()?;
        let latest_version = raw
            .latest_versions
            .iter()
            .filter_map(|v| v.version.parse::<u32>().ok())
            .max();
        Ok(Strategy {
            name: raw.name,
            description: non_empty(raw.description),
            aliases,
            tags: tags(raw.tags),
            latest_version,
            created_at_ms: raw.creation_timestamp,
            updated_at_ms: raw.last_updated_timestamp,
        })
    }
}

#[derive(Deserialize)]
struct ModelSearch {
    #[serde(default)]
    registered_models: Vec<RawModel>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ModelAnswer {
    registered_model: RawModel,
}

#[derive(Deserialize)]
struct VersionSearch {
    #[serde(default)]
    model_versions: Vec<RawVersion>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct VersionAnswer {
    model_version: RawVersion,
}

/// MLflow's filter syntax quotes names in single quotes; a quote inside is doubled.
fn quoted(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

impl ModelRegistry for MlflowClient {
    async fn list_strategies(&self, max_results: u32, page_token: Option<&str>) -> Result<StrategyPage, RegistryError> {
        let max = max_results.clamp(1, 1000).to_string();
        let mut query = vec![("max_results", max.as_str()), ("order_by", "name ASC")];
        if let Some(token) = page_token {
            query.push(("page_token", token));
        }
        let answer: ModelSearch = self
            .get("/api/2.0/mlflow/registered-models/search", &query)
            .await?
            .ok_or_else(|| RegistryError::Rejected("the registry search is not available".into()))?;
        let strategies = answer
            .registered_models
            .into_iter()
            .map(Strategy::try_from)
            .collect::<Result<_, _>>()?;
        Ok(StrategyPage {
            strategies,
            next_page_token: non_empty(answer.next_page_token),
        })
    }

    async fn strategy(&self, name: &str) -> Result<Option<Strategy>, RegistryError> {
        let answer: Option<ModelAnswer> = self
            .get("/api/2.0/mlflow/registered-models/get", &[("name", name)])
            .await?;
        answer
            .map(|answer| Strategy::try_from(answer.registered_model))
            .transpose()
    }

    async fn versions(&self, name: &str) -> Result<Vec<StrategyVersion>, RegistryError> {
        let filter = format!("name={}", quoted(name));
        let mut versions = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "200")];
            if let Some(token) = &token {
                query.push(("page_token", token));
            }
            let answer: VersionSearch = self
                .get("/api/2.0/mlflow/model-versions/search", &query)
                .await?
                .ok_or_else(|| RegistryError::Rejected("the version search is not available".into()))?;
            for raw in answer.model_versions {
                versions.push(StrategyVersion::try_from(raw)?);
            }
            token = non_empty(answer.next_page_token);
            if token.is_none() {
                break;
            }
        }
        versions.sort_by_key(|version| std::cmp::Reverse(version.version));
        Ok(versions)
    }

    async fn version(&self, name: &str, version: u32) -> Result<Option<StrategyVersion>, RegistryError> {
        let number = version.to_string();
        let answer: Option<VersionAnswer> = self
            .get(
                "/api/2.0/mlflow/model-versions/get",
                &[("name", name), ("version", &number)],
            )
            .await?;
        answer
            .map(|answer| StrategyVersion::try_from(answer.model_version))
            .transpose()
    }

    async fn resolve_alias(&self, name: &str, alias: &str) -> Result<Option<StrategyVersion>, RegistryError> {
        let answer: Option<VersionAnswer> = self
            .get(
                "/api/2.0/mlflow/registered-models/alias",
                &[("name", name), ("alias", alias)],
            )
            .await?;
        answer
            .map(|answer| StrategyVersion::try_from(answer.model_version))
            .transpose()
    }

    async fn health(&self) -> Result<(), RegistryError> {
        let permit = self.breaker.try_acquire(Instant::now())?;
        let url = format!("{}/health", self.options.tracking_uri);
        let result = match self.http() {
            Ok(http) => http.get(&url).send().await,
            Err(error) => {
                self.breaker.record(permit, true, Instant::now());
                return Err(error);
            }
        };
        let outcome = match result {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(RegistryError::Failed {
                status: response.status().as_u16(),
                message: "health check".into(),
            }),
            Err(error) if error.is_timeout() => Err(RegistryError::Timeout(Box::new(error))),
            Err(error) => Err(RegistryError::Unreachable(Box::new(error))),
        };
        self.breaker.record(permit, outcome.is_ok(), Instant::now());
        outcome
    }
}

impl crate::registration::ModelRegistrar for MlflowClient {
    async fn ensure_model(&self, name: &str, description: Option<&str>) -> Result<(), RegistryError> {
        let mut body = serde_json::json!({"name": name});
        if let Some(description) = description {
            body["description"] = serde_json::json!(description);
        }
        let created: Result<Option<serde_json::Value>, RegistryError> = self
            .call("/api/2.0/mlflow/registered-models/create", &Call::Post(&body))
            .await;
        match created {
            Ok(_) => Ok(()),
            // MLflow answers RESOURCE_ALREADY_EXISTS: the model is there, which is what was asked.
            Err(RegistryError::Rejected(message)) if message.contains("already exists") => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn create_version(
        &self,
        name: &str,
        source: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<StrategyVersion, RegistryError> {
        let tags: Vec<serde_json::Value> = tags
            .iter()
            .map(|(key, value)| serde_json::json!({"key": key, "value": value}))
            .collect();
        let body = serde_json::json!({"name": name, "source": source, "tags": tags});
        let answer: VersionAnswer = self
            .call("/api/2.0/mlflow/model-versions/create", &Call::Post(&body))
            .await?
            .ok_or_else(|| RegistryError::Rejected(format!("no registered model {name}")))?;
        StrategyVersion::try_from(answer.model_version)
    }

    async fn set_alias(&self, name: &str, alias: &str, version: u32) -> Result<(), RegistryError> {
        let body = serde_json::json!({"name": name, "alias": alias, "version": version.to_string()});
        let _answer: Option<serde_json::Value> = self
            .call("/api/2.0/mlflow/registered-models/alias", &Call::Post(&body))
            .await?;
        Ok(())
    }

    /// MLflow's unified grants: a missing grant answers RESOURCE_DOES_NOT_EXIST, an MLflow without the auth app 404,
    /// both `Ok(None)` here: nothing to withdraw.
    async fn withdraw_grants(&self, name: &str, username: &str) -> Result<(), RegistryError> {
        let body = serde_json::json!({"username": username, "resource_type": "registered_model", "resource_id": name});
        let _answer: Option<serde_json::Value> = self
            .call("/api/3.0/mlflow/users/permissions/revoke", &Call::Post(&body))
            .await?;
        Ok(())
    }
}
