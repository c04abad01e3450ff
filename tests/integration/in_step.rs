//! The files kept in step: every function crate has its template entry (same name, cargo-lambda build of the
//! same binary), its events folder and its route; the template's table is the one the store expects.

use std::collections::BTreeSet;

use serde_json::Value;
use tradai::store::{KEY_ATTRIBUTE, STATUS_INDEX};
use tradai_tests::project_root;
use tradai_tests::template::{properties, template};

/// `submit-backtest` → `SubmitBacktestFunction`.
fn logical_id(crate_name: &str) -> String {
    let words: String = crate_name
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{words}Function")
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(project_root().join("functions"))
        .expect("functions/")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn template_functions() -> BTreeSet<String> {
    template()["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(id, _)| id.clone())
        .collect()
}

#[test]
fn every_function_crate_has_its_template_entry_events_and_nothing_else() {
    let crates = function_crates();
    let expected: BTreeSet<String> = crates.iter().map(|name| logical_id(name)).collect();
    assert_eq!(template_functions(), expected, "functions/ and template.yaml disagree");
    let events: BTreeSet<String> = tradai_tests::events::functions().into_iter().collect();
    assert_eq!(events, crates, "functions/ and events/ disagree");

    for name in &crates {
        let resource = &template()["Resources"][logical_id(name)];
        assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        assert_eq!(
            resource["Metadata"]["BuildProperties"]["Binary"],
            name.as_str(),
            "{name}"
        );
        assert_eq!(
            resource["Properties"]["CodeUri"], ".",
            "{name}: cargo-lambda builds from the workspace root"
        );
        let manifest = std::fs::read_to_string(project_root().join("functions").join(name).join("Cargo.toml"))
            .expect("Cargo.toml");
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name}: the crate and binary carry its name"
        );
        assert!(
            manifest.contains(&format!("[package.metadata.lambda.watch]\nenv_file = \"{name}.env\"")),
            "{name}: locally the function reads the environment its template entry gives it from {name}.env"
        );
    }
}

#[test]
fn every_route_event_matches_its_function_route() {
    for name in function_crates() {
        let resource = &template()["Resources"][logical_id(&name)];
        let routes: Vec<String> = resource["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|events| events.values())
            .filter(|event| event["Type"] == "HttpApi")
            .map(|event| {
                format!(
                    "{} {}",
                    event["Properties"]["Method"].as_str().expect("Method"),
                    event["Properties"]["Path"].as_str().expect("Path")
                )
            })
            .collect();
        assert!(routes.len() <= 1, "{name} serves at most one route");
        for path in tradai_tests::events::files(&name) {
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("event")).expect("JSON");
            match routes.first() {
                Some(route) => assert_eq!(event["routeKey"], route.as_str(), "{}", path.display()),
                // A workflow step: its events are workflow states, never API Gateway requests.
                None => assert!(
                    event.get("routeKey").is_none() && event.is_object(),
                    "{}",
                    path.display()
                ),
            }
        }
    }
}

#[test]
fn the_table_has_the_key_and_index_the_store_uses() {
    let table = properties("WorkflowStateTable");
    assert_eq!(
        table["KeySchema"],
        serde_json::json!([{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}])
    );
    let index = table["GlobalSecondaryIndexes"]
        .as_array()
        .and_then(|indexes| indexes.iter().find(|index| index["IndexName"] == STATUS_INDEX))
        .expect("the status index");
    assert_eq!(
        index["KeySchema"],
        serde_json::json!([{"AttributeName": "status", "KeyType": "HASH"},
                           {"AttributeName": "created_at", "KeyType": "RANGE"}])
    );
    assert_eq!(index["Projection"]["ProjectionType"], "ALL");
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
}

#[test]
fn the_queue_is_fifo_with_a_dead_letter_queue_after_five_receives() {
    let queue = properties("BacktestQueue");
    assert_eq!(queue["FifoQueue"], true);
    assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"], 5);
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0],
        "BacktestDeadLetterQueue"
    );
    assert_eq!(properties("BacktestDeadLetterQueue")["FifoQueue"], true);
}

