//! GET /strategies/{name}: one registered strategy with its versions, aliases and tags.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tradai::backtest::validate_strategy_name;
use tradai::http::{ApiError, json_response, path_parameter, registry_error, respond};
use tradai::mlflow::ModelRegistry;
use tradai::strategies;

/// What the function reads from its environment: MLflow.
pub type Settings = tradai::settings::RegistrySettings;

/// What the handler needs: the model registry.
pub struct Deps<R> {
    pub registry: R,
}

/// 200 `{name, description, aliases, tags, latest_version, versions: [...]}`; 400 for a malformed name; 404 for
/// an unregistered one; 503 when MLflow is down.
pub async fn handle<R: ModelRegistry>(deps: &Deps<R>, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    respond(&request, async {
        let name = path_parameter(&request, "name")?;
        validate_strategy_name(&name).map_err(|message| ApiError::invalid_field("name", message))?;
        match strategies::detail(&deps.registry, &name).await {
            Ok(Some(detail)) => Ok(json_response(StatusCode::OK, &detail)),
            Ok(None) => Err(ApiError::not_found(format!("no strategy named {name} is registered"))),
            Err(error) => Err(registry_error(&error, None)),
        }
    })
    .await
}
