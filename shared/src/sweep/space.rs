//! The parameter space of a sweep, as a request gives it, validated and expanded into combinations.
//!
//! ```json
//! {"grid": {"buy_rsi": [25, 30, 35], "stoploss": [-0.05, -0.1]}}
//! {"random": {"samples": 20, "seed": 7,
//!             "ranges": {"buy_rsi": {"low": 20, "high": 40, "type": "int"},
//!                        "stoploss": {"low": -0.2, "high": -0.02, "decimals": 3},
//!                        "buy.trend": {"choices": ["ema", "sma"]}}}}
//! ```
//!
//! A grid runs every combination, in a fixed order (the last parameter varies fastest). Random samples are drawn
//! from a generator seeded by `seed` (default 0), so the same request always gives the same combinations, and are
//! distinct. Either way a sweep has at most [`MAX_COMBINATIONS`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::parameters::Parameter;
use crate::validation::{FieldError, ValidationErrors, json_kind};

/// The most backtests one sweep may run.
pub const MAX_COMBINATIONS: usize = 1_000;
/// The most parameters one sweep may vary.
pub const MAX_PARAMETERS: usize = 16;
/// The most values a grid may list for one parameter, or choices a range may offer.
pub const MAX_VALUES: usize = 100;
const MAX_DECIMALS: u32 = 8;
/// Draws a random space may make per sample before it concludes the ranges hold too few distinct combinations.
const DRAWS_PER_SAMPLE: usize = 50;

/// A validated space: what varies and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterSpace {
    /// Every combination of the listed values.
    Grid(BTreeMap<Parameter, Vec<Value>>),
    /// `samples` distinct combinations drawn from the ranges with a generator seeded by `seed`.
    Random {
        samples: usize,
        seed: u64,
        ranges: BTreeMap<Parameter, Range>,
    },
}

/// Where a random parameter's values come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    /// Whole numbers from `low` to `high`, both included (Freqtrade's `IntParameter`).
    Int { low: i64, high: i64 },
    /// Numbers from `low` to `high` rounded to `decimals` places (`DecimalParameter`; 3 by default, as Freqtrade).
    Decimal { low: f64, high: f64, decimals: u32 },
    /// One of the listed values (`CategoricalParameter`, `BooleanParameter`).
    Choices(Vec<Value>),
}

impl Range {
    /// The range in the syntax [`range`] reads (`{"low", "high"}`, with `type` and `decimals` for decimals, or
    /// `{"choices"}`), so that reading it back gives the same range.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Int { low, high } => serde_json::json!({"low": low, "high": high}),
            Self::Decimal { low, high, decimals } => {
                serde_json::json!({"low": low, "high": high, "type": "decimal", "decimals": decimals})
            }
            Self::Choices(choices) => serde_json::json!({"choices": choices}),
        }
    }
}

/// One combination: a value for every parameter of the space.
pub type Combination = BTreeMap<Parameter, Value>;

impl ParameterSpace {
    /// Validates a request's `space` (reported at `field`, such as `space`): every error, each at its own path.
    pub fn from_json(field: &str, value: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = Vec::new();
        let space = parse(&mut errors, field, value);
        match space {
            Some(space) if errors.is_empty() => match space.count() {
                Some(count) if count <= MAX_COMBINATIONS => Ok(space),
                count => Err(ValidationErrors::one(
                    field,
                    format!(
                        "the space has {} combinations; a sweep runs at most {MAX_COMBINATIONS}",
                        count.map_or_else(|| "too many".to_owned(), |count| count.to_string())
                    ),
                )),
            },
            _ => Err(ValidationErrors(errors)),
        }
    }

    /// How many backtests the space runs; `None` when the count overflows.
    pub fn count(&self) -> Option<usize> {
        match self {
            Self::Grid(values) => values
                .values()
                .try_fold(1_usize, |count, list| count.checked_mul(list.len())),
            Self::Random { samples, .. } => Some(*samples),
        }
    }

    /// The parameters the space varies.
    pub fn parameters(&self) -> Vec<&Parameter> {
        match self {
            Self::Grid(values) => values.keys().collect(),
            Self::Random { ranges, .. } => ranges.keys().collect(),
        }
    }

