//! `tradai deploy` and `tradai destroy` end to end, the SAM CLI and Docker stood in for at the process boundary
//! (`tests/fixtures/deploy`: they record each call and do to the account what the real ones would) and AWS by the
//! moto stand-in: every preflight failure with its message and exit code and nothing changed; the built template
//! is what gets deployed, and a build whose functions point at source folders is never deployed; the stage's
//! parameters merged with the user's, never replaced; the MLflow image built and pushed once per tag; a re-run
//! updates; the stage reached afterwards with `--stage`; destroy keeps the data unless told, then deletes it
//! (every object version).

use std::path::{Path, PathBuf};

use serde_json::Value;
use tradai_tests::project_root;

use crate::cli::{Ran, checks_of, ran, tradai_command};

/// A project checkout of its own (its samconfig.toml names stacks of this test), the stand-in tools on a PATH of
/// their own, and where they record their calls.
struct Rig {
    folder: PathBuf,
    project: PathBuf,
    state: PathBuf,
    tools: PathBuf,
    log: PathBuf,
    id: String,
}

impl Rig {
    fn new() -> Rig {
        let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let root = project_root();
        let folder = root.join(format!(".stand-ins/deploy-{id}"));
        let (project, state, tools) = (folder.join("project"), folder.join("state"), folder.join("bin"));
        for dir in [project.join("templates"), state.clone(), tools.clone()] {
            std::fs::create_dir_all(&dir).expect("a folder");
        }
        std::fs::copy(root.join("template.yaml"), project.join("template.yaml")).expect("template");
        std::fs::copy(
            root.join("templates/repository.yaml"),
            project.join("templates/repository.yaml"),
        )
        .expect("repository template");
        let stage = |stage: &str, days: u32, region: bool| {
            format!(
                "[{stage}.global.parameters]\nstack_name = \"tradai-deploy-{id}-{stage}\"\n\n[{stage}.deploy.parameters]\n{}\
                 parameter_overrides = \"Stage={stage} ExecutorMode=sqs LaunchMode=stepfunctions LogRetentionDays={days} \
                 MlflowImageTag=test-{id}\"\n\n",
                if region { "region = \"us-east-1\"\n" } else { "" }
            )
        };
        let samconfig = format!(
            "version = 0.1\n\n{}{}{}",
            stage("dev", 30, true),
            stage("prod", 365, true),
            stage("qa", 7, false)
        );
        std::fs::write(project.join("samconfig.toml"), samconfig).expect("samconfig");
        let python = root.join(".stand-ins/venv/bin/python");
        for tool in ["sam", "docker"] {
            let fake = root.join(format!("tests/fixtures/deploy/fake_{tool}.py"));
            let script = format!("#!/bin/sh\nexec {} {} \"$@\"\n", python.display(), fake.display());
            write_executable(&tools.join(tool), &script);
        }
        let log = folder.join("calls.jsonl");
        Rig {
            folder,
            project,
            state,
            tools,
            log,
            id,
        }
    }

    /// `tradai ARGS` in the project, with the stand-in tools first on PATH and `environment` set (a `None` value
    /// removes the variable).
    async fn tradai(&self, args: &[&str], environment: &[(&str, Option<&str>)]) -> Ran {
        self.tradai_in(&self.project, args, environment).await
    }

