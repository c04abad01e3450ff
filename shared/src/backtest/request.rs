use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::RunId;
use crate::sweep::space::MAX_PARAMETERS;
use crate::sweep::{Combination, Parameter};
pub use crate::validation::{FieldError, ValidationErrors};
use crate::validation::{check, clip, json_kind, parse_json, required, symbols};

/// The largest `config_overrides` accepted, measured as compact JSON.
pub const MAX_OVERRIDES_BYTES: usize = 16 * 1024;
const MAX_NAME_CHARS: usize = 128;
/// The engine settings a backtest may vary in `config_overrides`, each with any value Freqtrade takes there: what
/// it trades with (stake, wallet, open trades), when it exits (stoploss, ROI, trailing stop, exit signals), what it
/// pays (fees, funding), what guards it (protections), how its orders fill (pricing, order types, the detail
/// timeframe) and how it adjusts positions. Anything else is refused by name: settings that move the engine's files,
/// load other code or configs, or reach outside the run (the exchange's keys and ccxt settings, pairlist plugins,
/// databases, API servers, message services), and every setting a later Freqtrade adds until it is judged here.
pub const OVERRIDABLE_SETTINGS: &[&str] = &[
    "amend_last_stake_amount",
    "amount_reserve_percent",
    "available_capital",
    "dry_run_wallet",
    "enable_protections",
    "entry_pricing",
    "exit_pricing",
    "exit_profit_offset",
    "exit_profit_only",
    "fee",
    "futures_funding_rate",
    "ignore_buying_expired_candle_after",
    "ignore_roi_if_entry_signal",
    "last_stake_amount_min_ratio",
    "liquidation_buffer",
    "max_entry_position_adjustment",
    "max_open_trades",
    "minimal_roi",
    "order_time_in_force",
    "order_types",
    "position_adjustment_enable",
    "protections",
    "stake_amount",
    "stoploss",
    "tradable_balance_ratio",
    "timeframe_detail",
    "trailing_only_offset_is_reached",
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "unfilledtimeout",
    "use_exit_signal",
];
/// Sections of the engine config of which a backtest may set only some keys: the exchange's name (whose candles and
/// markets snapshot it reads), never its keys, addresses or ccxt settings.
const OVERRIDABLE_SECTIONS: &[(&str, &[&str])] = &[("exchange", &["name"])];
const MAX_EXPERIMENT_CHARS: usize = 256;

/// A validated request to backtest one registered strategy version over a date range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestRequest {
    pub strategy_name: String,
    pub strategy_version: StrategyVersion,
    pub experiment_name: String,
    pub config: BacktestConfig,
}

/// What to backtest: candle size, pairs, the date range (whole UTC days, end exclusive as in Freqtrade's
/// timerange) and engine config overrides merged over the strategy's base config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestConfig {
    pub timeframe: Timeframe,
    pub symbols: Vec<Symbol>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config_overrides: Map<String, Value>,
    /// The strategy's hyperoptable parameters for this run (`{"buy_rsi": 30}`), loaded as Freqtrade loads a
    /// parameter file; ValidateStrategy checks them against what the version declares.
    #[serde(default, skip_serializing_if = "Combination::is_empty")]
    pub parameters: Combination,
    /// Search the strategy's parameters over the dates instead of backtesting fixed ones (a walk-forward's
    /// in-sample run). Set by a sweep, not by `POST /backtest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hyperopt: Option<Hyperopt>,
    /// Run with the best parameters that the hyperopt of run `parameters_from` found (a walk-forward's
    /// out-of-sample run); PrepareConfig reads them from that run's result. Set by a sweep, not by `POST /backtest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_from: Option<RunId>,
    /// Run the engine even when a COMPLETED run had the same inputs (the request's top-level `no_cache`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
    /// Run exactly the inputs run `rerun_of`'s manifest pins — its config, image digest and object versions —
    /// instead of planning them afresh. Set by `POST /backtest/{run_id}/rerun`, not by `POST /backtest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<RunId>,
}

/// How a hyperopt run searches: Freqtrade's `--epochs` and `--hyperopt-loss` over the strategy's buy and sell
/// spaces (the strategy container's `TRADING_MODE=hyperopt`). Its random state is derived from the run id, so a
/// repeated run searches the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hyperopt {
    pub epochs: u32,
    /// A loss class Freqtrade knows, such as `SharpeHyperOptLoss`.
    pub loss: String,
}

