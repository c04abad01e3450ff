//! POST /strategies: registers a release of a strategy (`tradai::registration`): the image checked in ECR, the base
//! config to the configs bucket, the task definition, the MLflow version with its tags, the alias moved.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::http::{ApiError, json_body, json_response, registry_error, respond};
use tradai::images::ImageRegistry;
use tradai::objects::ObjectStore;
use tradai::registration::{
    ModelRegistrar, Registered, RegistrationError, Release, TaskDefinitions, TaskShape, register,
};
use tradai::settings::{AwsSettings, Env, SettingsError};
use tradai::validation::parse_json;

/// What the function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aws: AwsSettings,
    pub mlflow: tradai::mlflow::MlflowOptions,
    /// `S3_CONFIG_BUCKET`: where base configs are written.
    pub config_bucket: String,
    /// `ECS_TASK_PREFIX` (default `strategy-`): the task definition family is this and the strategy's name.
    pub task_prefix: String,
    /// `STRATEGY_TASK_CPU` (default 1024), `STRATEGY_TASK_MEMORY` (MiB, default 2048), `STRATEGY_TASK_ROLE_ARN`,
    /// `STRATEGY_EXECUTION_ROLE_ARN`, `STRATEGY_LOG_GROUP`, `STRATEGY_MLFLOW_CREDENTIALS_SECRET` (the containers get
    /// its credentials from ECS: the strategy user's, not the function's), `AWS_REGION`.
    pub shape: TaskShape,
    /// `STRATEGY_MLFLOW_USERNAME`: the MLflow user strategy containers log in as, whose grants on a model are
    /// withdrawn when a version is registered into it.
    pub strategy_user: Option<String>,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let size = env.strategy_task_size()?;
        Ok(Self {
            aws: env.aws()?,
            mlflow: env.mlflow()?,
            config_bucket: env.bucket("S3_CONFIG_BUCKET")?,
            task_prefix: tradai::executor::task_prefix(env),
            shape: TaskShape {
                cpu: size.cpu,
                memory_mib: size.memory_mib,
                task_role_arn: env.optional("STRATEGY_TASK_ROLE_ARN"),
                execution_role_arn: env.optional("STRATEGY_EXECUTION_ROLE_ARN"),
                log_group: env.optional("STRATEGY_LOG_GROUP"),
                mlflow_credentials_secret: env.optional("STRATEGY_MLFLOW_CREDENTIALS_SECRET"),
                region: env.optional("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
            },
            strategy_user: env.optional("STRATEGY_MLFLOW_USERNAME"),
        })
    }
}

/// What the handler needs.
pub struct Deps<R, I, O, T> {
    pub registry: R,
    pub images: I,
    pub configs: O,
    pub tasks: T,
    pub task_prefix: String,
    pub strategy_user: Option<String>,
}

/// 201 with the version registered; 200 with the version of the same release registered before; 400 naming
/// the field (an image not in ECR is `image`); 503 when ECR, S3, ECS or MLflow does not answer.
pub async fn handle<R: ModelRegistrar, I: ImageRegistry, O: ObjectStore, T: TaskDefinitions>(
    deps: &Deps<R, I, O, T>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let release: Release = parse_json(json_body(&request)?).map_err(|errors| ApiError::validation(&errors))?;
        match register(
            &release,
            &deps.images,
            &deps.configs,
            &deps.tasks,
            &deps.registry,
            &deps.task_prefix,
            deps.strategy_user.as_deref(),
        )
        .await
        {
            Ok(registered) => Ok(answer(&registered)),
            Err(RegistrationError::Invalid(errors)) => Err(ApiError::validation(&errors)),
            Err(RegistrationError::Registry(error)) => Err(registry_error(&error, None)),
            Err(
                error @ (RegistrationError::Images(_) | RegistrationError::Objects(_) | RegistrationError::Tasks(_)),
            ) => Err(ApiError::unavailable(dependency(&error), &error)),
        }
    })
    .await
}

fn dependency(error: &RegistrationError) -> &'static str {
    match error {
        RegistrationError::Images(_) => "ECR",
        RegistrationError::Objects(_) => "S3",
        RegistrationError::Tasks(_) => "ECS",
        RegistrationError::Invalid(_) | RegistrationError::Registry(_) => "MLflow",
    }
}

fn answer(registered: &Registered) -> Response<Body> {
    let status = if registered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_response(status, registered)
}