    /// `tradai ARGS` as [`Rig::tradai`] runs it, in `folder`.
    async fn tradai_in(&self, folder: &Path, args: &[&str], environment: &[(&str, Option<&str>)]) -> Ran {
        let mut command = tradai_command(&self.state, args);
        let path = format!("{}:{}", self.tools.display(), std::env::var("PATH").unwrap_or_default());
        command
            .current_dir(folder)
            .env("PATH", path)
            .env("FAKE_TOOLS_LOG", &self.log)
            .env("FAKE_SAM_BOOTSTRAP", tradai_local::debug_binary("tradai"))
            .env("AWS_ENDPOINT_URL", tradai_tests::moto::endpoint());
        for (name, value) in environment {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        ran(command).await
    }

    /// Every call the stand-in tools recorded, in order, and forgets them.
    fn calls(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::remove_file(&self.log).ok();
        text.lines()
            .map(|line| serde_json::from_str(line).expect("a recorded call"))
            .collect()
    }

    fn stack(&self, stage: &str) -> String {
        format!("tradai-deploy-{}-{stage}", self.id)
    }
}

/// A VPC of two zones' subnets in the AWS stand-in (`a1`, `a2` in us-east-1a, `a3` in us-east-1b) and another VPC
/// with `b1`, made with boto3 (the tests link no EC2 client).
fn existing_network() -> Value {
    let script = r#"
import json, sys
import boto3
ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=sys.argv[1])
vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
other = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
def subnet(vpc, cidr, zone):
    return ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
print(json.dumps({"vpc": vpc, "other_vpc": other, "a1": subnet(vpc, "10.77.0.0/24", "us-east-1a"),
    "a2": subnet(vpc, "10.77.1.0/24", "us-east-1a"), "a3": subnet(vpc, "10.77.2.0/24", "us-east-1b"),
    "b1": subnet(other, "10.78.0.0/24", "us-east-1b")}))
"#;
    let output = std::process::Command::new(project_root().join(".stand-ins/venv/bin/python"))
        .arg("-c")
        .arg(script)
        .arg(tradai_tests::moto::endpoint())
        .output()
        .expect("python runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("a script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("executable");
}

/// The arguments of each call of `tool` whose first argument is `command`.
fn of<'a>(calls: &'a [Value], tool: &str, command: &str) -> Vec<Vec<&'a str>> {
    calls
        .iter()
        .filter(|call| call["tool"] == tool && call["args"][0] == command)
        .map(|call| {
            call["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        })
        .collect()
}

/// The value after `name` in `args`.
fn option<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|arg| *arg == name)
        .and_then(|at| args.get(at + 1).copied())
}

/// The main stack's `sam deploy` among `calls` (the one of the built template).
fn stack_deploys<'a>(calls: &'a [Value], rig: &Rig) -> Vec<Vec<&'a str>> {
    let built = rig.project.join(".aws-sam/build/template.yaml").display().to_string();
    of(calls, "sam", "deploy")
        .into_iter()
        .filter(|args| option(args, "--template-file") == Some(built.as_str()))
        .collect()
}

