//! Request validation shared by every route: errors that name their field, JSON bodies parsed with the path of
//! whatever is wrong, and small checks that collect errors instead of stopping at the first.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::backtest::Symbol;

/// The most pairs one request may name.
pub const MAX_SYMBOLS: usize = 200;

/// One thing wrong with a request: the field (a path such as `config.symbols[1]`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything wrong with a request, in field order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub(crate) Vec<FieldError>);

impl ValidationErrors {
    /// The errors, at least one.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    pub(crate) fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&text.join("; "))
    }
}

/// Parses a JSON body into `T`; a body that is not JSON, or not an object, is reported as field `body`, anything
/// else (a wrong type, an unknown field) at its path, such as `config.symbols[1]`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body)).map_err(|error| {
        let path = error.path().to_string();
        let message = without_location(&error.into_inner());
        if matches!(path.as_str(), "." | "?" | "") || path.starts_with('[') {
            ValidationErrors::one("body", format!("not a valid request: {message}"))
        } else {
            ValidationErrors::one(path, message)
        }
    })
}

/// serde_json's message without its " at line 1 column 7" suffix, which means nothing to an API client.
fn without_location(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

pub(crate) fn required<T>(errors: &mut Vec<FieldError>, field: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        errors.push(FieldError::new(field, format!("{field} is required")));
    }
    value
}

pub(crate) fn check<T>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|message| errors.push(FieldError::new(field, message)))
        .ok()
}

/// A non-empty list of distinct, well-formed pairs at `field` (at most 200); each bad entry is named by index.
pub(crate) fn symbols(errors: &mut Vec<FieldError>, field: &str, list: Vec<String>) -> Option<Vec<Symbol>> {
    if list.is_empty() {
        errors.push(FieldError::new(field, format!("{field} must name at least one pair")));
        return None;
    }
    if list.len() > MAX_SYMBOLS {
        errors.push(FieldError::new(
            field,
            format!("{field} has {} pairs; the limit is {MAX_SYMBOLS}", list.len()),
        ));
        return None;
    }
    let before = errors.len();
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(list.len());
    for (index, text) in list.into_iter().enumerate() {
        let field = format!("{field}[{index}]");
        if !seen.insert(text.clone()) {
            errors.push(FieldError::new(field, format!("{:?} is listed twice", clip(&text))));
        } else if let Some(symbol) = check(errors, &field, Symbol::try_from(text)) {
            parsed.push(symbol);
        }
    }
    (errors.len() == before).then_some(parsed)
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Echoing client input back is useful, but never at any length.
pub(crate) fn clip(text: &str) -> String {
    const LIMIT: usize = 64;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let mut clipped: String = text.chars().take(LIMIT).collect();
        clipped.push('…');
        clipped
    }
}