impl BacktestConfig {
    /// The range in Freqtrade's `--timerange` form, `YYYYMMDD-YYYYMMDD`.
    pub fn timerange(&self) -> String {
        format!(
            "{}-{}",
            self.start_date.format("%Y%m%d"),
            self.end_date.format("%Y%m%d")
        )
    }
}

/// A registered model version: a fixed number, or an alias (`production`, `staging`) resolved when the job starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StrategyVersion {
    Number(u32),
    Alias(String),
}

impl fmt::Display for StrategyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategyVersion::Number(number) => number.fmt(f),
            StrategyVersion::Alias(alias) => f.write_str(alias),
        }
    }
}

macro_rules! timeframes {
    ($($variant:ident = $text:literal),+ $(,)?) => {
        /// A candle size the engine knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum Timeframe { $($variant),+ }

        impl Timeframe {
            /// Every timeframe, shortest first.
            pub const ALL: &[Timeframe] = &[$(Timeframe::$variant),+];

            /// The engine's spelling, such as `5m` or `1d`.
            pub fn as_str(self) -> &'static str {
                match self { $(Timeframe::$variant => $text),+ }
            }
        }
    };
}

timeframes! {
    M1 = "1m", M3 = "3m", M5 = "5m", M15 = "15m", M30 = "30m",
    H1 = "1h", H2 = "2h", H4 = "4h", H6 = "6h", H8 = "8h", H12 = "12h",
    D1 = "1d", D3 = "3d", W1 = "1w", Mo1 = "1M",
}

impl Timeframe {
    /// How long one candle is (a month counted as 30 days).
    pub fn seconds(self) -> u64 {
        let text = self.as_str();
        let (count, unit) = text.split_at(text.len() - 1);
        let count: u64 = count.parse().unwrap_or(1);
        count
            * match unit {
                "m" => 60,
                "h" => 3_600,
                "d" => 86_400,
                "w" => 7 * 86_400,
                _ => 30 * 86_400,
            }
    }
}

impl TryFrom<String> for Timeframe {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Timeframe::ALL
            .iter()
            .copied()
            .find(|tf| tf.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<_> = Timeframe::ALL.iter().map(|tf| tf.as_str()).collect();
                format!(
                    "unknown timeframe {:?}; expected one of {}",
                    clip(&text),
                    known.join(", ")
                )
            })
    }
}

impl From<Timeframe> for String {
    fn from(tf: Timeframe) -> Self {
        tf.as_str().to_owned()
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A trading pair in the engine's notation: `BASE/QUOTE`, or `BASE/QUOTE:SETTLE` for futures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Symbol {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let asset = |part: &str| {
            (1..=20).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        };
        let (pair, settle) = match text.split_once(':') {
            Some((pair, settle)) => (pair, Some(settle)),
            None => (text.as_str(), None),
        };
        let valid = match pair.split_once('/') {
            Some((base, quote)) => asset(base) && asset(quote) && settle.is_none_or(asset),
            None => false,
        };
        if valid {
            Ok(Symbol(text))
        } else {
            Err(format!(
                "malformed symbol {:?}; expected upper-case BASE/QUOTE such as BTC/USDT (futures: BTC/USDT:USDT)",
                clip(&text)
            ))
        }
    }
}

impl From<Symbol> for String {
    fn from(symbol: Symbol) -> Self {
        symbol.0
    }
}

impl PartialEq<&str> for Symbol {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The body exactly as a client may send it; anything else is rejected by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    strategy_name: Option<String>,
    strategy_version: Option<Value>,
    experiment_name: Option<String>,
    config: Option<RawConfig>,
    no_cache: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    timeframe: Option<String>,
    symbols: Option<Vec<String>>,
    start_date: Option<String>,
    end_date: Option<String>,
    config_overrides: Option<Map<String, Value>>,
    parameters: Option<Map<String, Value>>,
}

impl BacktestRequest {
    /// Parses and validates a JSON body. `today` (UTC) bounds the date range: a backtest cannot reach the future.
    pub fn from_json(body: &[u8], today: NaiveDate) -> Result<Self, ValidationErrors> {
        let raw: RawRequest = parse_json(body)?;
        raw.validate(today)
    }
}

