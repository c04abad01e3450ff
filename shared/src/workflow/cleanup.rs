//! CleanupResources: removes the run's temporary objects (`temp/{run_id}/` in the configs bucket). Idempotent: a
//! second run, or a run with nothing to remove, succeeds.

use serde::Serialize;

use super::state::RunRef;
use super::{ErrorType, StepError};
use crate::objects::ObjectStore;

/// What the step adds to the state.
#[derive(Debug, Serialize)]
pub struct Cleaned {
    pub cleanup: Cleanup,
}

/// What was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cleanup {
    pub deleted_objects: usize,
}

/// The errors this step raises.
pub const RAISES: &[ErrorType] = &[ErrorType::InvalidInput, ErrorType::TransientDependency];

/// Removes run `run`'s objects under `temp/{run_id}/` of `configs`.
pub async fn cleanup_resources(configs: &impl ObjectStore, run: &RunRef) -> Result<Cleaned, StepError> {
    let deleted_objects = configs
        .delete_prefix(&format!("temp/{}/", run.run_id))
        .await
        .map_err(|error| StepError::transient("removing the temporary objects", error))?;
    tracing::info!(run_id = %run.run_id, deleted_objects, "temporary objects removed");
    Ok(Cleaned {
        cleanup: Cleanup { deleted_objects },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::RunId;
    use crate::objects::MemoryObjects;

    #[tokio::test]
    async fn only_the_runs_own_objects_go_and_a_second_cleanup_finds_none() {
        let configs = MemoryObjects::new("configs");
        let (run, other) = (RunId::new(), RunId::new());
        for key in [
            format!("temp/{run}/config.yaml"),
            format!("temp/{run}/x/y"),
            format!("temp/{other}/config.yaml"),
        ] {
            configs.put(&key, b"{}".to_vec()).await.expect("put");
        }
        let run = RunRef { run_id: run };
        let deleted = || async {
            cleanup_resources(&configs, &run)
                .await
                .expect("cleaned")
                .cleanup
                .deleted_objects
        };
        assert_eq!(deleted().await, 2);
        assert_eq!(deleted().await, 0, "a second cleanup finds nothing");
        assert_eq!(configs.keys(), [format!("temp/{other}/config.yaml")]);
    }
}