#[test]
fn every_route_but_health_requires_iam_authorization() {
    let api = &template()["Resources"]["HttpApi"]["Properties"]["Auth"];
    assert_eq!(api["DefaultAuthorizer"], "AWS_IAM");
    assert_eq!(api["EnableIamAuthorizer"], true);
    for name in function_crates() {
        let resource = &template()["Resources"][logical_id(&name)];
        for event in resource["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|events| events.values())
        {
            let authorizer = &event["Properties"]["Auth"]["Authorizer"];
            if name == "health" {
                assert_eq!(authorizer, "NONE", "/health stays open for load balancers and probes");
            } else {
                assert!(authorizer.is_null(), "{name} must not override the IAM authorizer");
            }
        }
    }
}

#[test]
fn openapi_documents_exactly_the_template_routes() {
    let mut template_routes = BTreeSet::new();
    for name in function_crates() {
        let resource = &template()["Resources"][logical_id(&name)];
        for event in resource["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|events| events.values())
        {
            if event["Type"] == "HttpApi" {
                let properties = &event["Properties"];
                template_routes.insert(format!(
                    "{} {}",
                    properties["Method"].as_str().expect("Method"),
                    properties["Path"].as_str().expect("Path")
                ));
            }
        }
    }
    assert_eq!(
        tradai_tests::openapi::routes(),
        template_routes,
        "openapi.yaml and template.yaml disagree"
    );
    let health = &tradai_tests::openapi::document()["paths"]["/health"]["get"];
    assert_eq!(
        health["security"],
        serde_json::json!([]),
        "/health is documented as open"
    );
}

#[test]
fn every_error_the_state_machines_match_is_one_a_step_raises_and_every_step_error_is_handled() {
    let mut checked = 0;
    for entry in std::fs::read_dir(project_root().join("statemachine")).expect("statemachine/") {
        let path = entry.expect("entry").path();
        if !path.to_string_lossy().ends_with(".asl.json") {
            continue;
        }
        let definition: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
        let problems = tradai_tests::asl::check(&definition);
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
        checked += 1;
    }
    assert!(checked > 0, "no state machine found");
}

#[test]
fn every_asynchronous_path_keeps_what_failed() {
    let resources = template()["Resources"].as_object().expect("Resources");
    let mut asynchronous: BTreeSet<String> = BTreeSet::new();
    for (id, resource) in resources {
        if resource["Type"] == "AWS::Events::Rule" {
            for target in resource["Properties"]["Targets"].as_array().into_iter().flatten() {
                assert!(
                    target["DeadLetterConfig"]["Arn"].is_object(),
                    "{id}: target {} keeps no undelivered events",
                    target["Id"]
                );
                if let Some(function) = target["Arn"]["Fn::GetAtt"][0].as_str() {
                    asynchronous.insert(function.to_owned());
                }
            }
        }
        let events = resource["Properties"]["Events"].as_object();
        for (name, event) in events.into_iter().flatten() {
            if event["Type"] == "Schedule" {
                assert!(
                    event["Properties"]["DeadLetterConfig"].is_object(),
                    "{id}: schedule {name} keeps no undelivered events"
                );
                asynchronous.insert(id.clone());
            }
        }
    }
    assert!(!asynchronous.is_empty());
    for function in &asynchronous {
        let on_failure = &properties(function)["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
        assert_eq!(
            on_failure["Type"], "SQS",
            "{function} is invoked asynchronously but keeps no failed invocation"
        );
    }
    // Every queue that keeps failures is watched.
    let watched: BTreeSet<String> = resources
        .values()
        .filter(|resource| resource["Type"] == "AWS::CloudWatch::Alarm")
        .filter_map(|alarm| {
            alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    for queue in ["BacktestDeadLetterQueue", "EventsDeadLetterQueue"] {
        assert!(watched.contains(queue), "{queue} has no alarm on its depth");
    }
    let orphan_alarm = &template()["Resources"]["OrphanedJobsAlarm"]["Properties"];
    assert_eq!(
        (
            orphan_alarm["Period"].as_i64(),
            orphan_alarm["EvaluationPeriods"].as_i64()
        ),
        (Some(900), Some(1))
    );
    assert_eq!(orphan_alarm["Namespace"], tradai::metrics::NAMESPACE);
    assert_eq!(
        orphan_alarm["Dimensions"][0]["Name"], "Environment",
        "the dimension the scanner publishes"
    );
    let queue = properties("BacktestQueue");
    let consumer = properties("SqsConsumerFunction");
    assert!(
        queue["VisibilityTimeout"].as_i64().unwrap_or(0) >= 6 * consumer["Timeout"].as_i64().unwrap_or(i64::MAX),
        "the queue's visibility timeout is at least six times the consumer's timeout"
    );
}