#[tokio::test]
async fn a_stage_is_deployed_from_its_built_template_with_its_whole_parameter_set_updated_and_destroyed() {
    let rig = Rig::new();
    let sdk = tradai_tests::moto::sdk_config().await;
    let deploy_prod = ["deploy", "--stage", "prod"];

    // Preflight: each failure names its fix, exits NOT_READY (6), and nothing is built or deployed.
    let no_sam = rig.folder.join("no-sam");
    std::fs::create_dir_all(&no_sam).expect("a folder");
    std::fs::copy(rig.tools.join("docker"), no_sam.join("docker")).expect("docker only");
    let ran = rig
        .tradai(&deploy_prod, &[("PATH", Some(&no_sam.display().to_string()))])
        .await;
    assert!(
        ran.code == 6 && ran.stderr.contains("`sam` cannot be run") && ran.stderr.contains("AWS SAM CLI"),
        "{ran}"
    );
    let ran = rig
        .tradai(&deploy_prod, &[("FAKE_DOCKER_DAEMON_DOWN", Some("1"))])
        .await;
    assert!(
        ran.code == 6
            && ran.stderr.contains("Cannot connect to the Docker daemon")
            && ran.stderr.contains("start its daemon"),
        "{ran}"
    );
    let nowhere = rig.folder.join("no-such-file").display().to_string();
    let no_credentials = [
        ("AWS_ACCESS_KEY_ID", None),
        ("AWS_SECRET_ACCESS_KEY", None),
        ("AWS_SESSION_TOKEN", None),
        ("AWS_PROFILE", None),
        ("AWS_SHARED_CREDENTIALS_FILE", Some(nowhere.as_str())),
        ("AWS_CONFIG_FILE", Some(nowhere.as_str())),
    ];
    let ran = rig.tradai(&deploy_prod, &no_credentials).await;
    assert!(
        ran.code == 6 && ran.stderr.contains("no usable AWS credentials") && ran.stderr.contains("aws sso login"),
        "{ran}"
    );
    let no_region = [
        ("AWS_REGION", None),
        ("AWS_DEFAULT_REGION", None),
        ("AWS_CONFIG_FILE", Some(nowhere.as_str())),
    ];
    let ran = rig.tradai(&["deploy", "--stage", "qa"], &no_region).await;
    assert!(
        ran.code == 6 && ran.stderr.contains("no AWS region") && ran.stderr.contains("[qa.deploy.parameters]"),
        "{ran}"
    );
    let ran = rig.tradai(&["deploy", "--stage", "staging"], &[]).await;
    assert!(ran.code == 2 && ran.stderr.contains("has no stage staging"), "{ran}");
    let ran = rig
        .tradai(
            &["deploy", "--stage", "prod", "--parameter", "AlertMail=x@example.com"],
            &[],
        )
        .await;
    assert!(
        ran.code == 2 && ran.stderr.contains("AlertMail is not a parameter of the template"),
        "{ran}"
    );
    // An account of its own (a role assumed in it) whose on-demand Fargate quota cannot hold MLflow and a backtest.
    let lean = format!("2{}", &uuid::Uuid::new_v4().as_u128().to_string()[..11]);
    let credentials = aws_sdk_sts::Client::new(&sdk)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{lean}:role/deployer"))
        .role_session_name("deploy-test")
        .send()
        .await
        .expect("a role assumed")
        .credentials
        .expect("credentials");
    let in_lean = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(tradai_tests::moto::endpoint())
        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
            aws_sdk_sts::config::Credentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_owned()),
                None,
                "assumed",
            ),
        ))
        .build();
    aws_sdk_servicequotas::Client::new(&in_lean)
        .request_service_quota_increase()
        .service_code("fargate")
        .quota_code("L-3032A538")
        .desired_value(1.0)
        .send()
        .await
        .expect("the stand-in sets the quota");
    let lean_environment = [
        ("AWS_ACCESS_KEY_ID", Some(credentials.access_key_id())),
        ("AWS_SECRET_ACCESS_KEY", Some(credentials.secret_access_key())),
        ("AWS_SESSION_TOKEN", Some(credentials.session_token())),
    ];
    let ran = rig.tradai(&deploy_prod, &lean_environment).await;
    assert!(
        ran.code == 6
            && ran.stderr.contains(&format!("account {lean}"))
            && ran
                .stderr
                .contains("the Fargate On-Demand vCPU quota is 1, below the 1.5 a single backtest needs"),
        "{ran}"
    );
    // An existing VPC's subnets: fewer than two, one not there, one of another VPC, all in one zone.
    let network = existing_network();
    let text = |name: &str| network[name].as_str().expect("an id").to_owned();
    let (vpc, other_vpc) = (text("vpc"), text("other_vpc"));
    let (a1, a2, a3, b1) = (text("a1"), text("a2"), text("a3"), text("b1"));
    let with_subnets = |subnets: String| {
        let vpc = format!("VpcId={vpc}");
        let subnets = format!("PrivateSubnetIds={subnets}");
        let rig = &rig;
        async move {
            rig.tradai(
                &[
                    "deploy",
                    "--stage",
                    "prod",
                    "--parameter",
                    &vpc,
                    "--parameter",
                    &subnets,
                ],
                &[],
            )
            .await
        }
    };
    let missing = "subnet-0123456789abcdef0";
    for (subnets, said) in [
        (a1.clone(), "PrivateSubnetIds names 1 subnet(s)".to_owned()),
        (format!("{a1},{missing}"), missing.to_owned()),
        (format!("{a1},{b1}"), format!("{b1} is in {other_vpc}")),
        (format!("{a1},{a2}"), "are all in us-east-1a".to_owned()),
    ] {
        let ran = with_subnets(subnets).await;
        assert!(ran.code == 6 && ran.stderr.contains(&said), "{said}: {ran}");
    }
    assert_eq!(
        rig.calls(),
        Vec::<Value>::new(),
        "no preflight failure builds or deploys"
    );

    // A build whose functions point at the checkout is refused before sam deploy could zip it as their code (the
    // existing VPC's subnets, in two zones, pass).
    let ran = rig
        .tradai(
            &[
                "deploy",
                "--stage",
                "prod",
                "--parameter",
                &format!("VpcId={vpc}"),
                "--parameter",
                &format!("PrivateSubnetIds={a1},{a3}"),
            ],
            &[("FAKE_SAM_BUILD", Some("source"))],
        )
        .await;
    assert!(
        ran.stderr
            .contains(&format!("VPC {vpc}: 2 subnets in us-east-1a, us-east-1b")),
        "{ran}"
    );
    assert!(
        ran.code == 1 && ran.stderr.contains("HealthFunction's code is \".\""),
        "{ran}"
    );
    let calls = rig.calls();
    assert_eq!(of(&calls, "sam", "build").len(), 1);
    assert!(stack_deploys(&calls, &rig).is_empty(), "nothing deployed: {calls:?}");
    // Before the build, the MLflow image of the stage's tag was built for x86-64 and pushed, once.
    let tag = format!("test-{}", rig.id);
    let image = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/tradai-mlflow:{tag}");
    let built = of(&calls, "docker", "build");
    assert!(
        built.len() == 1
            && option(&built[0], "--platform") == Some("linux/amd64")
            && option(&built[0], "--tag") == Some(image.as_str()),
        "{calls:?}"
    );
    assert_eq!(of(&calls, "docker", "push"), [vec!["push", image.as_str()]]);
    let login = calls
        .iter()
        .find(|call| call["tool"] == "docker" && call["args"][0] == "login")
        .expect("a login");
    assert!(
        login["stdin"].as_str().is_some_and(|password| !password.is_empty()),
        "the password goes on stdin: {login}"
    );

    // The first deploy: samconfig's prod parameters with the user's merged over them.
    let ran = rig
        .tradai(
            &[
                "--json",
                "deploy",
                "--stage",
                "prod",
                "--parameter",
                "AlertEmail=oncall@example.com",
                "--parameter",
                "LogRetentionDays=90",
            ],
            &[],
        )
        .await;
    assert_eq!(ran.code, 0, "{ran}");
    assert!(
        ran.stderr
            .contains("warning: the Fargate Spot vCPU quota is 6, below the 10 a sweep"),
        "a new account's default quota runs a backtest, not a sweep of 10 at once: {ran}"
    );
    let calls = rig.calls();
    let build = of(&calls, "sam", "build");
    assert_eq!(
        option(&build[0], "--template-file"),
        Some(rig.project.join("template.yaml").display().to_string().as_str())
    );
    let deploys = stack_deploys(&calls, &rig);
    assert_eq!(deploys.len(), 1, "{calls:?}");
    let deploy = &deploys[0];
    let overrides: Vec<&str> = deploy
        .iter()
        .skip_while(|arg| **arg != "--parameter-overrides")
        .skip(1)
        .copied()
        .collect();
    let tag_parameter = format!("MlflowImageTag={tag}");
    assert_eq!(
        overrides,
        [
            "Stage=prod",
            "ExecutorMode=sqs",
            "LaunchMode=stepfunctions",
            "LogRetentionDays=90",
            tag_parameter.as_str(),
            "AlertEmail=oncall@example.com"
        ],
        "the whole set, the user's merged in"
    );
    assert_eq!(option(deploy, "--stack-name"), Some(rig.stack("prod").as_str()));
    assert_eq!(option(deploy, "--config-env"), Some("prod"));
    assert_eq!(
        option(deploy, "--on-failure"),
        Some("DELETE"),
        "a failed first create is deleted"
    );
    let roles = aws_sdk_iam::Client::new(&sdk)
        .list_roles()
        .path_prefix("/aws-service-role/ecs.amazonaws.com/")
        .send()
        .await
        .expect("roles");
    assert_eq!(roles.roles().len(), 1, "the ECS service-linked role exists");
    let answer = ran.json();
    let api = format!("https://{}.execute-api.us-east-1.amazonaws.com", rig.stack("prod"));
    assert_eq!(answer["api_url"], api.as_str(), "{ran}");
    assert_eq!(answer["outputs"]["StageName"], "prod");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(rig.state.join("stages/prod.json")).expect("the stage is saved"))
            .expect("JSON");
    assert_eq!(saved["api_url"], api.as_str());

    // Later commands reach the stage by name: its saved API, signed (unreachable here, so exit 3 naming it).
    let ran = rig.tradai(&["--stage", "prod", "list"], &[]).await;
    assert!(ran.code == 3 && ran.stderr.contains(&rig.stack("prod")), "{ran}");

    // Deployed again: an update; the image of that tag is there already.
    let ran = rig.tradai(&deploy_prod, &[]).await;
    assert_eq!(ran.code, 0, "{ran}");
    let calls = rig.calls();
    let deploys = stack_deploys(&calls, &rig);
    assert_eq!(
        option(&deploys[0], "--on-failure"),
        Some("ROLLBACK"),
        "an update rolls back"
    );
    assert!(of(&calls, "docker", "build").is_empty() && of(&calls, "docker", "push").is_empty());
    assert_eq!(
        of(&calls, "sam", "deploy").len(),
        1,
        "the repository stack is not deployed again"
    );

    // Destroyed: the stack goes, its data stays (and is listed) unless --delete-data.
    let ran = rig.tradai(&["destroy", "--stage", "prod"], &[]).await;
    assert_eq!(ran.code, 0, "{ran}");
    let results = format!("{}-results", rig.stack("prod"));
    assert!(ran.stdout.contains(&format!("kept bucket {results}")), "{ran}");
    let calls = rig.calls();
    assert_eq!(
        option(&of(&calls, "sam", "delete")[0], "--stack-name"),
        Some(rig.stack("prod").as_str())
    );
    let s3 = aws_sdk_s3::Client::new(&sdk);
    assert!(
        s3.head_bucket().bucket(&results).send().await.is_ok(),
        "the data is kept"
    );
    let ran = rig.tradai(&["--stage", "prod", "list"], &[]).await;
    assert!(
        ran.code == 3 && ran.stderr.contains("was not deployed from here"),
        "{ran}"
    );

    // With --delete-data, every version of every object goes with the buckets and tables.
    let ran = rig.tradai(&["deploy", "--stage", "dev"], &[]).await;
    assert_eq!(ran.code, 0, "{ran}");
    let dev_results = format!("{}-results", rig.stack("dev"));
    for body in ["first", "second"] {
        s3.put_object()
            .bucket(&dev_results)
            .key("results/x/summary.json")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .expect("put");
    }
    let ran = rig
        .tradai(&["--json", "destroy", "--stage", "dev", "--delete-data"], &[])
        .await;
    assert_eq!(ran.code, 0, "{ran}");
    let mut deleted: Vec<String> = ran.json()["deleted_data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|resource| resource.as_str().map(str::to_owned))
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            format!("bucket {dev_results}"),
            format!("table {}-jobs", rig.stack("dev"))
        ],
        "{ran}"
    );
    assert!(
        s3.head_bucket().bucket(&dev_results).send().await.is_err(),
        "the bucket is gone"
    );
    std::fs::remove_dir_all(&rig.folder).ok();
}