    /// Every combination, in the order the sweep numbers its runs. A random space whose ranges hold fewer distinct
    /// combinations than it asks for is an error naming how many it found.
    pub fn combinations(&self) -> Result<Vec<Combination>, String> {
        match self {
            Self::Grid(values) => Ok(grid(values)),
            Self::Random { samples, seed, ranges } => random(*samples, *seed, ranges),
        }
    }
}

fn grid(values: &BTreeMap<Parameter, Vec<Value>>) -> Vec<Combination> {
    values
        .iter()
        .fold(vec![Combination::new()], |combinations, (parameter, list)| {
            combinations
                .iter()
                .flat_map(|combination| {
                    list.iter().map(move |value| {
                        let mut next = combination.clone();
                        next.insert(parameter.clone(), value.clone());
                        next
                    })
                })
                .collect()
        })
}

fn random(samples: usize, seed: u64, ranges: &BTreeMap<Parameter, Range>) -> Result<Vec<Combination>, String> {
    let mut generator = SplitMix64(seed);
    let mut seen = BTreeSet::new();
    let mut combinations = Vec::with_capacity(samples);
    let mut draws = 0;
    while combinations.len() < samples {
        if draws == samples.saturating_mul(DRAWS_PER_SAMPLE) {
            return Err(format!(
                "the ranges gave only {} distinct combinations in {draws} draws; ask for fewer samples, widen the \
                 ranges or use a grid",
                combinations.len()
            ));
        }
        draws += 1;
        let combination: Combination = ranges
            .iter()
            .map(|(parameter, range)| (parameter.clone(), range.draw(&mut generator)))
            .collect();
        if seen.insert(
            Value::from(Map::from_iter(
                combination
                    .iter()
                    .map(|(parameter, value)| (parameter.to_string(), value.clone())),
            ))
            .to_string(),
        ) {
            combinations.push(combination);
        }
    }
    Ok(combinations)
}

impl Range {
    fn draw(&self, generator: &mut SplitMix64) -> Value {
        match self {
            Self::Int { low, high } => {
                let width = high.abs_diff(*low).saturating_add(1);
                let offset = generator.below(width);
                Value::from(low.saturating_add_unsigned(offset))
            }
            Self::Decimal { low, high, decimals } => {
                let scale = 10_f64.powi(i32::try_from(*decimals).unwrap_or(0));
                let value = ((low + generator.unit() * (high - low)) * scale).round() / scale;
                Number::from_f64(value.clamp(*low, *high)).map_or(Value::Null, Value::Number)
            }
            Self::Choices(choices) => {
                let index = generator.below(choices.len() as u64);
                choices
                    .get(usize::try_from(index).unwrap_or(0))
                    .cloned()
                    .unwrap_or(Value::Null)
            }
        }
    }
}

/// Sebastiano Vigna's SplitMix64: small, fast, and the same sequence for the same seed on every machine, which is
/// all a sweep needs of its generator (it is not for secrets).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Uniform in `[0, bound)` (`bound` > 0), without modulo bias (Lemire's widening multiply, with rejection).
    fn below(&mut self, bound: u64) -> u64 {
        let bound = bound.max(1);
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }
}

fn parse(errors: &mut Vec<FieldError>, field: &str, value: &Value) -> Option<ParameterSpace> {
    let Value::Object(object) = value else {
        errors.push(FieldError::new(
            field,
            format!(
                "{field} must be an object with grid or random, not {}",
                json_kind(value)
            ),
        ));
        return None;
    };
    for key in object.keys().filter(|key| !matches!(key.as_str(), "grid" | "random")) {
        errors.push(FieldError::new(
            format!("{field}.{key}"),
            format!("unknown field; {field} takes grid or random"),
        ));
    }
    match (object.get("grid"), object.get("random")) {
        (Some(grid), None) => parse_grid(errors, &format!("{field}.grid"), grid),
        (None, Some(random)) => parse_random(errors, &format!("{field}.random"), random),
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(field, "give grid or random, not both"));
            None
        }
        (None, None) => {
            errors.push(FieldError::new(field, format!("{field} needs grid or random")));
            None
        }
    }
}

