//! The parameters a strategy declares it can be swept over, and the check of a space against them.
//!
//! Freqtrade ignores a parameter-file entry the strategy has no attribute for, and takes any value for one it has:
//! a misspelt name or a value outside the strategy's range would run a sweep of identical or meaningless
//! backtests. So a sweep may vary only what the strategy version declares (its hyperoptable parameters, in the
//! same range syntax as a random space: `{"buy_rsi": {"low": 20, "high": 40}, "buy.trend": {"choices": […]}}`),
//! within the declared bounds, and the config settings every strategy has, within what Freqtrade accepts.

use std::collections::BTreeMap;

use serde_json::Value;

use super::parameters::Parameter;
use super::space::{Combination, ParameterSpace, Range, range};
use crate::validation::{FieldError, ValidationErrors, json_kind};

/// The model-version tag holding a version's declaration, as JSON text.
pub const PARAMETERS_TAG: &str = "parameters";

/// What a strategy version declares: each hyperoptable parameter and its range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declared(BTreeMap<Parameter, Range>);

impl Declared {
    /// Parses a declaration (a JSON object of parameter names and ranges), every error at `field` and below.
    pub fn from_json(field: &str, value: &Value) -> Result<Self, ValidationErrors> {
        let Value::Object(object) = value else {
            return Err(ValidationErrors::one(
                field,
                format!(
                    "{field} must be an object of parameter names and ranges, not {}",
                    json_kind(value)
                ),
            ));
        };
        let mut errors = Vec::new();
        let mut declared = BTreeMap::new();
        for (name, value) in object {
            let path = format!("{field}.{name}");
            match Parameter::parse(name) {
                Ok(Parameter::Config(_)) => errors.push(FieldError::new(
                    path,
                    format!("{name} is a config setting every strategy has; declare only hyperoptable parameters"),
                )),
                Ok(parameter) => {
                    if let Some(range) = range(&mut errors, &path, value) {
                        declared.insert(parameter, range);
                    }
                }
                Err(message) => errors.push(FieldError::new(path, message)),
            }
        }
        if errors.is_empty() {
            Ok(Self(declared))
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// What a registered version declares, read from its [`PARAMETERS_TAG`] (none when it has no such tag).
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Result<Self, String> {
        let Some(text) = tags.get(PARAMETERS_TAG) else {
            return Ok(Self::default());
        };
        let value: Value = serde_json::from_str(text)
            .map_err(|error| format!("the version's {PARAMETERS_TAG} tag is not JSON: {error}"))?;
        Self::from_json(PARAMETERS_TAG, &value)
            .map_err(|errors| format!("the version's {PARAMETERS_TAG} tag is not a declaration: {errors}"))
    }

    /// The declaration as the version's tag keeps it (compact JSON, in the range syntax it was given in).
    pub fn to_tag(&self) -> String {
        let object: serde_json::Map<String, Value> = self
            .0
            .iter()
            .map(|(parameter, range)| (parameter.to_string(), range.to_json()))
            .collect();
        Value::Object(object).to_string()
    }

    /// Whether the version declares nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every value of `values` (at `field`, such as `config.parameters`) the strategy does not declare, or
    /// declares with bounds the value is outside.
    pub fn check_values(&self, field: &str, values: &Combination) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (parameter, value) in values {
            let path = format!("{field}.{parameter}");
            if let Some(bounds) = self.bounds(&mut errors, &path, parameter)
                && !bounds.holds(value)
            {
                errors.push(FieldError::new(
                    path,
                    format!("{value} is outside {parameter}'s {}", bounds.describe()),
                ));
            }
        }
        errors
    }

    /// Every way `space` (at `field`, such as `space`) reaches outside what the strategy declares.
    pub fn check(&self, field: &str, space: &ParameterSpace) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match space {
            ParameterSpace::Grid(grid) => {
                for (parameter, values) in grid {
                    let path = format!("{field}.grid.{parameter}");
                    let Some(bounds) = self.bounds(&mut errors, &path, parameter) else {
                        continue;
                    };
                    for (index, value) in values.iter().enumerate() {
                        if !bounds.holds(value) {
                            errors.push(FieldError::new(
                                format!("{path}[{index}]"),
                                format!("{value} is outside {parameter}'s {}", bounds.describe()),
                            ));
                        }
                    }
                }
            }
            ParameterSpace::Random { ranges, .. } => {
                for (parameter, asked) in ranges {
                    let path = format!("{field}.random.ranges.{parameter}");
                    let Some(bounds) = self.bounds(&mut errors, &path, parameter) else {
                        continue;
                    };
                    if !bounds.contains(asked) {
                        errors.push(FieldError::new(
                            path,
                            format!(
                                "{} reaches outside {parameter}'s {}",
                                asked.describe(),
                                bounds.describe()
                            ),
                        ));
                    }
                }
            }
        }
        errors
    }

