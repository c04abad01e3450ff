//! What `sam deploy` would create, read from the templates after the SAM transform (the pinned SAM CLI's translator,
//! `tests/stand-ins/sam-transform.py`): every function has its crate, its log group with retention and its alarm;
//! every queue its dead-letter queue and alarms; every alarm reaches the alert topic, the orphan alarm watches what
//! the scanner publishes; no ECS service can land on Spot; roles are passed only to ECS and only when stack-owned;
//! `Resource: "*"` only where AWS requires it; every object read comes with a list of the same prefix; and every
//! function in the VPC has a route to what it calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::{Value, json};
use tradai_tests::project_root;
use tradai_tests::template::transformed;

/// Actions AWS accepts only on `Resource: "*"` (they take no resource-level permission), each granted where a
/// comment in the template says why.
const STAR_ALLOWED: &[&str] = &[
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecr:GetAuthorizationToken",
    "secretsmanager:GetRandomPassword",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
];

fn main_stack() -> &'static Value {
    static STACK: OnceLock<Value> = OnceLock::new();
    STACK.get_or_init(|| transformed("template.yaml"))
}

fn trading_service() -> &'static Value {
    static STACK: OnceLock<Value> = OnceLock::new();
    STACK.get_or_init(|| transformed("templates/trading-service.yaml"))
}

fn resources<'a>(stack: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    stack["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(move |(_, resource)| resource["Type"] == kind)
}

fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(values) => values.iter().collect(),
        Value::Null => Vec::new(),
        value => vec![value],
    }
}

/// `{"Ref": X}` or `{"Fn::GetAtt": [X, ...]}` → X.
fn referenced(value: &Value) -> Option<&str> {
    value["Ref"]
        .as_str()
        .or_else(|| value["Fn::GetAtt"][0].as_str())
        .or_else(|| value["Fn::GetAtt"].as_str().and_then(|text| text.split('.').next()))
}

/// Every statement of every IAM role's inline policies: (role, statement).
fn statements(stack: &Value) -> Vec<(String, &Value)> {
    resources(stack, "AWS::IAM::Role")
        .flat_map(|(role, resource)| {
            one_or_many(&resource["Properties"]["Policies"])
                .into_iter()
                .flat_map(|policy| one_or_many(&policy["PolicyDocument"]["Statement"]))
                .map(move |statement| (role.clone(), statement))
        })
        .collect()
}

fn actions(statement: &Value) -> Vec<&str> {
    one_or_many(&statement["Action"])
        .into_iter()
        .filter_map(Value::as_str)
        .collect()
}

