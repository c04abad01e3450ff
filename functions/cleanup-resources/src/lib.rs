//! CleanupResources: removes the run's temporary objects (`temp/{run_id}/` in the configs bucket). Idempotent: a
//! second run, or a run with nothing to remove, succeeds.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tradai::market_data::S3Objects;
use tradai::workflow::{StepError, run_id_of};

/// What the step needs: the configs bucket.
pub struct Deps {
    pub configs: S3Objects,
}

/// Answers the state with `cleanup: {deleted_objects}` added.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let mut state = event.payload;
    let run_id = run_id_of(&state)?;
    let deleted = deps
        .configs
        .delete_prefix(&format!("temp/{run_id}/"))
        .await
        .map_err(|error| StepError::transient("removing the temporary objects", &error))?;
    tracing::info!(%run_id, deleted, "temporary objects removed");
    if let Value::Object(fields) = &mut state {
        fields.insert("cleanup".to_owned(), json!({ "deleted_objects": deleted }));
    }
    Ok(state)
}
