//! The local deployment's physical names for the template's logical IDs, and the template's intrinsic functions
//! resolved with them: what `Ref`, `Fn::GetAtt … Arn`, `Fn::Sub`, `Fn::Join`, `Fn::If` (the template's conditions
//! on its parameters), `Fn::Select` and `Fn::Split` give here. The deployment resolves its functions' environment and
//! its state machines' substitutions with it; the tests resolve the roles' policies with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template::{crate_of, function_arn};
use crate::{ACCOUNT, REGION};

/// What a name the deployment did not make resolves to: it matches no call, and fails an environment.
pub const UNRESOLVED: &str = "unresolved:";

/// The local deployment's physical names for the template's logical IDs, its parameters and its conditions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Physical {
    /// Logical ID → (`Ref` value, `Arn`).
    pub resources: BTreeMap<String, (String, String)>,
    /// Template parameters (at their defaults, `Stage` the deployment's suffix) and pseudo parameters → value.
    pub parameters: BTreeMap<String, String>,
    /// The template's conditions, evaluated.
    pub conditions: BTreeMap<String, bool>,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

impl Physical {
    /// What a deployment of stage `stage` made (logical ID → (`Ref` value, `Arn`)), with `template`'s parameters at
    /// their defaults, its conditions and the names it gives itself ([`Physical::with_template`]).
    pub fn new(template: &Value, made: BTreeMap<String, (String, String)>, stage: &str) -> Physical {
        let mut parameters: BTreeMap<String, String> = template["Parameters"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(name, parameter)| Some((name.clone(), text(&parameter["Default"])?)))
            .collect();
        parameters.insert("Stage".into(), stage.to_owned());
        for (name, value) in [
            ("AWS::Region", REGION),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::Partition", "aws"),
            ("AWS::URLSuffix", "amazonaws.com"),
            ("AWS::StackName", "tradai"),
        ] {
            parameters.insert(name.into(), value.into());
        }
        Physical {
            resources: made,
            parameters,
            conditions: BTreeMap::new(),
        }
        .with_template(template)
    }