/// A resource as text: literal, `!Sub` template, or the referenced logical ID.
fn resource_text(resource: &Value) -> String {
    match resource {
        Value::String(text) => text.clone(),
        _ => resource["Fn::Sub"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| referenced(resource).map(|id| format!("${{{id}.Arn}}")))
            .unwrap_or_else(|| resource.to_string()),
    }
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(project_root().join("functions"))
        .expect("functions/")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// The crate a deployed function runs: its name is `tradai-<crate>-${Stage}`.
fn crate_of(function: &Value) -> String {
    let name = function["Properties"]["FunctionName"]["Fn::Sub"]
        .as_str()
        .expect("FunctionName is !Sub tradai-<crate>-${Stage}");
    name.strip_prefix("tradai-")
        .and_then(|rest| rest.strip_suffix("-${Stage}"))
        .expect("tradai-<crate>-${Stage}")
        .to_owned()
}

#[test]
fn every_function_crate_is_deployed_once_and_every_deployed_function_is_a_crate() {
    let deployed: Vec<String> = resources(main_stack(), "AWS::Lambda::Function")
        .map(|(_, function)| crate_of(function))
        .collect();
    let unique: BTreeSet<String> = deployed.iter().cloned().collect();
    assert_eq!(unique.len(), deployed.len(), "a crate deployed twice: {deployed:?}");
    assert_eq!(unique, function_crates());
}

#[test]
fn every_function_logs_to_its_own_group_with_retention() {
    let stack = main_stack();
    let mut groups = BTreeSet::new();
    for (id, function) in resources(stack, "AWS::Lambda::Function") {
        let group = referenced(&function["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{id} names no log group"));
        assert!(groups.insert(group.to_owned()), "{id} shares log group {group}");
        let resource = &stack["Resources"][group];
        assert_eq!(resource["Type"], "AWS::Logs::LogGroup", "{id}");
        assert_eq!(
            resource["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{id}"
        );
        assert_eq!(
            resource["Properties"]["LogGroupName"]["Fn::Sub"],
            format!("/aws/lambda/tradai-{}-${{Stage}}", crate_of(function)),
            "{id}: Lambda's own name for the group, so nothing else creates it without retention"
        );
    }
    for (id, group) in resources(stack, "AWS::Logs::LogGroup") {
        assert!(
            group["Properties"]["RetentionInDays"].is_object(),
            "{id} keeps logs forever"
        );
    }
}

/// Alarms by the resource their metric's dimensions name.
fn alarms_on<'a>(stack: &'a Value, metric: &str, dimension: &str, logical_id: &str) -> Vec<&'a String> {
    resources(stack, "AWS::CloudWatch::Alarm")
        .filter(|(_, alarm)| {
            let properties = &alarm["Properties"];
            let direct = properties["MetricName"] == metric
                && one_or_many(&properties["Dimensions"])
                    .iter()
                    .any(|d| d["Name"] == dimension && referenced(&d["Value"]) == Some(logical_id));
            let in_math = one_or_many(&properties["Metrics"]).iter().any(|query| {
                let stat = &query["MetricStat"]["Metric"];
                stat["MetricName"] == metric
                    && one_or_many(&stat["Dimensions"])
                        .iter()
                        .any(|d| d["Name"] == dimension && referenced(&d["Value"]) == Some(logical_id))
            });
            direct || in_math
        })
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn every_function_has_an_alarm_on_its_errors_and_throttles() {
    let stack = main_stack();
    for (id, _) in resources(stack, "AWS::Lambda::Function") {
        let errors = alarms_on(stack, "Errors", "FunctionName", id);
        let throttles = alarms_on(stack, "Throttles", "FunctionName", id);
        assert!(
            !errors.is_empty() && !throttles.is_empty(),
            "{id}: {errors:?} {throttles:?}"
        );
    }
}

#[test]
fn every_queue_has_a_dead_letter_queue_and_alarms_on_depth_and_age() {
    let stack = main_stack();
    let queues: BTreeMap<&String, &Value> = resources(stack, "AWS::SQS::Queue").collect();
    let dead_letter_targets: BTreeSet<String> = queues
        .values()
        .filter_map(|queue| referenced(&queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]))
        .map(str::to_owned)
        .collect();
    // Where asynchronous invocations and undeliverable events go.
    let destinations: BTreeSet<String> = stack["Resources"]
        .as_object()
        .expect("Resources")
        .values()
        .flat_map(|resource| {
            let properties = &resource["Properties"];
            let on_failure = referenced(&properties["DestinationConfig"]["OnFailure"]["Destination"]);
            let targets = one_or_many(&properties["Targets"])
                .into_iter()
                .filter_map(|target| referenced(&target["DeadLetterConfig"]["Arn"]));
            on_failure
                .into_iter()
                .chain(targets)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    for id in queues.keys() {
        let is_dead_letter = dead_letter_targets.contains(id.as_str()) || destinations.contains(id.as_str());
        if is_dead_letter {
            assert!(
                !alarms_on(stack, "ApproximateNumberOfMessagesVisible", "QueueName", id).is_empty(),
                "dead-letter queue {id} has no depth alarm"
            );
        } else {
            assert!(
                referenced(&queues[id]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]).is_some(),
                "{id} has no dead-letter queue"
            );
        }
        assert!(
            !alarms_on(stack, "ApproximateAgeOfOldestMessage", "QueueName", id).is_empty(),
            "{id} has no oldest-message alarm"
        );
    }
    assert!(!dead_letter_targets.is_empty() && !destinations.is_empty());
}

#[test]
fn every_alarm_reaches_the_alert_topic_whose_key_lets_cloudwatch_publish() {
    for (stack, topic) in [(main_stack(), "AlertTopic"), (trading_service(), "AlertTopicArn")] {
        let alarms: Vec<_> = resources(stack, "AWS::CloudWatch::Alarm").collect();
        assert!(!alarms.is_empty());
        for (id, alarm) in alarms {
            let actions = one_or_many(&alarm["Properties"]["AlarmActions"]);
            assert!(
                actions.iter().any(|action| referenced(action) == Some(topic)),
                "{id} does not reach {topic}: {actions:?}"
            );
        }
    }
    let stack = main_stack();
    let key = referenced(&stack["Resources"]["AlertTopic"]["Properties"]["KmsMasterKeyId"]).expect("a key");
    let policy = &stack["Resources"][key]["Properties"]["KeyPolicy"];
    assert!(
        one_or_many(&policy["Statement"]).iter().any(|statement| {
            statement["Principal"]["Service"] == "cloudwatch.amazonaws.com"
                && actions(statement)
                    .iter()
                    .any(|action| action.starts_with("kms:GenerateDataKey"))
        }),
        "CloudWatch cannot publish to the alert topic under {key}"
    );
}

#[test]
fn every_dashboard_alarm_exists_and_every_alarm_is_on_the_dashboard() {
    let stack = main_stack();
    let body = stack["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("a !Sub body");
    let alarms: BTreeSet<String> = resources(stack, "AWS::CloudWatch::Alarm")
        .map(|(id, _)| format!("${{{id}.Arn}}"))
        .collect();
    let shown: BTreeSet<String> = body
        .match_indices("${")
        .filter_map(|(at, _)| body[at..].find('}').map(|end| body[at..=at + end].to_owned()))
        .filter(|name| name.ends_with("Alarm.Arn}"))
        .collect();
    assert_eq!(shown, alarms);
    let parsed: Value = serde_json::from_str(body).expect("the body is JSON");
    assert!(parsed["widgets"].as_array().is_some_and(|widgets| widgets.len() > 5));
}

/// A notifier the orphan report must not use when no job was failed.
struct NoAlerts;

impl tradai::notify::Notifier for NoAlerts {
    async fn publish(
        &self,
        notification: &tradai::notify::Notification,
    ) -> Result<String, tradai::notify::NotifyError> {
        panic!("no orphan was failed, yet an alert was sent: {notification:?}")
    }
}

#[tokio::test]
async fn the_orphaned_jobs_alarm_watches_what_the_scanner_publishes() {
    let metrics = tradai::metrics::EmfMetrics::new(Vec::new());
    let report = tradai::jobs::ScanReport {
        orphan_count: 0,
        jobs_marked_failed: Vec::new(),
        not_judged: 0,
    };
    tradai::jobs::report_orphans(&metrics, &NoAlerts, "dev", &report, &[])
        .await
        .expect("published");
    let line: Value = serde_json::from_slice(&metrics.written()).expect("one EMF line");
    let declared = &line["_aws"]["CloudWatchMetrics"][0];
    let alarm = &main_stack()["Resources"]["OrphanedJobsAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], declared["Namespace"]);
    assert_eq!(alarm["MetricName"], declared["Metrics"][0]["Name"]);
    let published: Vec<&Value> = one_or_many(&declared["Dimensions"][0]);
    let watched: Vec<&Value> = one_or_many(&alarm["Dimensions"]).iter().map(|d| &d["Name"]).collect();
    assert_eq!(watched, published);
    // The scanner's ENVIRONMENT is the stage, as the alarm's dimension value is.
    let scanner = &main_stack()["Resources"]["OrphanScannerFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(scanner["ENVIRONMENT"], json!({"Ref": "Stage"}));
    assert_eq!(alarm["Dimensions"][0]["Value"], json!({"Ref": "Stage"}));
    assert_eq!(line["Environment"], "dev");
}

#[test]
fn no_ecs_service_can_land_on_spot() {
    let cluster = &main_stack()["Resources"]["StrategyCluster"]["Properties"];
    assert_eq!(
        cluster["DefaultCapacityProviderStrategy"],
        json!([{"CapacityProvider": "FARGATE", "Weight": 1}]),
        "what names no capacity provider runs on demand"
    );
    let mut services = 0;
    for stack in [main_stack(), trading_service()] {
        for (id, service) in resources(stack, "AWS::ECS::Service") {
            services += 1;
            let properties = &service["Properties"];
            let providers: Vec<&Value> = one_or_many(&properties["CapacityProviderStrategy"])
                .into_iter()
                .map(|item| &item["CapacityProvider"])
                .collect();
            assert_eq!(providers, [&json!("FARGATE")], "{id}");
            assert!(properties["LaunchType"].is_null(), "{id}");
        }
    }
    assert_eq!(services, 2, "MLflow and the trading service");
    let trading = resources(trading_service(), "AWS::ECS::Service")
        .next()
        .expect("the trading service")
        .1;
    let deployment = &trading["Properties"]["DeploymentConfiguration"];
    assert_eq!(
        (&deployment["MaximumPercent"], &deployment["MinimumHealthyPercent"]),
        (&json!(100), &json!(0)),
        "two bots never trade at once"
    );
    assert_eq!(trading["Properties"]["DesiredCount"], 1);
}

#[test]
fn roles_are_passed_only_to_ecs_and_only_when_the_stack_owns_them() {
    for stack in [main_stack(), trading_service()] {
        let roles: BTreeSet<&String> = resources(stack, "AWS::IAM::Role").map(|(id, _)| id).collect();
        let mut passing = 0;
        for (role, statement) in statements(stack) {
            if !actions(statement)
                .iter()
                .any(|action| *action == "iam:PassRole" || *action == "iam:*")
            {
                continue;
            }
            passing += 1;
            assert_eq!(
                statement["Condition"]["StringEquals"]["iam:PassedToService"], "ecs-tasks.amazonaws.com",
                "{role}"
            );
            for resource in one_or_many(&statement["Resource"]) {
                let owned = resource["Fn::GetAtt"][1] == "Arn"
                    && referenced(resource).is_some_and(|id| roles.contains(&id.to_owned()));
                assert!(owned, "{role} passes {resource}, not a role of this stack");
            }
        }
        assert!(stack == trading_service() || passing >= 4, "{passing}");
    }
}

#[test]
fn a_star_resource_only_where_aws_requires_it() {
    for stack in [main_stack(), trading_service()] {
        for (role, statement) in statements(stack) {
            if one_or_many(&statement["Resource"])
                .iter()
                .any(|resource| *resource == "*")
            {
                for action in actions(statement) {
                    assert!(
                        STAR_ALLOWED.contains(&action),
                        "{role}: {action} on \"*\" (not on the allow-list)"
                    );
                }
            }
        }
    }
}

/// The bucket (logical ID) and prefix of an object ARN `${Bucket.Arn}/prefix/*`.
fn object_grant(resource: &str) -> Option<(String, String)> {
    let rest = resource.strip_prefix("${")?;
    let (bucket, path) = rest.split_once(".Arn}/")?;
    Some((bucket.to_owned(), path.trim_end_matches('*').to_owned()))
}

#[test]
fn every_object_read_is_granted_with_a_list_of_its_prefix() {
    for stack in [main_stack(), trading_service()] {
        let by_role: BTreeMap<String, Vec<&Value>> =
            statements(stack)
                .into_iter()
                .fold(BTreeMap::new(), |mut roles, (role, statement)| {
                    roles.entry(role).or_default().push(statement);
                    roles
                });
        for (role, statements) in &by_role {
            for statement in statements {
                if !actions(statement).contains(&"s3:GetObject") {
                    continue;
                }
                for resource in one_or_many(&statement["Resource"]) {
                    let Some((bucket, prefix)) = object_grant(&resource_text(resource)) else {
                        // A bucket named by parameter (the trading service's configs): checked by its own grant below.
                        continue;
                    };
                    let listed = statements.iter().any(|list| {
                        actions(list).contains(&"s3:ListBucket")
                            && one_or_many(&list["Resource"])
                                .iter()
                                .any(|target| referenced(target) == Some(bucket.as_str()))
                            && match list["Condition"]["StringLike"]["s3:prefix"].as_str() {
                                None => true,
                                Some(listed) => prefix.starts_with(listed.trim_end_matches('*')),
                            }
                    });
                    assert!(listed, "{role} reads {bucket}/{prefix}* without listing it");
                }
            }
        }
    }
}

#[test]
fn functions_in_the_vpc_reach_what_they_call() {
    let stack = main_stack();
    let all = &stack["Resources"];
    // The private subnets' route tables: a default route through NAT, and the S3 and DynamoDB gateway endpoints.
    let tables: BTreeMap<String, String> = resources(stack, "AWS::EC2::SubnetRouteTableAssociation")
        .map(|(_, association)| {
            let properties = &association["Properties"];
            (
                referenced(&properties["SubnetId"]).expect("subnet").to_owned(),
                referenced(&properties["RouteTableId"]).expect("table").to_owned(),
            )
        })
        .collect();
    let nat_routed: BTreeSet<String> = resources(stack, "AWS::EC2::Route")
        .filter(|(_, route)| {
            route["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0" && !route["Properties"]["NatGatewayId"].is_null()
        })
        .map(|(_, route)| {
            referenced(&route["Properties"]["RouteTableId"])
                .expect("table")
                .to_owned()
        })
        .collect();
    let deployed = deployed_with(&[]);
    let gateway_endpoints: BTreeMap<String, BTreeSet<String>> = made(&deployed, "AWS::EC2::VPCEndpoint")
        .filter(|(_, endpoint)| endpoint["Properties"]["VpcEndpointType"] == "Gateway")
        .map(|(_, endpoint)| {
            let properties = &endpoint["Properties"];
            let service = properties["ServiceName"]["Fn::Sub"]
                .as_str()
                .and_then(|name| name.rsplit('.').next())
                .expect("a service")
                .to_owned();
            let tables = deployed.resolve(&properties["RouteTableIds"]).into_iter().collect();
            (service, tables)
        })
        .collect();
    let egress = |group: &str, port: u64| -> Vec<Value> {
        let inline = one_or_many(&all[group]["Properties"]["SecurityGroupEgress"])
            .into_iter()
            .filter(|rule| rule["FromPort"] == port)
            .cloned();
        let separate = resources(stack, "AWS::EC2::SecurityGroupEgress")
            .filter(|(_, rule)| referenced(&rule["Properties"]["GroupId"]) == Some(group))
            .map(|(_, rule)| rule["Properties"].clone())
            .filter(|rule| rule["FromPort"] == port);
        inline.chain(separate).collect()
    };
    let mut in_vpc = 0;
    for (id, function) in resources(stack, "AWS::Lambda::Function") {
        let vpc = &function["Properties"]["VpcConfig"];
        if vpc.is_null() {
            continue;
        }
        in_vpc += 1;
        let subnets: Vec<String> = one_or_many(&vpc["SubnetIds"]["Fn::If"][1])
            .into_iter()
            .filter_map(referenced)
            .map(str::to_owned)
            .collect();
        assert_eq!(subnets.len(), 2, "{id}: two zones");
        let calls: BTreeSet<String> = statements(stack)
            .into_iter()
            .filter(|(role, _)| *role == format!("{id}Role"))
            .flat_map(|(_, statement)| {
                actions(statement)
                    .into_iter()
                    .map(|a| a.split(':').next().unwrap_or(a).to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        for subnet in &subnets {
            let table = tables
                .get(subnet)
                .unwrap_or_else(|| panic!("{subnet} has no route table"));
            for service in &calls {
                let reached = nat_routed.contains(table)
                    || gateway_endpoints
                        .get(service)
                        .is_some_and(|tables| tables.contains(table));
                assert!(reached, "{id} calls {service} but {subnet} has no route to it");
            }
            for service in ["s3", "dynamodb"] {
                assert!(
                    gateway_endpoints
                        .get(service)
                        .is_some_and(|tables| tables.contains(table)),
                    "{subnet}: {service} through its free gateway endpoint"
                );
            }
        }
        for group in one_or_many(&vpc["SecurityGroupIds"]).into_iter().filter_map(referenced) {
            assert!(
                egress(group, 443).iter().any(|rule| rule["CidrIp"] == "0.0.0.0/0"),
                "{id}: {group} cannot reach the AWS APIs"
            );
            let calls_mlflow = !function["Properties"]["Environment"]["Variables"]["MLFLOW_TRACKING_URI"].is_null();
            if calls_mlflow {
                let to_mlflow = egress(group, 5000)
                    .iter()
                    .any(|rule| referenced(&rule["DestinationSecurityGroupId"]) == Some("MlflowSecurityGroup"));
                let admitted = resources(stack, "AWS::EC2::SecurityGroupIngress").any(|(_, rule)| {
                    referenced(&rule["Properties"]["GroupId"]) == Some("MlflowSecurityGroup")
                        && referenced(&rule["Properties"]["SourceSecurityGroupId"]) == Some(group)
                        && rule["Properties"]["FromPort"] == 5000
                });
                assert!(to_mlflow && admitted, "{id}: {group} cannot reach MLflow");
            }
        }
    }
    assert_eq!(in_vpc, 10, "the functions that call MLflow");
}

/// The TradAI metrics a dashboard widget or alarm reads, by name.
fn business_metrics_read(stack: &Value) -> BTreeSet<String> {
    let body = stack["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("a !Sub body");
    let dashboard: Value = serde_json::from_str(body).expect("JSON");
    let mut names = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().expect("widgets") {
        for metric in one_or_many(&widget["properties"]["metrics"]) {
            let parts = one_or_many(metric);
            if parts.first().and_then(|first| first.as_str()) == Some(tradai::metrics::NAMESPACE) {
                names.insert(parts[1].as_str().expect("a metric name").to_owned());
            }
            if let Some(expression) = parts.first().and_then(|first| first["expression"].as_str()) {
                for name in tradai::metrics::ALL {
                    if expression.contains(&format!("MetricName=\"{name}\"")) {
                        names.insert((*name).to_owned());
                    }
                }
                assert!(
                    !expression.contains(tradai::metrics::NAMESPACE) || expression.contains("MetricName="),
                    "{expression}"
                );
            }
        }
    }
    for (_, alarm) in resources(stack, "AWS::CloudWatch::Alarm") {
        if alarm["Properties"]["Namespace"] == tradai::metrics::NAMESPACE {
            names.insert(alarm["Properties"]["MetricName"].as_str().expect("a name").to_owned());
        }
    }
    names
}

#[test]
fn the_dashboard_shows_every_business_metric_the_functions_publish_and_no_other() {
    let stack = main_stack();
    let published: BTreeSet<String> = tradai::metrics::ALL.iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(business_metrics_read(stack), published);
    // Each publisher's metrics carry the stage the dashboard filters on.
    for id in [
        "SubmitBacktestFunction",
        "RerunBacktestFunction",
        "CancelBacktestFunction",
        "NotifyCompletionFunction",
        "OrphanScannerFunction",
    ] {
        assert_eq!(
            stack["Resources"][id]["Properties"]["Environment"]["Variables"]["ENVIRONMENT"],
            json!({"Ref": "Stage"}),
            "{id}"
        );
    }
}

#[test]
fn ready_probes_every_bucket_the_stack_keeps_data_in() {
    let stack = main_stack();
    let ready = &stack["Resources"]["ReadyFunction"]["Properties"]["Environment"]["Variables"];
    let probed: BTreeSet<&str> = [
        ready["MARKET_DATA_S3_URI"]["Fn::Sub"]
            .as_str()
            .and_then(|uri| uri.strip_prefix("s3://${"))
            .and_then(|rest| rest.split('}').next()),
        referenced(&ready["S3_CONFIG_BUCKET"]),
        referenced(&ready["S3_RESULTS_BUCKET"]),
    ]
    .into_iter()
    .flatten()
    .collect();
    let buckets: BTreeSet<&str> = resources(stack, "AWS::S3::Bucket")
        .map(|(id, _)| id.as_str())
        .filter(|id| *id != "AccessLogBucket")
        .collect();
    assert_eq!(probed, buckets);
    let listed: BTreeSet<&str> = statements(stack)
        .into_iter()
        .filter(|(role, statement)| role == "ReadyFunctionRole" && actions(statement).contains(&"s3:ListBucket"))
        .flat_map(|(_, statement)| one_or_many(&statement["Resource"]).into_iter().filter_map(referenced))
        .collect();
    assert_eq!(listed, buckets, "HeadBucket needs s3:ListBucket on each");
}

/// A first create that fails leaves nothing that blocks its retry: what outlives its stack is kept only once the
/// create that made it succeeded (`RetainExceptOnCreate`, never `Retain`), and the database leaves a snapshot.
#[test]
fn what_outlives_its_stack_is_removed_when_the_create_that_made_it_rolls_back() {
    let repository = transformed("templates/repository.yaml");
    let mut kept = BTreeSet::new();
    for (template, stack) in [
        ("template.yaml", main_stack()),
        ("templates/repository.yaml", &repository),
    ] {
        for (id, resource) in stack["Resources"].as_object().expect("resources") {
            match resource["DeletionPolicy"].as_str() {
                Some("Retain") => panic!(
                    "{template}: {id} is Retain: a first create that fails leaves it, and the retry fails with \
                     \"already exists\"; use RetainExceptOnCreate"
                ),
                Some("RetainExceptOnCreate") => {
                    kept.insert(id.clone());
                }
                Some("Snapshot") => assert_eq!(resource["Type"], "AWS::RDS::DBInstance", "{template}: {id}"),
                _ => {}
            }
        }
    }
    let expected = [
        "AccessLogBucket",
        "ConfigBucket",
        "MarketDataBucket",
        "Repository",
        "ResultsBucket",
        "SweepTable",
        "WorkflowStateTable",
    ];
    assert_eq!(
        kept,
        expected.iter().map(|id| (*id).to_owned()).collect::<BTreeSet<_>>()
    );
}

/// The main stack as deployed with `parameters` over the defaults: its conditions evaluated, and every `Ref` and
/// `Fn::GetAtt` resolving to the logical ID it names, so resolved values can be compared with the template's IDs.
fn deployed_with(parameters: &[(&str, &str)]) -> tradai_local::physical::Physical {
    let stack = main_stack();
    let by_id = stack["Resources"]
        .as_object()
        .expect("Resources")
        .keys()
        .map(|id| (id.clone(), (id.clone(), id.clone())))
        .collect();
    let mut physical = tradai_local::physical::Physical::new(stack, by_id, "dev");
    for (name, value) in parameters {
        physical.parameters.insert((*name).to_owned(), (*value).to_owned());
    }
    physical.with_template(stack)
}

/// The resources a deployment makes: those without a `Condition`, or whose condition holds.
fn made<'a>(
    physical: &'a tradai_local::physical::Physical,
    kind: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    resources(main_stack(), kind).filter(|(_, resource)| {
        resource["Condition"]
            .as_str()
            .is_none_or(|condition| physical.conditions.get(condition).copied().unwrap_or(false))
    })
}

/// The subnets strategy tasks run in: the state machine's substitution and every function's `ECS_SUBNETS` agree.
fn strategy_subnets(physical: &tradai_local::physical::Physical) -> Vec<String> {
    let stack = main_stack();
    let substitution =
        &stack["Resources"]["BacktestStateMachine"]["Properties"]["DefinitionSubstitutions"]["StrategySubnets"];
    let subnets = physical.resolve_one(substitution).expect("resolved");
    for (id, function) in made(physical, "AWS::Lambda::Function") {
        let variable = &function["Properties"]["Environment"]["Variables"]["ECS_SUBNETS"];
        if !variable.is_null() {
            assert_eq!(
                physical.resolve_one(variable).expect("resolved"),
                subnets,
                "{id}'s ECS_SUBNETS"
            );
        }
    }
    subnets.split(',').map(str::to_owned).collect()
}

#[test]
fn isolated_strategy_tasks_have_no_route_out_of_the_vpc_and_reach_what_a_backtest_needs() {
    let isolated = deployed_with(&[("IsolatedStrategyTasks", "true")]);
    let subnets = strategy_subnets(&isolated);
    assert_eq!(subnets, ["StrategySubnetA", "StrategySubnetB"]);
    let table_of = |subnet: &str| -> String {
        let tables: Vec<String> = made(&isolated, "AWS::EC2::SubnetRouteTableAssociation")
            .filter(|(_, association)| referenced(&association["Properties"]["SubnetId"]) == Some(subnet))
            .map(|(_, association)| {
                referenced(&association["Properties"]["RouteTableId"])
                    .expect("a table")
                    .to_owned()
            })
            .collect();
        assert_eq!(tables.len(), 1, "{subnet}: one route table");
        tables[0].clone()
    };
    let zones: BTreeSet<String> = subnets
        .iter()
        .map(|subnet| main_stack()["Resources"][subnet]["Properties"]["AvailabilityZone"].to_string())
        .collect();
    assert_eq!(zones.len(), 2, "two zones");
    for subnet in &subnets {
        let table = table_of(subnet);
        let routes: Vec<&String> = made(&isolated, "AWS::EC2::Route")
            .filter(|(_, route)| referenced(&route["Properties"]["RouteTableId"]) == Some(table.as_str()))
            .map(|(id, _)| id)
            .collect();
        assert!(routes.is_empty(), "{subnet}'s table {table} has routes out: {routes:?}");
        for service in ["s3", "dynamodb"] {
            let reached = made(&isolated, "AWS::EC2::VPCEndpoint").any(|(_, endpoint)| {
                let properties = &endpoint["Properties"];
                properties["VpcEndpointType"] == "Gateway"
                    && properties["ServiceName"]["Fn::Sub"]
                        .as_str()
                        .is_some_and(|name| name.ends_with(&format!(".{service}")))
                    && isolated.resolve(&properties["RouteTableIds"]).contains(&table)
            });
            assert!(reached, "{subnet} reaches {service} through its gateway endpoint");
        }
    }
    // Pulling the image, writing the log stream, reading the execution role's secret: interface endpoints with
    // private DNS in both strategy subnets, open to HTTPS from the VPC.
    for service in ["ecr.api", "ecr.dkr", "logs", "secretsmanager"] {
        let endpoint = made(&isolated, "AWS::EC2::VPCEndpoint")
            .map(|(_, endpoint)| &endpoint["Properties"])
            .find(|properties| {
                properties["ServiceName"]["Fn::Sub"]
                    .as_str()
                    .is_some_and(|name| name.ends_with(&format!("}}.{service}")))
            })
            .unwrap_or_else(|| panic!("no {service} endpoint"));
        assert_eq!(endpoint["VpcEndpointType"], "Interface", "{service}");
        assert_eq!(endpoint["PrivateDnsEnabled"], true, "{service}");
        let mut in_subnets = isolated.resolve(&endpoint["SubnetIds"]);
        in_subnets.sort();
        assert_eq!(in_subnets, subnets, "{service}: in both strategy subnets");
        for group in isolated.resolve(&endpoint["SecurityGroupIds"]) {
            let ingress = one_or_many(&main_stack()["Resources"][&group]["Properties"]["SecurityGroupIngress"]);
            assert!(
                ingress
                    .iter()
                    .any(|rule| rule["FromPort"] == 443 && rule["CidrIp"] == json!({"Ref": "VpcCidr"})),
                "{service}: {group} admits HTTPS from the VPC"
            );
        }
    }
    // What the strategy task role calls is all reachable from there.
    let services: BTreeSet<String> = statements(main_stack())
        .into_iter()
        .filter(|(role, _)| role == "StrategyTaskRole")
        .flat_map(|(_, statement)| actions(statement))
        .map(|action| action.split(':').next().unwrap_or(action).to_owned())
        .collect();
    assert_eq!(services, BTreeSet::from(["dynamodb".to_owned(), "s3".to_owned()]));

    // By default strategy tasks share the private subnets (NAT), and none of the isolation is made.
    let default = deployed_with(&[]);
    assert_eq!(strategy_subnets(&default), ["PrivateSubnetA", "PrivateSubnetB"]);
    let isolation_only: Vec<&String> = made(&isolated, "AWS::EC2::VPCEndpoint")
        .chain(made(&isolated, "AWS::EC2::Subnet"))
        .map(|(id, _)| id)
        .filter(|id| {
            made(&default, "AWS::EC2::VPCEndpoint")
                .chain(made(&default, "AWS::EC2::Subnet"))
                .all(|(other, _)| other != *id)
        })
        .collect();
    assert_eq!(
        isolation_only.len(),
        6,
        "four interface endpoints and two subnets, only when isolated: {isolation_only:?}"
    );
    // With an existing VPC the stack makes no subnets: a rule refuses the isolation there.
    let rule = &main_stack()["Rules"]["IsolationNeedsTheStacksNetwork"];
    assert_eq!(
        rule["Assertions"][0]["Assert"],
        json!({"Fn::Equals": [{"Ref": "VpcId"}, ""]})
    );
}