impl RawRequest {
    fn validate(self, today: NaiveDate) -> Result<BacktestRequest, ValidationErrors> {
        let mut errors = Vec::new();
        let strategy_name = required(&mut errors, "strategy_name", self.strategy_name)
            .and_then(|name| check(&mut errors, "strategy_name", strategy_name(name)));
        let strategy_version = required(&mut errors, "strategy_version", self.strategy_version)
            .and_then(|version| check(&mut errors, "strategy_version", strategy_version(version)));
        let experiment_name = self
            .experiment_name
            .map(|name| check(&mut errors, "experiment_name", experiment_name(name)))
            .unwrap_or_else(|| strategy_name.as_ref().map(|name| format!("backtests/{name}")));
        let config = required(&mut errors, "config", self.config)
            .and_then(|raw| raw.validate(&mut errors, today))
            .map(|config| BacktestConfig {
                no_cache: self.no_cache.unwrap_or(false),
                ..config
            });

        match (strategy_name, strategy_version, experiment_name, config) {
            (Some(strategy_name), Some(strategy_version), Some(experiment_name), Some(config)) if errors.is_empty() => {
                Ok(BacktestRequest {
                    strategy_name,
                    strategy_version,
                    experiment_name,
                    config,
                })
            }
            _ => Err(ValidationErrors(errors)),
        }
    }
}

impl RawConfig {
    fn validate(self, errors: &mut Vec<FieldError>, today: NaiveDate) -> Option<BacktestConfig> {
        let timeframe = required(errors, "config.timeframe", self.timeframe)
            .and_then(|text| check(errors, "config.timeframe", Timeframe::try_from(text)));
        let symbols =
            required(errors, "config.symbols", self.symbols).and_then(|list| symbols(errors, "config.symbols", list));
        let start_date = required(errors, "config.start_date", self.start_date)
            .and_then(|text| check(errors, "config.start_date", date(&text, today)));
        let end_date = required(errors, "config.end_date", self.end_date)
            .and_then(|text| check(errors, "config.end_date", date(&text, today)));
        if let (Some(start), Some(end)) = (start_date, end_date)
            && end <= start
        {
            errors.push(FieldError::new(
                "config.end_date",
                format!("end_date {end} must be after start_date {start}"),
            ));
        }
        let config_overrides = self.config_overrides.unwrap_or_default();
        check_overrides(errors, &config_overrides);
        let size = serde_json::to_vec(&config_overrides).map_or(usize::MAX, |json| json.len());
        if size > MAX_OVERRIDES_BYTES {
            errors.push(FieldError::new(
                "config.config_overrides",
                format!("config_overrides is {size} bytes of JSON; the limit is {MAX_OVERRIDES_BYTES}"),
            ));
        }
        let parameters = self
            .parameters
            .map(|given| strategy_parameters(errors, given))
            .unwrap_or_default();
        Some(BacktestConfig {
            timeframe: timeframe?,
            symbols: symbols?,
            start_date: start_date?,
            end_date: end_date?,
            config_overrides,
            parameters,
            hyperopt: None,
            parameters_from: None,
            no_cache: false,
            rerun_of: None,
        })
    }
}

/// The run's strategy parameters: hyperoptable ones by name, each a number, a boolean or a text (what Freqtrade's
/// parameter classes hold). The config settings a sweep may vary are config keys here, set in `config_overrides`.
fn strategy_parameters(errors: &mut Vec<FieldError>, given: Map<String, Value>) -> Combination {
    if given.len() > MAX_PARAMETERS {
        errors.push(FieldError::new(
            "config.parameters",
            format!("at most {MAX_PARAMETERS} parameters"),
        ));
        return Combination::new();
    }
    let mut parameters = Combination::new();
    for (name, value) in given {
        let field = format!("config.parameters.{name}");
        match Parameter::parse(&name) {
            Ok(Parameter::Config(_)) => errors.push(FieldError::new(
                field,
                format!("{name} is a config setting: set it in config.config_overrides"),
            )),
            Ok(parameter) => match value {
                Value::Number(_) | Value::Bool(_) | Value::String(_) => {
                    parameters.insert(parameter, value);
                }
                other => errors.push(FieldError::new(
                    field,
                    format!(
                        "{name} must be a number, a boolean or a text, not {}",
                        json_kind(&other)
                    ),
                )),
            },
            Err(message) => errors.push(FieldError::new(field, message)),
        }
    }
    parameters
}