/// The parameters of a grid or of random ranges: an object of 1 to [`MAX_PARAMETERS`] named entries.
fn parameters<'a>(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &'a Value,
) -> Option<Vec<(String, Parameter, &'a Value)>> {
    let Value::Object(object) = value else {
        errors.push(FieldError::new(
            field,
            format!("{field} must be an object of parameter names, not {}", json_kind(value)),
        ));
        return None;
    };
    if object.is_empty() || object.len() > MAX_PARAMETERS {
        errors.push(FieldError::new(
            field,
            format!(
                "{field} names {} parameters; a sweep varies 1 to {MAX_PARAMETERS}",
                object.len()
            ),
        ));
        return None;
    }
    let before = errors.len();
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::with_capacity(object.len());
    for (name, value) in object {
        let path = format!("{field}.{name}");
        match Parameter::parse(name) {
            Ok(parameter) if !seen.insert(parameter.clone()) => {
                errors.push(FieldError::new(
                    path,
                    format!("{name:?} is the same parameter as another name"),
                ));
            }
            Ok(parameter) => parsed.push((path, parameter, value)),
            Err(message) => errors.push(FieldError::new(path, message)),
        }
    }
    (errors.len() == before).then_some(parsed)
}

fn parse_grid(errors: &mut Vec<FieldError>, field: &str, value: &Value) -> Option<ParameterSpace> {
    let mut grid = BTreeMap::new();
    for (path, parameter, value) in parameters(errors, field, value)? {
        if let Some(list) = values(errors, &path, value) {
            grid.insert(parameter, list);
        }
    }
    Some(ParameterSpace::Grid(grid))
}

