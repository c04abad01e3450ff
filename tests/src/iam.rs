//! IAM as AWS would apply it to the calls the local deployment recorded: each function's role, read from the
//! SAM-transformed template, its resources resolved to the local deployment's own names (a logical ID to the
//! resource the deployment made for it, `${Stage}` to its suffix), and each recorded call of that function
//! evaluated against the role's statements (actions and resources with wildcards, the conditions our policies use:
//! `StringEquals`, `StringLike`, `ArnEquals`, `ArnLike`). A call no statement allows is a violation naming the
//! function, the action and the resource; a statement no call used is reported, not failed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tradai_local::Deployment;
use tradai_local::calls::Call;

pub use tradai_local::physical::Physical;

/// The local deployment `local`'s names, with what `template` (the SAM-transformed template) names itself.
pub fn physical_of(local: &Deployment, template: &Value) -> Physical {
    local.physical.clone().with_template(template)
}

/// One statement of a role, resolved.
#[derive(Debug, Clone)]
pub struct Statement {
    pub role: String,
    pub sid: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// operator → key → values.
    pub conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Statement {
    fn applies(&self, call: &Call) -> bool {
        self.actions.iter().any(|action| matches(action, &call.action, true))
            && self
                .resources
                .iter()
                .any(|resource| matches(resource, &call.resource, false))
            && self.conditions_hold(call)
    }

    fn conditions_hold(&self, call: &Call) -> bool {
        self.conditions.iter().all(|(operator, keys)| {
            keys.iter().all(|(key, values)| {
                let present = call
                    .context
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(key))
                    .map(|(_, value)| value);
                match (operator.trim_end_matches("IfExists"), present) {
                    (_, None) => operator.ends_with("IfExists"),
                    ("StringEquals" | "ArnEquals", Some(value)) => values.iter().any(|allowed| allowed == value),
                    ("StringLike" | "ArnLike", Some(value)) => {
                        values.iter().any(|allowed| matches(allowed, value, false))
                    }
                    // An operator this checker does not know holds for no call: the statement is never taken for
                    // one it might not allow.
                    _ => false,
                }
            })
        })
    }
}

/// Whether `pattern` (IAM's `*` and `?`) matches `text`; actions match without regard to case.
pub fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(at) = star {
            p = at + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Each function's role (by the function's binary name, as its calls name it) and each role a strategy task runs
/// with (`task-role.<role name>`, as the local ECS names a task's calls), their statements resolved.
pub fn function_roles(template: &Value, physical: &Physical) -> BTreeMap<String, Vec<Statement>> {
    let empty = serde_json::Map::new();
    let resources = template["Resources"].as_object().unwrap_or(&empty);
    let mut roles = BTreeMap::new();
    for (id, resource) in resources {
        match resource["Type"].as_str() {
            // A named role (as a task definition names it): its name is what Physical resolved.
            Some("AWS::IAM::Role") => {
                if let Some((name, _)) = physical.resources.get(id) {
                    roles.insert(format!("task-role.{name}"), role_statements(id, resource, physical));
                }
            }
            // The workflow engine's calls carry one name for both state machines: their roles together (what they
            // act on does not overlap: the backtest's steps and tasks, the sweep's FinishSweep and child executions).
            Some("AWS::StepFunctions::StateMachine") => {
                let role_id = resource["Properties"]["RoleArn"]["Fn::GetAtt"][0]
                    .as_str()
                    .unwrap_or_default();
                let role = resources.get(role_id).unwrap_or(&Value::Null);
                roles
                    .entry(tradai_local::calls::STATE_MACHINES.to_owned())
                    .or_insert_with(Vec::new)
                    .extend(role_statements(role_id, role, physical));
            }
            Some("AWS::Lambda::Function") => {
                let role_id = resource["Properties"]["Role"]["Fn::GetAtt"][0]
                    .as_str()
                    .unwrap_or_default();
                let role = resources.get(role_id).unwrap_or(&Value::Null);
                roles.insert(
                    tradai_local::template::crate_of(id),
                    role_statements(role_id, role, physical),
                );
            }
            _ => {}
        }
    }
    roles
}

