//! CheckDataFreshness: the run's pairs must have recent candles, unless the run says `allow_stale`
//! (`tradai::workflow::freshness`). Answers the state with `data_freshness` (the per-pair report) added.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use tradai::market_data::DataLocation;
use tradai::objects::ObjectStore;
use tradai::time::Timestamp;
use tradai::workflow::StepInput;
use tradai::workflow::freshness::{FreshnessCheck, check_data_freshness};

/// What the function reads from its environment: where the candles are.
pub type Settings = tradai::settings::MarketDataSettings;

/// What the step needs: the object store and where the candles are in it.
pub struct Deps<O> {
    pub objects: O,
    pub location: DataLocation,
}

/// Answers the state with `data_freshness` (the report) added.
pub async fn handle<O: ObjectStore>(deps: &Deps<O>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let state = StepInput::<FreshnessCheck>::parse(event.payload)?;
    let checked = check_data_freshness(&deps.objects, &deps.location, &state.input, Timestamp::now()).await?;
    Ok(state.answer(&checked)?)
}
