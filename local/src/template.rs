//! `template.yaml` read as the JSON CloudFormation sees: short-form intrinsics (`!Ref X`, `!GetAtt A.B`,
//! `!Sub ...`) become their long forms (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": ...}`), and
//! what the local deployment needs from it: the functions and their binaries, the HTTP API's routes, the state
//! machine's definition with its substitutions, the rules on ended executions and their targets, the queue's event
//! source mapping. The local deployment is made from it, so it cannot drift from the deployed stack.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, EventReceiver, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use crate::physical::Physical;
use crate::{ACCOUNT, Error, REGION};

/// A parsed `template.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    value: Value,
    /// The folder the template's relative paths (`DefinitionUri`) start from.
    root: PathBuf,
}

/// One route of the HTTP API: `method` and `path` (with `{parameters}`) served by function `function` (its binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
}

impl Template {
    /// The project's `template.yaml`, read and parsed once.
    pub fn project() -> Result<&'static Template, Error> {
        static TEMPLATE: OnceLock<Result<Template, String>> = OnceLock::new();
        TEMPLATE
            .get_or_init(|| Template::read(&crate::project_root().join("template.yaml")).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|message| Error::Template(message.clone()))
    }

    /// The template at `path`.
    pub fn read(path: &Path) -> Result<Template, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let value = parse(&text).map_err(|error| Error::Template(format!("{}: {error}", path.display())))?;
        let root = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(Template { value, root })
    }

    /// The whole template as JSON.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The `Properties` of resource `logical_id`.
    pub fn properties(&self, logical_id: &str) -> Result<&Value, Error> {
        let resource = &self.value["Resources"][logical_id];
        if resource.is_object() {
            Ok(&resource["Properties"])
        } else {
            Err(Error::Template(format!("there is no resource {logical_id}")))
        }
    }

    /// The resources of type `kind`, by logical id.
    pub fn resources_of(&self, kind: &str) -> impl Iterator<Item = (&String, &Value)> {
        self.value["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(move |(_, resource)| resource["Type"] == kind)
    }

    /// Every route of the HTTP API (`HttpApi` events of the functions), with the function binary that serves it.
    pub fn routes(&self) -> Vec<Route> {
        let mut routes: Vec<Route> = self
            .resources_of("AWS::Serverless::Function")
            .flat_map(|(logical_id, function)| {
                function["Properties"]["Events"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, event)| event["Type"] == "HttpApi")
                    .filter_map(move |(_, event)| {
                        Some(Route {
                            method: event["Properties"]["Method"].as_str()?.to_ascii_uppercase(),
                            path: event["Properties"]["Path"].as_str()?.to_owned(),
                            function: crate_of(logical_id),
                        })
                    })
            })
            .collect();
        routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        routes
    }

    /// The state machine `logical_id`'s definition as deployed, its substitutions resolved with the local
    /// deployment's names (`physical`); one that names what the deployment does not make is an error.
    pub fn definition(&self, logical_id: &str, physical: &Physical) -> Result<String, Error> {
        let machine = self.properties(logical_id)?;
        let uri = machine["DefinitionUri"]
            .as_str()
            .ok_or_else(|| Error::Template(format!("{logical_id} has no DefinitionUri")))?;
        let path = self.root.join(uri);
        let mut text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let substitutions = machine["DefinitionSubstitutions"].as_object().into_iter().flatten();
        for (name, value) in substitutions {
            let filled = physical.resolve_one(value).map_err(|missing| {
                Error::Template(format!(
                    "{logical_id}'s substitution {name} names {missing}, which the local deployment does not make"
                ))
            })?;
            text = text.replace(&format!("${{{name}}}"), &filled);
        }
        if text.contains("${") {
            return Err(Error::Template(format!(
                "{}: a substitution is left unfilled",
                path.display()
            )));
        }
        Ok(text)
    }

    /// What the template's rules on Step Functions executions (`AWS::Events::Rule` with source `aws.states`)
    /// invoke for execution `execution_arn` that ended in `status`: each matching rule's target functions (their
    /// binaries) with their transformed input, as EventBridge would.
    pub fn ended_execution_targets(&self, execution_arn: &str, status: &str) -> Vec<(String, String)> {
        let name = execution_arn.rsplit(':').next().unwrap_or_default();
        let event = serde_json::json!({"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
            "detail": {"executionArn": execution_arn, "name": name, "status": status}});
        self.resources_of("AWS::Events::Rule")
            .map(|(_, rule)| &rule["Properties"])
            .filter(|rule| {
                rule["EventPattern"]["source"]
                    .as_array()
                    .is_some_and(|sources| sources.iter().any(|source| source == "aws.states"))
            })
            .filter(|rule| {
                rule["EventPattern"]["detail"]["status"]
                    .as_array()
                    .is_some_and(|statuses| statuses.iter().any(|wanted| wanted == status))
            })
            .filter(|rule| self.watches(&rule["EventPattern"]["detail"]["stateMachineArn"], execution_arn))
            .flat_map(|rule| rule["Targets"].as_array().cloned().unwrap_or_default())
            .filter_map(|target| {
                let function = target["Arn"]["Fn::GetAtt"][0].as_str()?.to_owned();
                let transformer = &target["InputTransformer"];
                let mut input = transformer["InputTemplate"].as_str()?.to_owned();
                for (key, path) in transformer["InputPathsMap"].as_object().into_iter().flatten() {
                    let pointer = path
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('$')
                        .replace('.', "/");
                    let value = event.pointer(&pointer).unwrap_or(&Value::Null).to_string();
                    input = input.replace(&format!("<{key}>"), &value);
                }
                Some((crate_of(&function), input))
            })
            .collect()
    }

    /// Whether a rule's `stateMachineArn` pattern (`[!Ref Machine]`, or none: every machine) takes an execution of
    /// `execution_arn`: locally a machine is named as its template `Name` with the stage (`tradai-backtest-local`),
    /// so the execution's machine name must start with the `Name` before `${Stage}`.
    fn watches(&self, pattern: &Value, execution_arn: &str) -> bool {
        let Some(machines) = pattern.as_array() else {
            return true;
        };
        let machine = execution_arn.rsplit(':').nth(1).unwrap_or_default();
        machines.iter().any(|wanted| {
            let Some(logical_id) = wanted["Ref"].as_str() else {
                return false;
            };
            let name = &self.value["Resources"][logical_id]["Properties"]["Name"];
            let named = name["Fn::Sub"].as_str().or(name.as_str()).unwrap_or_default();
            let prefix = named.split("${").next().unwrap_or_default();
            !prefix.is_empty() && machine.starts_with(prefix)
        })
    }

    /// The `BatchSize` of function `logical_id`'s event `event` (an event source mapping), 10 when unset.
    pub fn batch_size(&self, logical_id: &str, event: &str) -> Result<i32, Error> {
        let mapping = &self.properties(logical_id)?["Events"][event]["Properties"];
        Ok(mapping["BatchSize"]
            .as_i64()
            .and_then(|size| i32::try_from(size).ok())
            .unwrap_or(10))
    }
}

