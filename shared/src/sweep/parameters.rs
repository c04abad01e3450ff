//! How one combination's values reach a Freqtrade strategy, never by editing its code.
//!
//! A hyperoptable parameter (`IntParameter`, `DecimalParameter`, … of a space such as `buy`) is read from the
//! strategy's parameter file, `<Strategy>.json` beside the strategy file, whose values win over the strategy's
//! `buy_params` and defaults. The settings Freqtrade also takes from the parameter file — `stoploss`,
//! `max_open_trades` and the trailing stop — lose to the run's config when it sets them, so those are set as config
//! keys instead, where nothing can override them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The spaces Freqtrade gives a parameter from its name's prefix when the strategy names none (`buy_rsi` → `buy`).
const AUTO_SPACES: &[&str] = &["buy", "sell", "enter", "exit", "protection"];
/// Settings a sweep sets as config keys.
pub const CONFIG_SETTINGS: &[&str] = &[
    "stoploss",
    "max_open_trades",
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached",
];
/// Spaces that are not a section of hyperoptable parameters: Freqtrade's own words, and `roi`, a table that a sweep
/// sets through `config_overrides.minimal_roi` instead.
const RESERVED_SPACES: &[&str] = &["all", "default", "roi", "stoploss", "trailing", "max_open_trades"];
const MAX_NAME_CHARS: usize = 64;

/// A strategy parameter a sweep varies: a hyperoptable parameter of a space, or one of the config settings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Parameter {
    /// A hyperoptable parameter: its space (a section of the parameter file) and its attribute name.
    Hyperoptable { space: String, name: String },
    /// `stoploss`, `max_open_trades` or a trailing-stop setting: a key of the run's config.
    Config(String),
}

impl Parameter {
    /// The name as a request writes it: `buy_rsi` (space from the prefix), `buy.rsi` (space given) or `stoploss`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if CONFIG_SETTINGS.contains(&text) {
            return Ok(Self::Config(text.to_owned()));
        }
        let (space, name) = match text.split_once('.') {
            Some((space, name)) => (space, name),
            None => match AUTO_SPACES.iter().find(|space| text.starts_with(&format!("{space}_"))) {
                Some(space) => (*space, text),
                None => {
                    return Err(format!(
                        "{text:?} names no space: write it space.name (such as buy.{text}) or give it a prefix \
                         Freqtrade reads as its space ({}_)",
                        AUTO_SPACES.join("_, ")
                    ));
                }
            },
        };
        if !is_identifier(space) || !is_identifier(name) {
            return Err(format!(
                "{text:?} is not a parameter name: a space and an attribute, each a letter or _ then letters, \
                 digits and _, at most {MAX_NAME_CHARS} characters"
            ));
        }
        if RESERVED_SPACES.contains(&space) {
            return Err(format!(
                "{space:?} is not a space of hyperoptable parameters; set stoploss, max_open_trades and the trailing \
                 stop by their own names, and the ROI table through config_overrides.minimal_roi"
            ));
        }
        Ok(Self::Hyperoptable {
            space: space.to_owned(),
            name: name.to_owned(),
        })
    }

    /// A parameter as a hyperopt result names it, `<space>.<name>` by the parameter file's sections: the
    /// hyperoptable spaces as [`Parameter::parse`] reads them, and `stoploss.stoploss`, `trailing.<setting>` and
    /// `max_open_trades.max_open_trades` as the config settings they are. The ROI table is not a parameter here.
    pub fn from_hyperopt(text: &str) -> Result<Self, String> {
        match text.split_once('.') {
            Some((space @ ("stoploss" | "max_open_trades"), name)) if name == space => {
                Ok(Self::Config(name.to_owned()))
            }
            Some(("trailing", name)) if name.starts_with("trailing_") && CONFIG_SETTINGS.contains(&name) => {
                Ok(Self::Config(name.to_owned()))
            }
            _ => Self::parse(text),
        }
    }
}

impl TryFrom<String> for Parameter {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<Parameter> for String {
    fn from(parameter: Parameter) -> Self {
        parameter.to_string()
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hyperoptable { space, name }
                if AUTO_SPACES.contains(&space.as_str()) && name.starts_with(&format!("{space}_")) =>
            {
                f.write_str(name)
            }
            Self::Hyperoptable { space, name } => write!(f, "{space}.{name}"),
            Self::Config(name) => f.write_str(name),
        }
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    text.len() <= MAX_NAME_CHARS
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !text.starts_with("__")
}

/// One combination as the strategy receives it: the parameter file and the config keys.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyParameters {
    /// `<Strategy>.json`, in Freqtrade's parameter-file format; `None` when no hyperoptable parameter is set.
    pub file: Option<Value>,
    /// Config keys merged over the run's config (`stoploss`, `max_open_trades`, the trailing stop).
    pub config: Map<String, Value>,
}

