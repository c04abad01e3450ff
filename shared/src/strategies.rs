//! The service functions behind the strategy routes: list registered strategies, describe one.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::mlflow::{ModelRegistry, RegistryError, Strategy, StrategyVersion};

/// The page sizes a client may ask for.
pub const LIMITS: std::ops::RangeInclusive<u32> = 1..=100;
/// The page size when the client names none.
pub const DEFAULT_LIMIT: u32 = 50;

/// One page of strategies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrategyListing {
    pub strategies: Vec<Strategy>,
    pub next_cursor: Option<String>,
}

/// A strategy with every version, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrategyDetail {
    #[serde(flatten)]
    pub strategy: Strategy,
    pub versions: Vec<StrategyVersion>,
}

/// Up to `limit` strategies by name, continuing at `cursor` (MLflow's page token).
pub async fn list(
    registry: &impl ModelRegistry,
    limit: u32,
    cursor: Option<&str>,
) -> Result<StrategyListing, RegistryError> {
    let page = registry
        .list_strategies(limit.clamp(*LIMITS.start(), *LIMITS.end()), cursor)
        .await?;
    Ok(StrategyListing {
        strategies: page.strategies,
        next_cursor: page.next_page_token,
    })
}

/// Strategy `name` with its versions, each carrying the aliases that point at it.
pub async fn detail(registry: &impl ModelRegistry, name: &str) -> Result<Option<StrategyDetail>, RegistryError> {
    let Some(strategy) = registry.strategy(name).await? else {
        return Ok(None);
    };
    let mut versions = registry.versions(name).await?;
    let mut aliases_of: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (alias, version) in &strategy.aliases {
        aliases_of.entry(*version).or_default().push(alias.clone());
    }
    for version in &mut versions {
        version.aliases = aliases_of.remove(&version.version).unwrap_or_default();
    }
    Ok(Some(StrategyDetail { strategy, versions }))
}