/// Refuses every override that is not a setting a backtest may vary ([`OVERRIDABLE_SETTINGS`], and in
/// [`OVERRIDABLE_SECTIONS`] only the keys listed), naming each, and an exchange name that is not a lower-case
/// identifier (it becomes a path and an S3 key).
fn check_overrides(errors: &mut Vec<FieldError>, overrides: &Map<String, Value>) {
    let refuse = |errors: &mut Vec<FieldError>, path: String, allowed: &[&str]| {
        let message = format!(
            "config_overrides may not set {path}: a backtest may vary only {}",
            allowed.join(", ")
        );
        errors.push(FieldError::new(format!("config.config_overrides.{path}"), message));
    };
    for (key, value) in overrides {
        if OVERRIDABLE_SETTINGS.contains(&key.as_str()) {
            continue;
        }
        match OVERRIDABLE_SECTIONS.iter().find(|(section, _)| section == key) {
            Some((_, keys)) => match value.as_object() {
                Some(section) => {
                    for inner in section.keys().filter(|inner| !keys.contains(&inner.as_str())) {
                        refuse(errors, format!("{key}.{inner}"), keys);
                    }
                }
                None => errors.push(FieldError::new(
                    format!("config.config_overrides.{key}"),
                    format!("{key} must be an object, not {}", json_kind(value)),
                )),
            },
            None => refuse(errors, key.clone(), OVERRIDABLE_SETTINGS),
        }
    }
    if let Some(name) = overrides.get("exchange").and_then(|exchange| exchange.get("name")) {
        let valid = name.as_str().is_some_and(|name| {
            (1..=32).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        if !valid {
            errors.push(FieldError::new(
                "config.config_overrides.exchange.name",
                "exchange.name must be a lower-case exchange id such as binance",
            ));
        }
    }
}

/// Checks a strategy name: a letter, then letters, digits, `_` and `-`, at most 128 characters.
pub fn validate_strategy_name(name: &str) -> Result<(), String> {
    strategy_name(name.to_owned()).map(|_| ())
}

fn strategy_name(name: String) -> Result<String, String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= MAX_NAME_CHARS;
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "strategy_name {:?} must start with a letter and hold only letters, digits, '_' and '-', \
             at most {MAX_NAME_CHARS} characters",
            clip(&name)
        ))
    }
}

fn strategy_version(value: Value) -> Result<StrategyVersion, String> {
    let alias_hint = "strategy_version must be a version number (1, 2, ...) or an alias such as \"production\"";
    match value {
        Value::Number(number) => number
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n >= 1)
            .map(StrategyVersion::Number)
            .ok_or_else(|| format!("{alias_hint}, got {number}")),
        Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .map(StrategyVersion::Number)
            .ok_or_else(|| format!("{alias_hint}, got {:?}", clip(&text))),
        Value::String(text) => {
            let mut chars = text.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && text.len() <= MAX_NAME_CHARS;
            if valid {
                Ok(StrategyVersion::Alias(text))
            } else {
                Err(format!("{alias_hint}, got {:?}", clip(&text)))
            }
        }
        other => Err(format!("{alias_hint}, got {}", json_kind(&other))),
    }
}

fn experiment_name(name: String) -> Result<String, String> {
    if name.trim().is_empty() || name.chars().count() > MAX_EXPERIMENT_CHARS || name.chars().any(char::is_control) {
        Err(format!(
            "experiment_name must be 1 to {MAX_EXPERIMENT_CHARS} printable characters, got {:?}",
            clip(&name)
        ))
    } else {
        Ok(name)
    }
}