/// `PrepareConfigFunction` → `prepare-config`, the crate and binary name.
pub fn crate_of(logical_id: &str) -> String {
    let name = logical_id.strip_suffix("Function").unwrap_or(logical_id);
    let mut kebab = String::new();
    for (index, character) in name.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            kebab.push('-');
        }
        kebab.push(character.to_ascii_lowercase());
    }
    kebab
}

/// The local ARN of the function that template resource `logical_id` deploys.
pub fn function_arn(logical_id: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", crate_of(logical_id))
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

    #[test]
    fn a_stopped_execution_reaches_only_the_rules_on_its_own_state_machine() {
        let template = Template::project().expect("the project's template");
        let backtest = "arn:aws:states:us-east-1:123456789012:execution:tradai-backtest-local:3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10";
        let functions: Vec<String> = template
            .ended_execution_targets(backtest, "ABORTED")
            .into_iter()
            .map(|(function, _)| function)
            .collect();
        assert!(functions.contains(&"mark-failed".to_owned()), "{functions:?}");
        assert!(!functions.contains(&"finish-sweep".to_owned()), "{functions:?}");
        let sweep =
            "arn:aws:states:us-east-1:123456789012:execution:tradai-sweep-local:5d2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10";
        let targets = template.ended_execution_targets(sweep, "ABORTED");
        assert_eq!(targets.len(), 1, "{targets:?}");
        assert_eq!(targets[0].0, "finish-sweep");
        let payload: Value = serde_json::from_str(&targets[0].1).expect("JSON");
        assert_eq!(
            payload,
            json!({"sweep_id": "5d2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10", "execution_status": "ABORTED"})
        );
    }
}