/// A grid's values or a range's choices: 1 to [`MAX_VALUES`] distinct scalars of one kind.
fn values(errors: &mut Vec<FieldError>, field: &str, value: &Value) -> Option<Vec<Value>> {
    let Value::Array(list) = value else {
        errors.push(FieldError::new(
            field,
            format!("{field} must be a list of values, not {}", json_kind(value)),
        ));
        return None;
    };
    if list.is_empty() || list.len() > MAX_VALUES {
        errors.push(FieldError::new(
            field,
            format!("{field} lists {} values; give 1 to {MAX_VALUES}", list.len()),
        ));
        return None;
    }
    let before = errors.len();
    let mut seen = BTreeSet::new();
    for (index, item) in list.iter().enumerate() {
        let path = format!("{field}[{index}]");
        if !matches!(item, Value::Number(_) | Value::String(_) | Value::Bool(_)) {
            errors.push(FieldError::new(
                path,
                format!(
                    "a value must be a number, a string or a boolean, not {}",
                    json_kind(item)
                ),
            ));
        } else if json_kind(item) != json_kind(&list[0]) {
            errors.push(FieldError::new(
                path,
                format!(
                    "{} among {} values: one parameter takes one kind",
                    json_kind(item),
                    json_kind(&list[0])
                ),
            ));
        } else if !seen.insert(item.to_string()) {
            errors.push(FieldError::new(path, format!("{item} is listed twice")));
        }
    }
    (errors.len() == before).then(|| list.clone())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRandom {
    samples: Option<Value>,
    seed: Option<Value>,
    ranges: Option<Value>,
}

fn parse_random(errors: &mut Vec<FieldError>, field: &str, value: &Value) -> Option<ParameterSpace> {
    let raw: RawRandom = match serde_json::from_value(value.clone()) {
        Ok(raw) => raw,
        Err(error) => {
            errors.push(FieldError::new(field, format!("{field}: {error}")));
            return None;
        }
    };
    let samples_field = format!("{field}.samples");
    let samples = match raw.samples.as_ref().map(Value::as_u64) {
        None => {
            errors.push(FieldError::new(&samples_field, format!("{samples_field} is required")));
            None
        }
        Some(Some(samples)) if (1..=MAX_COMBINATIONS as u64).contains(&samples) => usize::try_from(samples).ok(),
        Some(_) => {
            errors.push(FieldError::new(
                &samples_field,
                format!("{samples_field} must be a whole number from 1 to {MAX_COMBINATIONS}"),
            ));
            None
        }
    };
    let seed = match raw.seed.as_ref().map(Value::as_u64) {
        None => Some(0),
        Some(Some(seed)) => Some(seed),
        Some(None) => {
            errors.push(FieldError::new(
                format!("{field}.seed"),
                "seed must be a whole number from 0 to 2^64-1",
            ));
            None
        }
    };
    let ranges_field = format!("{field}.ranges");
    let Some(ranges_value) = raw.ranges else {
        errors.push(FieldError::new(&ranges_field, format!("{ranges_field} is required")));
        return None;
    };
    let mut ranges = BTreeMap::new();
    for (path, parameter, value) in parameters(errors, &ranges_field, &ranges_value)? {
        if let Some(range) = range(errors, &path, value) {
            ranges.insert(parameter, range);
        }
    }
    Some(ParameterSpace::Random {
        samples: samples?,
        seed: seed?,
        ranges,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    low: Option<Value>,
    high: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<String>,
    decimals: Option<u32>,
    choices: Option<Value>,
}

pub(super) fn range(errors: &mut Vec<FieldError>, field: &str, value: &Value) -> Option<Range> {
    let raw: RawRange = match serde_json::from_value(value.clone()) {
        Ok(raw) => raw,
        Err(error) => {
            errors.push(FieldError::new(
                field,
                format!("a range is {{low, high, type?, decimals?}} or {{choices}}: {error}"),
            ));
            return None;
        }
    };
    if let Some(choices) = raw.choices {
        if raw.low.is_some() || raw.high.is_some() || raw.kind.is_some() || raw.decimals.is_some() {
            errors.push(FieldError::new(
                field,
                "choices is a range of its own: give no low, high, type or decimals",
            ));
            return None;
        }
        return values(errors, &format!("{field}.choices"), &choices).map(Range::Choices);
    }
    let (Some(low), Some(high)) = (raw.low, raw.high) else {
        errors.push(FieldError::new(field, "a range needs low and high (or choices)"));
        return None;
    };
    let kind = match raw.kind.as_deref() {
        Some("int") => "int",
        Some("decimal") => "decimal",
        None if low.is_i64() && high.is_i64() && raw.decimals.is_none() => "int",
        None => "decimal",
        Some(other) => {
            errors.push(FieldError::new(
                format!("{field}.type"),
                format!("unknown type {other:?}; a range is int or decimal"),
            ));
            return None;
        }
    };
    if kind == "int" {
        let (Some(low), Some(high)) = (low.as_i64(), high.as_i64()) else {
            errors.push(FieldError::new(
                field,
                "an int range needs whole numbers for low and high",
            ));
            return None;
        };
        if raw.decimals.is_some() {
            errors.push(FieldError::new(
                format!("{field}.decimals"),
                "an int range has no decimals",
            ));
            return None;
        }
        if low > high {
            errors.push(FieldError::new(
                field,
                format!("empty range: low {low} is above high {high}"),
            ));
            return None;
        }
        return Some(Range::Int { low, high });
    }
    let (Some(low), Some(high)) = (low.as_f64(), high.as_f64()) else {
        errors.push(FieldError::new(field, "a decimal range needs numbers for low and high"));
        return None;
    };
    let decimals = raw.decimals.unwrap_or(3);
    if decimals > MAX_DECIMALS {
        errors.push(FieldError::new(
            format!("{field}.decimals"),
            format!("decimals must be 0 to {MAX_DECIMALS}"),
        ));
        return None;
    }
    if low >= high {
        errors.push(FieldError::new(
            field,
            format!("empty range: low {low} must be below high {high}"),
        ));
        return None;
    }
    Some(Range::Decimal { low, high, decimals })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn space(value: Value) -> ParameterSpace {
        ParameterSpace::from_json("space", &value).expect("a valid space")
    }

    fn refused(value: Value) -> Vec<FieldError> {
        ParameterSpace::from_json("space", &value)
            .expect_err("an invalid space")
            .errors()
            .to_vec()
    }

    fn names(combination: &Combination) -> Value {
        Value::from(Map::from_iter(
            combination
                .iter()
                .map(|(parameter, value)| (parameter.to_string(), value.clone())),
        ))
    }

    #[test]
    fn a_grid_runs_every_combination_once_the_last_parameter_fastest() {
        let space = space(json!({"grid": {"buy_rsi": [25, 30, 35], "sell_rsi": [70, 80]}}));
        assert_eq!(space.count(), Some(6));
        let combinations: Vec<Value> = space
            .combinations()
            .expect("a grid expands")
            .iter()
            .map(names)
            .collect();
        assert_eq!(
            combinations,
            vec![
                json!({"buy_rsi": 25, "sell_rsi": 70}),
                json!({"buy_rsi": 25, "sell_rsi": 80}),
                json!({"buy_rsi": 30, "sell_rsi": 70}),
                json!({"buy_rsi": 30, "sell_rsi": 80}),
                json!({"buy_rsi": 35, "sell_rsi": 70}),
                json!({"buy_rsi": 35, "sell_rsi": 80}),
            ]
        );
    }

    #[test]
    fn random_samples_are_distinct_in_range_and_the_same_for_the_same_seed() {
        let request = json!({"random": {"samples": 40, "seed": 7, "ranges": {
            "buy_rsi": {"low": 20, "high": 40},
            "stoploss": {"low": -0.2, "high": -0.02, "decimals": 2},
            "buy.trend": {"choices": ["ema", "sma"]},
        }}});
        let first = space(request.clone())
            .combinations()
            .expect("enough distinct combinations");
        assert_eq!(first, space(request).combinations().expect("the same again"));
        assert_eq!(first.len(), 40);
        let distinct: BTreeSet<String> = first.iter().map(|c| names(c).to_string()).collect();
        assert_eq!(distinct.len(), 40);
        for combination in &first {
            let values = names(combination);
            let rsi = values["buy_rsi"].as_i64().expect("an int");
            assert!((20..=40).contains(&rsi), "{values}");
            let stoploss = values["stoploss"].as_f64().expect("a number");
            assert!((-0.2..=-0.02).contains(&stoploss), "{values}");
            assert_eq!((stoploss * 100.0).round() / 100.0, stoploss, "2 decimals: {values}");
            assert!(["ema", "sma"].contains(&values["buy.trend"].as_str().expect("a choice")));
        }
        let other_seed = space(json!({"random": {"samples": 40, "seed": 8, "ranges": {
            "buy_rsi": {"low": 20, "high": 40},
            "stoploss": {"low": -0.2, "high": -0.02, "decimals": 2},
            "buy.trend": {"choices": ["ema", "sma"]},
        }}}));
        assert_ne!(first, other_seed.combinations().expect("another draw"));
    }

    #[test]
    fn every_int_of_a_range_is_drawn_and_no_other() {
        let space = space(json!({"random": {"samples": 5, "ranges": {"buy_n": {"low": -2, "high": 2}}}}));
        let drawn: BTreeSet<i64> = space
            .combinations()
            .expect("five distinct values")
            .iter()
            .filter_map(|c| c.values().next().and_then(Value::as_i64))
            .collect();
        assert_eq!(drawn, BTreeSet::from([-2, -1, 0, 1, 2]));
    }

    #[test]
    fn asking_for_more_samples_than_the_ranges_hold_says_how_many_there_are() {
        let space = space(json!({"random": {"samples": 3, "ranges": {"buy_flag": {"choices": [true, false]}}}}));
        let error = space.combinations().expect_err("only two combinations exist");
        assert!(error.contains("only 2 distinct combinations"), "{error}");
    }

    #[test]
    fn too_many_combinations_are_refused_before_any_is_made() {
        let values: Vec<i64> = (0..100).collect();
        let errors = refused(json!({"grid": {"buy_a": values, "buy_b": values}}));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "space");
        assert!(errors[0].message.contains("10000 combinations"), "{:?}", errors[0]);
        let errors = refused(json!({"random": {"samples": 1001, "ranges": {"buy_a": {"low": 0, "high": 5000}}}}));
        assert_eq!(errors[0].field, "space.random.samples");
    }

    #[test]
    fn every_mistake_is_named_at_its_path() {
        let cases = [
            (json!([]), "space"),
            (json!({}), "space"),
            (json!({"grid": {"buy_a": [1]}, "random": {}}), "space"),
            (json!({"grids": {}}), "space.grids"),
            (json!({"grid": {}}), "space.grid"),
            (json!({"grid": {"rsi": [1, 2]}}), "space.grid.rsi"),
            (json!({"grid": {"buy_rsi": []}}), "space.grid.buy_rsi"),
            (json!({"grid": {"buy_rsi": 30}}), "space.grid.buy_rsi"),
            (json!({"grid": {"buy_rsi": [30, 30]}}), "space.grid.buy_rsi[1]"),
            (json!({"grid": {"buy_rsi": [30, "31"]}}), "space.grid.buy_rsi[1]"),
            (json!({"grid": {"buy_rsi": [[30]]}}), "space.grid.buy_rsi[0]"),
            (
                json!({"grid": {"buy_rsi": [1], "buy.buy_rsi": [2]}}),
                "space.grid.buy_rsi",
            ),
            (
                json!({"random": {"ranges": {"buy_a": {"low": 0, "high": 1}}}}),
                "space.random.samples",
            ),
            (
                json!({"random": {"samples": 0, "ranges": {"buy_a": {"low": 0, "high": 1}}}}),
                "space.random.samples",
            ),
            (
                json!({"random": {"samples": 2, "seed": -1, "ranges": {"buy_a": {"low": 0, "high": 1}}}}),
                "space.random.seed",
            ),
            (json!({"random": {"samples": 2}}), "space.random.ranges"),
            (
                json!({"random": {"samples": 2, "size": 3, "ranges": {}}}),
                "space.random",
            ),
            (
                json!({"random": {"samples": 2, "ranges": {"buy_a": {"low": 5, "high": 1}}}}),
                "space.random.ranges.buy_a",
            ),
            (
                json!({"random": {"samples": 2, "ranges": {"buy_a": {"low": 0.5, "high": 0.5}}}}),
                "space.random.ranges.buy_a",
            ),
            (
                json!({"random": {"samples": 2, "ranges": {"buy_a": {"low": 0}}}}),
                "space.random.ranges.buy_a",
            ),
            (
                json!({"random": {"samples": 2, "ranges": {"buy_a": {"low": 0, "high": 1, "type": "float"}}}}),
                "space.random.ranges.buy_a.type",
            ),
            (
                json!({"random": {"samples": 2, "ranges": {"buy_a": {"low": 0.5, "high": 2, "type": "int"}}}}),
                "space.random.ranges.buy_a",
            ),
            (
                json!({"random": {"samples": 2, "ranges": {"buy_a": {"low": 0, "high": 1, "decimals": 12}}}}),
                "space.random.ranges.buy_a.decimals",
            ),
            (
                json!({"random": {"samples": 2, "ranges": {"buy_a": {"choices": []}}}}),
                "space.random.ranges.buy_a.choices",
            ),
            (
                json!({"random": {"samples": 2, "ranges": {"buy_a": {"choices": [1], "low": 0}}}}),
                "space.random.ranges.buy_a",
            ),
        ];
        for (request, field) in cases {
            let errors = refused(request.clone());
            assert!(
                errors.iter().any(|error| error.field == field),
                "{request}: expected an error at {field}, got {errors:?}"
            );
        }
    }

    #[test]
    fn a_decimal_range_without_a_type_is_drawn_with_three_decimals() {
        let space = space(json!({"random": {"samples": 20, "ranges": {"stoploss": {"low": -0.3, "high": -0.01}}}}));
        let ParameterSpace::Random { ranges, .. } = &space else {
            panic!("a random space")
        };
        assert_eq!(
            ranges.values().next(),
            Some(&Range::Decimal {
                low: -0.3,
                high: -0.01,
                decimals: 3
            })
        );
        for combination in space.combinations().expect("twenty distinct values") {
            let value = combination.values().next().and_then(Value::as_f64).expect("a number");
            assert_eq!((value * 1000.0).round() / 1000.0, value);
        }
    }
}