    fn bounds(&self, errors: &mut Vec<FieldError>, path: &str, parameter: &Parameter) -> Option<Range> {
        let found = match parameter {
            Parameter::Config(name) => setting_bounds(name),
            Parameter::Hyperoptable { .. } => self.0.get(parameter).cloned(),
        };
        if found.is_none() {
            let names: Vec<String> = self.0.keys().map(ToString::to_string).collect();
            errors.push(FieldError::new(
                path,
                if names.is_empty() {
                    format!(
                        "the strategy version declares no parameters, so {parameter} cannot be swept: register it \
                         with its parameters"
                    )
                } else {
                    format!(
                        "the strategy version declares no parameter {parameter}; it declares {}",
                        names.join(", ")
                    )
                },
            ));
        }
        found
    }
}

/// What Freqtrade accepts for each config setting a sweep may vary.
fn setting_bounds(name: &str) -> Option<Range> {
    let decimal = |low, high| Range::Decimal { low, high, decimals: 8 };
    let flag = || Range::Choices(vec![Value::Bool(true), Value::Bool(false)]);
    match name {
        "stoploss" => Some(decimal(-1.0, -0.000_001)),
        "max_open_trades" => Some(Range::Int { low: -1, high: 1_000 }),
        "trailing_stop" | "trailing_only_offset_is_reached" => Some(flag()),
        "trailing_stop_positive" | "trailing_stop_positive_offset" => Some(decimal(0.0, 1.0)),
        _ => None,
    }
}

impl Range {
    /// Whether `value` is one this range can give.
    fn holds(&self, value: &Value) -> bool {
        match self {
            Self::Int { low, high } => value.as_i64().is_some_and(|v| (*low..=*high).contains(&v)),
            Self::Decimal { low, high, .. } => value.as_f64().is_some_and(|v| (*low..=*high).contains(&v)),
            Self::Choices(choices) => choices.contains(value),
        }
    }