impl StrategyParameters {
    /// Splits `values` for the strategy class `strategy` (the parameter file names the class it belongs to, and
    /// Freqtrade refuses a file that names another).
    pub fn new(strategy: &str, values: &BTreeMap<Parameter, Value>) -> Self {
        let mut spaces: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
        let mut config = Map::new();
        for (parameter, value) in values {
            match parameter {
                Parameter::Hyperoptable { space, name } => {
                    spaces.entry(space).or_default().insert(name.clone(), value.clone());
                }
                Parameter::Config(name) => {
                    config.insert(name.clone(), value.clone());
                }
            }
        }
        let file = (!spaces.is_empty()).then(|| {
            json!({
                "strategy_name": strategy,
                "params": spaces,
                "ft_stratparam_v": 1,
            })
        });
        Self { file, config }
    }

    /// The parameter file's name beside a strategy file of class `strategy`.
    pub fn file_name(strategy: &str) -> String {
        format!("{strategy}.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(text: &str) -> Parameter {
        Parameter::parse(text).expect("a valid parameter name")
    }

    #[test]
    fn a_prefix_names_the_space_and_a_dot_names_any_other() {
        assert_eq!(
            parameter("buy_rsi"),
            Parameter::Hyperoptable {
                space: "buy".into(),
                name: "buy_rsi".into()
            }
        );
        assert_eq!(
            parameter("buy.wavelength"),
            Parameter::Hyperoptable {
                space: "buy".into(),
                name: "wavelength".into()
            }
        );
        assert_eq!(
            parameter("custom.window"),
            Parameter::Hyperoptable {
                space: "custom".into(),
                name: "window".into()
            }
        );
        assert_eq!(parameter("stoploss"), Parameter::Config("stoploss".into()));
        assert_eq!(parameter("buy_rsi").to_string(), "buy_rsi");
        assert_eq!(parameter("buy.wavelength").to_string(), "buy.wavelength");
    }

    #[test]
    fn names_freqtrade_could_not_place_are_refused_with_the_rule() {
        for (text, says) in [
            ("rsi", "names no space"),
            ("buyrsi", "names no space"),
            ("buy.", "not a parameter name"),
            ("buy.1x", "not a parameter name"),
            ("buy.__class__", "not a parameter name"),
            ("a.b.c", "not a parameter name"),
            ("roi.0", "not a parameter name"),
            ("roi.t0", "minimal_roi"),
            ("all.x", "not a space"),
            ("stoploss.stoploss", "by their own names"),
        ] {
            let error = Parameter::parse(text).expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn hyperoptable_values_go_to_the_file_by_space_and_settings_to_the_config() {
        let values = BTreeMap::from([
            (parameter("buy_rsi"), json!(30)),
            (parameter("buy.wavelength"), json!(8)),
            (parameter("sell_rsi"), json!(70)),
            (parameter("stoploss"), json!(-0.05)),
            (parameter("trailing_stop"), json!(true)),
        ]);
        let parameters = StrategyParameters::new("SampleStrategy", &values);
        assert_eq!(
            parameters.file,
            Some(json!({
                "strategy_name": "SampleStrategy",
                "params": {"buy": {"buy_rsi": 30, "wavelength": 8}, "sell": {"sell_rsi": 70}},
                "ft_stratparam_v": 1,
            }))
        );
        assert_eq!(
            Value::Object(parameters.config),
            json!({"stoploss": -0.05, "trailing_stop": true})
        );
        assert_eq!(StrategyParameters::file_name("SampleStrategy"), "SampleStrategy.json");
    }

    #[test]
    fn a_hyperopt_results_names_read_as_parameters_and_settings() {
        for (text, expected) in [
            ("buy.buy_ema_fast", parameter("buy_ema_fast")),
            ("sell.threshold", parameter("sell.threshold")),
            ("stoploss.stoploss", parameter("stoploss")),
            ("trailing.trailing_stop_positive", parameter("trailing_stop_positive")),
            ("max_open_trades.max_open_trades", parameter("max_open_trades")),
        ] {
            assert_eq!(Parameter::from_hyperopt(text), Ok(expected), "{text}");
        }
        for text in ["roi.0", "trailing.stoploss", "stoploss.max_open_trades"] {
            assert!(Parameter::from_hyperopt(text).is_err(), "{text}");
        }
    }

    #[test]
    fn only_settings_write_no_parameter_file() {
        let values = BTreeMap::from([(parameter("max_open_trades"), json!(3))]);
        let parameters = StrategyParameters::new("SampleStrategy", &values);
        assert_eq!(parameters.file, None);
        assert_eq!(Value::Object(parameters.config), json!({"max_open_trades": 3}));
    }
}