/// `tradai --stage dev smoke` on a deployed stage builds the sample strategy's image with Docker — the engine image,
/// then the strategy's `Dockerfile` over it — pushes it to the stage's ECR (its repository stack made first) and
/// registers it. The stage here is the tests' local deployment (its saved API the local one, its AWS the
/// deployment's), Docker and the SAM CLI the stand-ins, so the image runs nothing: the smoke reports the backtest
/// failed, and still takes its data out again.
#[tokio::test]
async fn a_smoke_of_a_deployed_stage_builds_pushes_and_registers_the_sample_strategys_image() {
    let rig = Rig::new();
    let local = tradai_tests::deployment::shared();
    let record = serde_json::json!({"stage": "dev", "stack_name": format!("tradai-smoke-{}", rig.id),
        "region": "us-east-1", "account": tradai_local::ACCOUNT, "api_url": local.api_url, "outputs": {},
        "deployed_at": "2026-12-08T00:00:00Z"});
    std::fs::create_dir_all(rig.state.join("stages")).expect("stages");
    std::fs::write(rig.state.join("stages/dev.json"), record.to_string()).expect("the stage's record");
    // An exchange folder of its own: the smoke's markets are merged into no other test's snapshot.
    let exchange = format!("t{}", rig.id);
    let ran = rig
        .tradai_in(
            &project_root(),
            &[
                "--stage",
                "dev",
                "--json",
                "smoke",
                "--exchange",
                &exchange,
                "--timeout-minutes",
                "5",
            ],
            &[("AWS_ENDPOINT_URL", Some(&local.endpoint))],
        )
        .await;
    assert_eq!(ran.code, 1, "the image runs nothing, so the backtest fails: {ran}");
    let report = ran.json();
    let outcome = checks_of(&report);
    assert_eq!(
        outcome,
        [
            ("health", true),
            ("ready", true),
            ("image", true),
            ("register", true),
            ("candles", true),
            ("backtest", false),
            ("cleanup", true)
        ],
        "{report}"
    );
    let calls = rig.calls();
    let repository = of(&calls, "sam", "deploy");
    assert!(
        repository.len() == 1
            && option(&repository[0], "--stack-name") == Some("tradai-ecr-strategy-emacross")
            && repository[0].contains(&"RepositoryName=strategy-emacross"),
        "the repository stack, once: {calls:?}"
    );
    let built = of(&calls, "docker", "build");
    assert_eq!(built.len(), 2, "the engine, then the strategy over it: {calls:?}");
    let engine = option(&built[0], "--tag").expect("the engine's tag");
    assert!(
        engine.starts_with("tradai-engine:")
            && option(&built[0], "--file").is_some_and(|file| file.ends_with("container/Dockerfile"))
    );
    assert_eq!(
        option(&built[1], "--build-arg"),
        Some(format!("ENGINE={engine}").as_str())
    );
    assert!(option(&built[1], "--file").is_some_and(|file| file.ends_with("container/engine/Dockerfile")));
    let image = option(&built[1], "--tag").expect("the image").to_owned();
    assert!(
        image.starts_with(&format!(
            "{}.dkr.ecr.us-east-1.amazonaws.com/strategy-emacross:",
            tradai_local::ACCOUNT
        )),
        "{image}"
    );
    assert!(
        built
            .iter()
            .all(|build| option(build, "--platform") == Some("linux/amd64"))
    );
    assert_eq!(of(&calls, "docker", "push"), [vec!["push", image.as_str()]]);
    assert!(
        report["checks"][3]["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("EmaCross")),
        "{report}"
    );
    std::fs::remove_dir_all(&rig.folder).ok();
}