fn date(text: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| format!("{:?} is not a date in YYYY-MM-DD form", clip(text)))?;
    if date > today {
        return Err(format!("{date} is in the future (today is {today} UTC)"));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).expect("valid date")
    }

    fn valid() -> Value {
        json!({
            "strategy_name": "EmaCross",
            "strategy_version": 3,
            "config": {
                "timeframe": "5m",
                "symbols": ["BTC/USDT", "ETH/USDT"],
                "start_date": "2026-01-01",
                "end_date": "2026-03-01"
            }
        })
    }

    fn parse(body: &Value) -> Result<BacktestRequest, ValidationErrors> {
        BacktestRequest::from_json(body.to_string().as_bytes(), today())
    }

    fn rejected_fields(body: &Value) -> Vec<String> {
        match parse(body) {
            Ok(request) => panic!("accepted {request:?}"),
            Err(errors) => errors.errors().iter().map(|e| e.field.clone()).collect(),
        }
    }

    #[test]
    fn accepts_a_valid_request_and_defaults_the_experiment() {
        let request = parse(&valid()).expect("valid");
        assert_eq!(request.strategy_name, "EmaCross");
        assert_eq!(request.strategy_version, StrategyVersion::Number(3));
        assert_eq!(request.experiment_name, "backtests/EmaCross");
        assert_eq!(request.config.timeframe, Timeframe::M5);
        assert_eq!(request.config.timerange(), "20260101-20260301");
    }

    #[test]
    fn accepts_an_alias_or_a_numeric_string_as_version() {
        let mut body = valid();
        body["strategy_version"] = json!("production");
        assert_eq!(
            parse(&body).expect("alias").strategy_version,
            StrategyVersion::Alias("production".into())
        );
        body["strategy_version"] = json!("7");
        assert_eq!(
            parse(&body).expect("number").strategy_version,
            StrategyVersion::Number(7)
        );
    }

    #[test]
    fn strategy_parameters_are_hyperoptable_scalars_and_survive_a_round_trip() {
        let mut body = valid();
        body["config"]["parameters"] = json!({"buy_ema_fast": 8, "buy.trend": "ema", "sell_on": true});
        let request = parse(&body).expect("valid parameters");
        let names: Vec<String> = request.config.parameters.keys().map(ToString::to_string).collect();
        assert_eq!(names, ["buy_ema_fast", "buy.trend", "sell_on"], "by space, then name");
        let stored = serde_json::to_value(&request).expect("JSON");
        assert_eq!(stored["config"]["parameters"]["buy_ema_fast"], json!(8));
        let read: BacktestRequest = serde_json::from_value(stored).expect("read back");
        assert_eq!(read, request);
        let without = serde_json::to_value(parse(&valid()).expect("valid")).expect("JSON");
        assert!(without["config"].get("parameters").is_none(), "no parameters, no field");

        body["config"]["parameters"] = json!({"stoploss": -0.1, "buy_rsi": [1], "rsi": 3});
        assert_eq!(
            rejected_fields(&body),
            [
                "config.parameters.buy_rsi",
                "config.parameters.rsi",
                "config.parameters.stoploss"
            ]
        );
    }

    #[test]
    fn rejects_request_with_end_before_start() {
        let mut body = valid();
        body["config"]["end_date"] = json!("2025-12-31");
        assert_eq!(rejected_fields(&body), ["config.end_date"]);
    }

    #[test]
    fn rejects_dates_in_the_future() {
        let mut body = valid();
        body["config"]["end_date"] = json!("2026-06-02");
        assert_eq!(rejected_fields(&body), ["config.end_date"]);
    }

    #[test]
    fn rejects_unknown_timeframe() {
        let mut body = valid();
        body["config"]["timeframe"] = json!("7m");
        assert_eq!(rejected_fields(&body), ["config.timeframe"]);
    }

    #[test]
    fn rejects_empty_duplicate_and_malformed_symbols() {
        let mut body = valid();
        body["config"]["symbols"] = json!([]);
        assert_eq!(rejected_fields(&body), ["config.symbols"]);
        body["config"]["symbols"] = json!(["BTC/USDT", "btc-usdt", "BTC/USDT"]);
        assert_eq!(rejected_fields(&body), ["config.symbols[1]", "config.symbols[2]"]);
        body["config"]["symbols"] = json!(["BTC/USDT:USDT"]);
        assert!(parse(&body).is_ok());
    }

    #[test]
    fn rejects_unknown_fields_by_name() {
        let mut body = valid();
        body["priority"] = json!(1);
        assert_eq!(rejected_fields(&body), ["priority"]);
        let mut body = valid();
        body["config"]["leverage"] = json!(3);
        assert_eq!(rejected_fields(&body), ["config.leverage"]);
    }

    #[test]
    fn rejects_oversized_overrides() {
        let mut body = valid();
        body["config"]["config_overrides"] = json!({"protections": [{"method": "x".repeat(MAX_OVERRIDES_BYTES)}]});
        assert_eq!(rejected_fields(&body), ["config.config_overrides"]);
    }

    #[test]
    fn names_every_missing_field() {
        assert_eq!(
            rejected_fields(&json!({})),
            ["strategy_name", "strategy_version", "config"]
        );
        let body = json!({"strategy_name": "S", "strategy_version": 1, "config": {}});
        assert_eq!(
            rejected_fields(&body),
            [
                "config.timeframe",
                "config.symbols",
                "config.start_date",
                "config.end_date"
            ]
        );
    }

    #[test]
    fn names_fields_of_the_wrong_type() {
        let mut body = valid();
        body["config"]["symbols"] = json!("BTC/USDT");
        assert_eq!(rejected_fields(&body), ["config.symbols"]);
        let mut body = valid();
        body["strategy_version"] = json!(0);
        assert_eq!(rejected_fields(&body), ["strategy_version"]);
    }

    #[test]
    fn a_body_that_is_not_json_is_named_body() {
        let errors = BacktestRequest::from_json(b"{not json", today()).expect_err("rejected");
        assert_eq!(errors.errors()[0].field, "body");
        let errors = BacktestRequest::from_json(b"[1]", today()).expect_err("rejected");
        assert_eq!(errors.errors()[0].field, "body");
    }

    #[test]
    fn a_validated_request_survives_a_round_trip_through_json() {
        let mut body = valid();
        body["config"]["config_overrides"] = json!({"max_open_trades": 3});
        let request = parse(&body).expect("valid");
        let text = serde_json::to_string(&request).expect("serializes");
        let back: BacktestRequest = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, request);
    }

    #[test]
    fn only_the_settings_a_backtest_may_vary_are_overridden_and_each_other_is_refused_by_name() {
        let mut body = valid();
        body["config"]["config_overrides"] = json!({"strategy_path": "/tmp", "db_url": "sqlite:////x",
            "exchange": {"name": "binance", "key": "k", "ccxt_config": {"proxies": {"http": "http://elsewhere"}}},
            "pairlists": [{"method": "RemotePairList", "pairlist_url": "https://example.com"}],
            "a_setting_freqtrade_adds_next_year": true, "stake_amount": 100});
        assert_eq!(
            rejected_fields(&body),
            [
                "config.config_overrides.a_setting_freqtrade_adds_next_year",
                "config.config_overrides.db_url",
                "config.config_overrides.exchange.ccxt_config",
                "config.config_overrides.exchange.key",
                "config.config_overrides.pairlists",
                "config.config_overrides.strategy_path",
            ]
        );
        let refused = parse(&body).expect_err("refused");
        let message = refused.to_string();
        assert!(
            message.contains("may not set pairlists: a backtest may vary only amend_last_stake_amount"),
            "the message says what may be set: {message}"
        );
        for name in [json!("Binance"), json!("../binance"), json!(7), json!("")] {
            body["config"]["config_overrides"] = json!({"exchange": {"name": name}});
            assert_eq!(
                rejected_fields(&body),
                ["config.config_overrides.exchange.name"],
                "{name}"
            );
        }
        body["config"]["config_overrides"] = json!({"exchange": "binance"});
        assert_eq!(rejected_fields(&body), ["config.config_overrides.exchange"]);
        body["config"]["config_overrides"] = json!({"exchange": {"name": "kraken"}, "max_open_trades": 3,
            "stake_amount": "unlimited", "dry_run_wallet": 5000, "stoploss": -0.08, "minimal_roi": {"0": 0.04},
            "trailing_stop": true, "fee": 0.001, "timeframe_detail": "1m",
            "protections": [{"method": "CooldownPeriod", "stop_duration_candles": 2}]});
        assert!(parse(&body).is_ok(), "what a backtest varies is fine");
    }

    #[test]
    fn every_config_setting_a_sweep_varies_may_be_overridden() {
        for name in crate::sweep::parameters::CONFIG_SETTINGS {
            assert!(OVERRIDABLE_SETTINGS.contains(name), "{name}");
        }
    }
}