    /// Whether every value of `asked` is one this range can give.
    fn contains(&self, asked: &Range) -> bool {
        match asked {
            Self::Int { low, high } => {
                self.holds(&Value::from(*low))
                    && self.holds(&Value::from(*high))
                    && matches!(self, Self::Int { .. } | Self::Decimal { .. })
            }
            Self::Decimal { low, high, .. } => {
                matches!(self, Self::Decimal { .. })
                    && self.holds(&Value::from(*low))
                    && self.holds(&Value::from(*high))
            }
            Self::Choices(choices) => choices.iter().all(|value| self.holds(value)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Int { low, high } => format!("whole numbers from {low} to {high}"),
            Self::Decimal { low, high, .. } => format!("range {low} to {high}"),
            Self::Choices(choices) => {
                let listed: Vec<String> = choices.iter().map(ToString::to_string).collect();
                format!("choices {}", listed.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn declared() -> Declared {
        Declared::from_json(
            "parameters",
            &json!({
                "buy_rsi": {"low": 20, "high": 40},
                "sell.threshold": {"low": 0.1, "high": 0.9},
                "buy.trend": {"choices": ["ema", "sma"]},
            }),
        )
        .expect("a valid declaration")
    }

    fn errors(space: Value) -> Vec<(String, String)> {
        let space = ParameterSpace::from_json("space", &space).expect("a valid space");
        declared()
            .check("space", &space)
            .into_iter()
            .map(|error| (error.field, error.message))
            .collect()
    }

    #[test]
    fn a_space_inside_the_declaration_passes() {
        assert_eq!(
            errors(
                json!({"grid": {"buy_rsi": [20, 40], "buy.trend": ["sma"], "sell.threshold": [0.5],
                                   "stoploss": [-0.05], "trailing_stop": [true]}})
            ),
            []
        );
        assert_eq!(
            errors(json!({"random": {"samples": 4, "ranges": {
                "buy_rsi": {"low": 25, "high": 30}, "sell.threshold": {"low": 0.2, "high": 0.3},
                "buy.trend": {"choices": ["ema"]}, "max_open_trades": {"low": 1, "high": 5}}}})),
            []
        );
    }

    #[test]
    fn an_undeclared_parameter_is_named_with_what_is_declared() {
        let found = errors(json!({"grid": {"buy_rsl": [30]}}));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "space.grid.buy_rsl");
        assert!(found[0].1.contains("declares no parameter buy_rsl"), "{}", found[0].1);
        assert!(
            found[0].1.contains("buy_rsi, buy.trend, sell.threshold"),
            "{}",
            found[0].1
        );
        let none = Declared::default().check(
            "space",
            &ParameterSpace::from_json("space", &json!({"grid": {"buy_rsi": [30]}})).expect("a space"),
        );
        assert!(none[0].message.contains("declares no parameters"), "{none:?}");
    }

    #[test]
    fn values_and_ranges_outside_the_declaration_are_named() {
        assert_eq!(
            errors(json!({"grid": {"buy_rsi": [30, 41], "buy.trend": ["wma"], "stoploss": [0.05]}}))
                .into_iter()
                .map(|(field, _)| field)
                .collect::<Vec<_>>(),
            [
                "space.grid.buy_rsi[1]",
                "space.grid.buy.trend[0]",
                "space.grid.stoploss[0]"
            ]
        );
        assert_eq!(
            errors(json!({"random": {"samples": 2, "ranges": {
                "buy_rsi": {"low": 10, "high": 30}, "sell.threshold": {"low": 0.5, "high": 1.5},
                "buy.trend": {"choices": ["ema", "hma"]}, "trailing_stop": {"low": 0, "high": 1}}}}))
            .into_iter()
            .map(|(field, _)| field)
            .collect::<Vec<_>>(),
            [
                "space.random.ranges.buy_rsi",
                "space.random.ranges.buy.trend",
                "space.random.ranges.sell.threshold",
                "space.random.ranges.trailing_stop"
            ]
        );
    }

    #[test]
    fn a_declaration_names_its_own_mistakes() {
        let error = Declared::from_json(
            "parameters",
            &json!({"stoploss": {"low": -0.2, "high": -0.01}, "rsi": {"low": 1, "high": 2}, "buy_x": {"low": 3, "high": 1}}),
        )
        .expect_err("three mistakes");
        let fields: Vec<&str> = error.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["parameters.buy_x", "parameters.rsi", "parameters.stoploss"]);
    }

    #[test]
    fn a_declaration_survives_its_tag_and_checks_single_values() {
        let tag = declared().to_tag();
        let tags = BTreeMap::from([(PARAMETERS_TAG.to_owned(), tag)]);
        assert_eq!(Declared::from_tags(&tags), Ok(declared()));
        assert_eq!(Declared::from_tags(&BTreeMap::new()), Ok(Declared::default()));
        let broken = BTreeMap::from([(PARAMETERS_TAG.to_owned(), "{".to_owned())]);
        assert!(Declared::from_tags(&broken).expect_err("broken").contains("not JSON"));

        let values = |pairs: &[(&str, Value)]| -> Combination {
            pairs
                .iter()
                .map(|(name, value)| (Parameter::parse(name).expect("a name"), value.clone()))
                .collect()
        };
        assert_eq!(
            declared().check_values(
                "config.parameters",
                &values(&[("buy_rsi", json!(25)), ("buy.trend", json!("ema"))])
            ),
            []
        );
        let found: Vec<(String, String)> = declared()
            .check_values(
                "config.parameters",
                &values(&[("buy_rsi", json!(45)), ("sell_rsi", json!(70))]),
            )
            .into_iter()
            .map(|error| (error.field, error.message))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, "config.parameters.buy_rsi");
        assert!(
            found[0]
                .1
                .contains("45 is outside buy_rsi's whole numbers from 20 to 40"),
            "{}",
            found[0].1
        );
        assert_eq!(found[1].0, "config.parameters.sell_rsi");
        assert!(found[1].1.contains("declares no parameter sell_rsi"), "{}", found[1].1);
        assert!(
            Declared::default().check_values("config.parameters", &values(&[("buy_rsi", json!(25))]))[0]
                .message
                .contains("declares no parameters")
        );
    }
}