/// Every statement of the inline policies of role `role` (logical ID `id`), resolved.
fn role_statements(id: &str, role: &Value, physical: &Physical) -> Vec<Statement> {
    role["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| statements(id, &policy["PolicyDocument"], physical))
        .collect()
}

fn statements(role: &str, document: &Value, physical: &Physical) -> Vec<Statement> {
    let list = match &document["Statement"] {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    list.iter()
        .enumerate()
        .map(|(index, statement)| {
            let strings = |value: &Value| -> Vec<String> {
                match value {
                    Value::Null => Vec::new(),
                    other => physical.resolve(other),
                }
            };
            let conditions = statement["Condition"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(operator, keys)| {
                    let keys = keys
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(key, values)| (key.clone(), strings(values)))
                        .collect();
                    (operator.clone(), keys)
                })
                .collect();
            Statement {
                role: role.to_owned(),
                sid: statement["Sid"]
                    .as_str()
                    .map_or_else(|| format!("#{index}"), str::to_owned),
                allow: statement["Effect"] == "Allow",
                actions: strings(&statement["Action"]),
                resources: strings(&statement["Resource"]),
                conditions,
            }
        })
        .collect()
}

/// `calls` with the calls AWS makes with the caller's permissions on its behalf: a publish to a topic encrypted with
/// one of the stack's keys needs `kms:GenerateDataKey` and `kms:Decrypt` on that key.
pub fn with_implied(calls: &[Call], template: &Value, physical: &Physical) -> Vec<Call> {
    let encrypted: BTreeMap<String, String> = template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, topic)| topic["Type"] == "AWS::SNS::Topic")
        .filter_map(|(id, topic)| {
            let key = topic["Properties"]["KmsMasterKeyId"]["Ref"].as_str()?;
            let topic_arn = physical.resources.get(id)?.0.clone();
            let key_arn = physical.resources.get(key)?.1.clone();
            Some((topic_arn, key_arn))
        })
        .collect();
    let mut all = Vec::with_capacity(calls.len());
    for call in calls {
        all.push(call.clone());
        if call.action == "sns:Publish"
            && let Some(key) = encrypted.get(&call.resource)
        {
            for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                all.push(Call {
                    action: action.to_owned(),
                    resource: key.clone(),
                    context: BTreeMap::new(),
                    ..call.clone()
                });
            }
        }
    }
    all
}

/// Checks `calls`, with what they imply, against the roles `template` gives their callers, its resources named as
/// `physical` says.
pub fn audit(calls: &[Call], template: &Value, physical: &Physical) -> Verdict {
    check(
        &with_implied(calls, template, physical),
        &function_roles(template, physical),
    )
}

/// What the check found: the calls no statement allows, and the statements no call used.
#[derive(Debug, Default)]
pub struct Verdict {
    /// `function · action · resource (context)` of each call its role does not allow.
    pub violations: Vec<String>,
    /// `role/sid` of each allowing statement of a function that made calls, none of which it allowed.
    pub unused: Vec<String>,
    /// How many calls were checked.
    pub checked: usize,
}

impl Verdict {
    /// The report: how many calls were checked (of `recorded`), and each statement of a caller seen that no call
    /// used — listed, not failed.
    pub fn report(&self, recorded: usize) -> String {
        format!(
            "{} calls checked against their roles ({recorded} recorded)\nstatements of those callers no call used:\n{}\n",
            self.checked,
            self.unused.join("\n")
        )
    }
}