    /// These names with what `template` (the template as written, or as the SAM transform made it) names itself:
    /// each function its binary and local ARN, each KMS key (the local deployment makes none) an ARN of its own, each
    /// role with a name its ARN, `role/<name>`; and its conditions evaluated.
    pub fn with_template(mut self, template: &Value) -> Physical {
        for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
            let names = match resource["Type"].as_str() {
                Some("AWS::Lambda::Function" | "AWS::Serverless::Function") => (crate_of(id), function_arn(id)),
                Some("AWS::KMS::Key") => {
                    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}");
                    (arn.clone(), arn)
                }
                Some("AWS::IAM::Role") if !resource["Properties"]["RoleName"].is_null() => {
                    let name = self.resolve(&resource["Properties"]["RoleName"]).join("");
                    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{name}");
                    (name, arn)
                }
                _ => continue,
            };
            self.resources.entry(id.clone()).or_insert(names);
        }
        // A condition may name another: evaluate until nothing changes (the template's are a few levels deep).
        let conditions = template["Conditions"].as_object().cloned().unwrap_or_default();
        for _ in 0..=conditions.len() {
            let evaluated: BTreeMap<String, bool> = conditions
                .iter()
                .map(|(name, condition)| (name.clone(), self.holds(condition)))
                .collect();
            if evaluated == self.conditions {
                break;
            }
            self.conditions = evaluated;
        }
        self
    }

    /// `value` with its intrinsic functions resolved, as a list (a `Ref` to a list parameter, a `Fn::Split`, a
    /// list of values); a name this deployment did not make resolves to `unresolved:<name>`.
    pub fn resolve(&self, value: &Value) -> Vec<String> {
        match value {
            Value::String(text) => vec![text.clone()],
            Value::Array(items) => items.iter().flat_map(|item| self.resolve(item)).collect(),
            Value::Object(map) => {
                if let Some(id) = map.get("Ref").and_then(Value::as_str) {
                    vec![self.reference(id, None)]
                } else if let Some(parts) = map.get("Fn::GetAtt").and_then(Value::as_array) {
                    let id = parts.first().and_then(Value::as_str).unwrap_or_default();
                    let attribute = parts.get(1).and_then(Value::as_str);
                    vec![self.reference(id, attribute)]
                } else if let Some(sub) = map.get("Fn::Sub") {
                    vec![self.substitute(sub)]
                } else if let Some(join) = map.get("Fn::Join").and_then(Value::as_array) {
                    let delimiter = join.first().and_then(Value::as_str).unwrap_or_default();
                    let parts: Vec<String> = join.get(1).map(|parts| self.resolve(parts)).unwrap_or_default();
                    vec![parts.join(delimiter)]
                } else if let Some([condition, then, otherwise]) =
                    map.get("Fn::If").and_then(|v| v.as_array()).map(Vec::as_slice)
                {
                    let holds = condition
                        .as_str()
                        .is_some_and(|name| self.conditions.get(name).copied().unwrap_or(false));
                    self.resolve(if holds { then } else { otherwise })
                } else if let Some([delimiter, source]) =
                    map.get("Fn::Split").and_then(|v| v.as_array()).map(Vec::as_slice)
                {
                    let delimiter = delimiter.as_str().unwrap_or(",");
                    self.resolve(source)
                        .join(delimiter)
                        .split(delimiter)
                        .map(str::to_owned)
                        .collect()
                } else if let Some([index, list]) = map.get("Fn::Select").and_then(|v| v.as_array()).map(Vec::as_slice)
                {
                    let index = text(index)
                        .and_then(|index| index.parse::<usize>().ok())
                        .unwrap_or(usize::MAX);
                    let items = self.resolve(list);
                    vec![
                        items
                            .get(index)
                            .cloned()
                            .unwrap_or_else(|| format!("{UNRESOLVED}{value}")),
                    ]
                } else {
                    vec![format!("{UNRESOLVED}{value}")]
                }
            }
            other => vec![other.to_string()],
        }
    }

    /// Whether a condition (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`) holds.
    fn holds(&self, condition: &Value) -> bool {
        let Some((function, arguments)) = condition.as_object().and_then(|map| map.iter().next()) else {
            return false;
        };
        let all = || arguments.as_array().into_iter().flatten();
        match function.as_str() {
            "Fn::Equals" => match arguments.as_array().map(Vec::as_slice) {
                Some([a, b]) => self.resolve(a) == self.resolve(b),
                _ => false,
            },
            "Fn::Not" => !all().any(|inner| self.holds(inner)),
            "Fn::And" => all().all(|inner| self.holds(inner)),
            "Fn::Or" => all().any(|inner| self.holds(inner)),
            "Condition" => arguments
                .as_str()
                .is_some_and(|name| self.conditions.get(name).copied().unwrap_or(false)),
            _ => false,
        }
    }

    fn reference(&self, id: &str, attribute: Option<&str>) -> String {
        if let Some(value) = self.parameters.get(id) {
            return value.clone();
        }
        match (self.resources.get(id), attribute) {
            (Some((reference, _)), None) => reference.clone(),
            (Some((_, arn)), Some("Arn")) => arn.clone(),
            _ => format!(
                "{UNRESOLVED}{id}{}",
                attribute.map(|a| format!(".{a}")).unwrap_or_default()
            ),
        }
    }

    fn substitute(&self, sub: &Value) -> String {
        let (template, variables) = match sub {
            Value::Array(items) => (
                items.first().and_then(Value::as_str).unwrap_or_default(),
                items.get(1).and_then(Value::as_object),
            ),
            other => (other.as_str().unwrap_or_default(), None),
        };
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            let value = match variables.and_then(|variables| variables.get(name)) {
                Some(given) => self.resolve(given).join(","),
                None => match name.split_once('.') {
                    Some((id, attribute)) if !name.starts_with("AWS::") => self.reference(id, Some(attribute)),
                    _ => self.reference(name, None),
                },
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `value` resolved to one string, or what could not be resolved.
    pub fn resolve_one(&self, value: &Value) -> Result<String, String> {
        let resolved = self.resolve(value).join(",");
        match resolved.find(UNRESOLVED) {
            Some(at) => Err(resolved[at + UNRESOLVED.len()..].to_owned()),
            None => Ok(resolved),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template() -> Value {
        json!({
            "Parameters": {"Stage": {"Default": "dev"}, "VpcId": {"Default": ""}, "Mode": {"Default": "sqs"},
                "VpcCidr": {"Default": "10.0.0.0/16"}},
            "Conditions": {
                "CreateNetwork": {"Fn::Equals": [{"Ref": "VpcId"}, ""]},
                "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
                "NatPerZone": {"Fn::And": [{"Condition": "CreateNetwork"}, {"Condition": "IsProd"}]},
                "Wide": {"Fn::Equals": [{"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "VpcCidr"}]}]}, "16"]}
            },
            "Resources": {
                "TaskRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Sub": "task-${Stage}"}}},
                "SubmitFunction": {"Type": "AWS::Serverless::Function"}
            }
        })
    }

    #[test]
    fn intrinsics_resolve_to_the_local_names_parameters_and_conditions() {
        let made = BTreeMap::from([(
            "Bucket".to_owned(),
            ("b-local".to_owned(), "arn:aws:s3:::b-local".to_owned()),
        )]);
        let physical = Physical::new(&template(), made, "local");
        assert_eq!(
            physical.conditions,
            BTreeMap::from([
                ("CreateNetwork".to_owned(), true),
                ("IsProd".to_owned(), false),
                ("NatPerZone".to_owned(), false),
                ("Wide".to_owned(), true)
            ])
        );
        let resolve = |value: Value| physical.resolve_one(&value);
        assert_eq!(
            resolve(json!({"Fn::Sub": "s3://${Bucket}/ohlcv"})),
            Ok("s3://b-local/ohlcv".into())
        );
        assert_eq!(resolve(json!({"Ref": "Mode"})), Ok("sqs".into()));
        assert_eq!(
            resolve(json!({"Fn::GetAtt": ["TaskRole", "Arn"]})),
            Ok(format!("arn:aws:iam::{ACCOUNT}:role/task-local"))
        );
        assert_eq!(
            resolve(json!({"Fn::If": ["CreateNetwork", {"Fn::Sub": "${Bucket},x"}, "y"]})),
            Ok("b-local,x".into())
        );
        assert_eq!(
            resolve(json!({"Fn::GetAtt": ["SubmitFunction", "Arn"]})),
            Ok(function_arn("SubmitFunction"))
        );
        assert_eq!(resolve(json!({"Ref": "Missing"})), Err("Missing".into()));
    }
}
