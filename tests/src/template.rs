//! `template.yaml` read as the JSON CloudFormation sees: short-form intrinsics (`!Ref X`, `!GetAtt A.B`,
//! `!Sub ...`) become their long forms (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": ...}`).
//! Tests build their resources from it, so the tests and the deployed stack cannot drift apart.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, EventReceiver, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use crate::project_root;

/// The project's `template.yaml`, parsed once.
pub fn template() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path: PathBuf = project_root().join("template.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        parse(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
    })
}

/// The `Properties` of resource `logical_id`; panics with the id when the template lacks it.
pub fn properties(logical_id: &str) -> &'static Value {
    let resource = &template()["Resources"][logical_id];
    assert!(resource.is_object(), "template.yaml has no resource {logical_id}");
    &resource["Properties"]
}

/// Parses one YAML document with CloudFormation's tags into JSON.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| e.to_string())?;
    builder
        .error
        .map_or_else(|| builder.root.ok_or_else(|| "empty document".to_owned()), Err)
}

enum Frame {
    Sequence(Vec<Value>, Option<Tag>),
    Mapping(Map<String, Value>, Option<String>, Option<Tag>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    error: Option<String>,
}

impl Builder {
    fn add(&mut self, value: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence(items, _)) => items.push(value),
            Some(Frame::Mapping(map, key, _)) => match key.take() {
                None => match value {
                    Value::String(text) => *key = Some(text),
                    other => *key = Some(other.to_string()),
                },
                Some(name) => {
                    map.insert(name, value);
                }
            },
        }
    }
}

impl EventReceiver for Builder {
    fn on_event(&mut self, event: Event) {
        match event {
            Event::Scalar(text, style, _, tag) => {
                let value = if style == TScalarStyle::Plain {
                    plain(&text)
                } else {
                    Value::String(text)
                };
                let value = intrinsic(value, tag);
                self.add(value);
            }
            Event::SequenceStart(_, tag) => self.stack.push(Frame::Sequence(Vec::new(), tag)),
            Event::MappingStart(_, tag) => self.stack.push(Frame::Mapping(Map::new(), None, tag)),
            Event::SequenceEnd | Event::MappingEnd => {
                let value = match self.stack.pop() {
                    Some(Frame::Sequence(items, tag)) => intrinsic(Value::Array(items), tag),
                    Some(Frame::Mapping(map, _, tag)) => intrinsic(Value::Object(map), tag),
                    None => return,
                };
                self.add(value);
            }
            Event::Alias(_) => self.error = Some("YAML aliases are not used in the template".to_owned()),
            _ => {}
        }
    }
}

/// YAML 1.2 core schema resolution of an unquoted scalar.
fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            if let Ok(integer) = text.parse::<i64>() {
                Value::Number(integer.into())
            } else if let Some(number) = text
                .parse::<f64>()
                .ok()
                .filter(|_| text.contains('.'))
                .and_then(Number::from_f64)
            {
                Value::Number(number)
            } else {
                Value::String(text.to_owned())
            }
        }
    }
}

fn intrinsic(value: Value, tag: Option<Tag>) -> Value {
    let Some(tag) = tag.filter(|tag| tag.handle == "!") else {
        return value;
    };
    let name = tag.suffix;
    let (key, value) = match name.as_str() {
        "Ref" | "Condition" => (name.clone(), value),
        "GetAtt" => {
            let value = match value {
                Value::String(text) => match text.split_once('.') {
                    Some((resource, attribute)) => Value::from(vec![resource, attribute]),
                    None => Value::String(text),
                },
                other => other,
            };
            ("Fn::GetAtt".to_owned(), value)
        }
        _ => (format!("Fn::{name}"), value),
    };
    let mut map = Map::new();
    map.insert(key, value);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn short_forms_become_long_forms() {
        let text = "A: !Ref Table\nB: !GetAtt Queue.Arn\nC: !Sub 'x-${Stage}'\nD: [1, 2.5, true, ~, '3']\n";
        let value = parse(text).expect("parses");
        assert_eq!(
            value,
            json!({"A": {"Ref": "Table"}, "B": {"Fn::GetAtt": ["Queue", "Arn"]}, "C": {"Fn::Sub": "x-${Stage}"},
                   "D": [1, 2.5, true, null, "3"]})
        );
    }

    #[test]
    fn tagged_collections_are_wrapped() {
        let value = parse("A: !Join ['', [a, !Ref B]]\nC: !If\n  - Cond\n  - 1\n  - 2\n").expect("parses");
        assert_eq!(
            value,
            json!({"A": {"Fn::Join": ["", ["a", {"Ref": "B"}]]}, "C": {"Fn::If": ["Cond", 1, 2]}})
        );
    }
}
