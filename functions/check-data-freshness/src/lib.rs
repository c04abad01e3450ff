//! CheckDataFreshness: the run's pairs must have recent candles (from the data files' Parquet footers), unless the
//! request says `allow_stale`. Stale or missing data fails the step with `StaleMarketData`, naming the pairs.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tradai::market_data::{
    DEFAULT_EXCHANGE, DEFAULT_MAX_AGE_HOURS, DataLocation, FreshnessRequest, ObjectStore, SymbolFreshness,
    check_freshness,
};
use tradai::time::Timestamp;
use tradai::workflow::{StepError, run_id_of};

/// What the step needs: the object store and where the candles are in it.
pub struct Deps<O> {
    pub objects: O,
    pub location: DataLocation,
}

/// The freshness question a workflow state asks: its pairs and timeframe, on its exchange, within its age limit.
fn question(state: &Value) -> Result<FreshnessRequest, StepError> {
    let config = state
        .get("config")
        .ok_or_else(|| StepError::invalid_input("the state has no config"))?;
    let body = json!({
        "symbols": config.get("symbols"),
        "timeframe": config.get("timeframe"),
        "exchange": state.get("exchange").and_then(Value::as_str).unwrap_or(DEFAULT_EXCHANGE),
        "max_age_hours": state.get("max_age_hours").and_then(Value::as_f64).unwrap_or(DEFAULT_MAX_AGE_HOURS),
    });
    FreshnessRequest::from_json(body.to_string().as_bytes())
        .map_err(|errors| StepError::invalid_input(format!("config: {errors}")))
}

/// Answers the state with `data_freshness` (the report) added.
pub async fn handle<O: ObjectStore>(deps: &Deps<O>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let mut state = event.payload;
    let run_id = run_id_of(&state)?;
    let question = question(&state)?;
    let allow_stale = state.get("allow_stale").and_then(Value::as_bool).unwrap_or(false);
    let report = check_freshness(&deps.objects, &deps.location, &question, Timestamp::now())
        .await
        .map_err(|error| StepError::transient("reading the market data", &error))?;
    if !report.all_fresh {
        let problems: Vec<String> = report
            .symbols
            .iter()
            .filter(|(_, answer)| !answer.is_fresh())
            .map(|(pair, answer)| match answer {
                SymbolFreshness::Known { age_hours, .. } => format!(
                    "{pair} last candle {} h old",
                    age_hours.map_or_else(|| "?".to_owned(), |age| format!("{age:.1}"))
                ),
                SymbolFreshness::Unknown { error, .. } => format!("{pair}: {error}"),
            })
            .collect();
        let message = format!(
            "stale market data (limit {} h): {}",
            question.max_age_hours,
            problems.join("; ")
        );
        if !allow_stale {
            return Err(StepError {
                name: "StaleMarketData",
                message,
            }
            .into());
        }
        tracing::warn!(%run_id, %message, "continuing on stale data: the request allows it");
    }
    if let Value::Object(fields) = &mut state {
        fields.insert(
            "data_freshness".to_owned(),
            serde_json::to_value(&report).unwrap_or(Value::Null),
        );
    }
    Ok(state)
}