/// Checks every call whose caller is a function of `roles` against that function's statements.
pub fn check(calls: &[Call], roles: &BTreeMap<String, Vec<Statement>>) -> Verdict {
    let mut verdict = Verdict::default();
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    let mut seen: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    for call in calls {
        let Some(statements) = call.caller.as_deref().and_then(|caller| roles.get(caller)) else {
            continue;
        };
        verdict.checked += 1;
        let function = call.caller.as_deref().unwrap_or_default();
        let denied = statements
            .iter()
            .any(|statement| !statement.allow && statement.applies(call));
        let allowing: Vec<&Statement> = statements
            .iter()
            .filter(|statement| statement.allow && statement.applies(call))
            .collect();
        for statement in &allowing {
            used.insert((statement.role.clone(), statement.sid.clone()));
        }
        if (denied || allowing.is_empty()) && seen.insert((function, &call.action, &call.resource)) {
            verdict.violations.push(format!(
                "{function} · {} · {}{}",
                call.action,
                call.resource,
                if call.context.is_empty() {
                    String::new()
                } else {
                    format!(" {:?}", call.context)
                }
            ));
        }
    }
    let callers: BTreeSet<&str> = calls.iter().filter_map(|call| call.caller.as_deref()).collect();
    for (function, statements) in roles {
        if !callers.contains(function.as_str()) {
            continue;
        }
        for statement in statements.iter().filter(|statement| statement.allow) {
            if !used.contains(&(statement.role.clone(), statement.sid.clone())) {
                verdict.unused.push(format!("{}/{}", statement.role, statement.sid));
            }
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_to_a_topic_under_a_key_of_the_stack_needs_that_key() {
        let template = serde_json::json!({"Resources": {
            "AlertKey": {"Type": "AWS::KMS::Key"},
            "AlertTopic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Ref": "AlertKey"}}},
            "NotificationTopic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}}}});
        let mut physical = Physical::default();
        for (id, arn) in [
            ("AlertTopic", "arn:aws:sns:us-east-1:1:alerts"),
            ("NotificationTopic", "arn:aws:sns:us-east-1:1:n"),
        ] {
            physical.resources.insert(id.into(), (arn.into(), arn.into()));
        }
        physical.resources.insert(
            "AlertKey".into(),
            ("k".into(), "arn:aws:kms:us-east-1:1:key/AlertKey".into()),
        );
        let publish = |topic: &str| Call {
            caller: Some("orphan-scanner".into()),
            action: "sns:Publish".into(),
            resource: topic.into(),
            context: BTreeMap::new(),
        };
        let calls = with_implied(
            &[
                publish("arn:aws:sns:us-east-1:1:alerts"),
                publish("arn:aws:sns:us-east-1:1:n"),
            ],
            &template,
            &physical,
        );
        let named: Vec<(&str, &str)> = calls
            .iter()
            .map(|call| (call.action.as_str(), call.resource.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("sns:Publish", "arn:aws:sns:us-east-1:1:alerts"),
                ("kms:GenerateDataKey", "arn:aws:kms:us-east-1:1:key/AlertKey"),
                ("kms:Decrypt", "arn:aws:kms:us-east-1:1:key/AlertKey"),
                ("sns:Publish", "arn:aws:sns:us-east-1:1:n"),
            ],
            "an AWS-managed key needs no grant"
        );
        assert!(
            calls
                .iter()
                .all(|call| call.caller.as_deref() == Some("orphan-scanner"))
        );
    }

    #[test]
    fn iam_wildcards_match_as_aws_matches_them() {
        assert!(matches("s3:Get*", "s3:GetObjectVersion", true));
        assert!(matches("S3:getobject", "s3:GetObject", true));
        assert!(!matches("s3:Get*", "s3:PutObject", true));
        assert!(matches(
            "arn:aws:s3:::b/results/*",
            "arn:aws:s3:::b/results/x/summary.json",
            false
        ));
        assert!(!matches("arn:aws:s3:::b/results/*", "arn:aws:s3:::b/temp/x", false));
        assert!(matches("arn:aws:s3:::b", "arn:aws:s3:::b", false));
        assert!(!matches("arn:aws:s3:::b", "arn:aws:s3:::bb", false));
        assert!(matches("a?c*", "abcdef", false));
        assert!(matches("*", "", false));
    }
}
