//! rotate-secret as Secrets Manager runs it (createSecret, setSecret, testSecret, finishSecret with one token), its
//! secrets in moto: the MLflow users' against MLflow started through `mlflow/serve.py` with its auth app (the new
//! password is MLflow's before it is the secret's current one, the old one is refused after, and a function holding
//! the old one reads the secret again), the database's against RDS and ECS in moto (the instance's password set,
//! MLflow's service deployed again after). A secret the function does not rotate is refused, naming it.

use serde_json::{Value, json};
use tradai::mlflow::{Credentials, MlflowClient, ModelRegistry};
use tradai::rotation::SecretsManagerVersions;

use super::{event, invocation};
use crate::mlflow_registry::{ADMIN, DeployedMlflow, STRATEGY, refused_with, state_folder};

const FUNCTION: &str = "rotate-secret";

type Deps = rotate_secret::Deps<SecretsManagerVersions, rotate_secret::Database>;

/// A secret holding `value`, rotation on (moto enables it with a rotation that changes nothing); its ARN.
async fn rotating_secret(secrets: &aws_sdk_secretsmanager::Client, name: &str, value: &Value) -> String {
    let arn = secrets
        .create_secret()
        .name(name)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("secret")
        .arn
        .expect("ARN");
    secrets
        .rotate_secret()
        .secret_id(&arn)
        .rotate_immediately(false)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .expect("rotation on");
    arn
}

async fn current(secrets: &aws_sdk_secretsmanager::Client, arn: &str, stage: &str) -> Value {
    let text = secrets
        .get_secret_value()
        .secret_id(arn)
        .version_stage(stage)
        .send()
        .await
        .expect("read")
        .secret_string
        .expect("string");
    serde_json::from_str(&text).expect("JSON")
}

/// The sample event `name` for `secret`'s version `token`.
fn step_event(name: &str, secret: &str, token: &str) -> Value {
    let mut event = event(FUNCTION, name);
    event["SecretId"] = json!(secret);
    event["ClientRequestToken"] = json!(token);
    event
}

/// Runs the four steps for `secret` with one new token, as Secrets Manager does; the token.
async fn rotate(deps: &Deps, secret: &str) -> String {
    let token = uuid::Uuid::new_v4().to_string();
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let mut event = step_event("create-secret.json", secret, &token);
        event["Step"] = json!(step);
        rotate_secret::handle(deps, invocation(&event))
            .await
            .unwrap_or_else(|error| panic!("{step}: {error:?}"));
    }
    token
}

struct Names {
    admin: String,
    strategy: String,
    database: String,
    instance: String,
    cluster: String,
    service: String,
}

async fn deps(sdk: &aws_config::SdkConfig, mlflow: tradai::mlflow::MlflowOptions, names: &Names) -> Deps {
    let settings = rotate_secret::Settings {
        aws: tradai::settings::AwsSettings::default(),
        mlflow,
        admin_secret: names.admin.clone(),
        strategy_secret: names.strategy.clone(),
        database_secret: names.database.clone(),
        database_instance: names.instance.clone(),
        mlflow_cluster: names.cluster.clone(),
        mlflow_service: names.service.clone(),
    };
    Deps {
        secrets: SecretsManagerVersions::new(aws_sdk_secretsmanager::Client::new(sdk)),
        database: rotate_secret::Database {
            rds: aws_sdk_rds::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            instance: names.instance.clone(),
            cluster: names.cluster.clone(),
            service: names.service.clone(),
            wait: std::time::Duration::from_secs(10),
        },
        settings,
    }
}

/// Secrets of a test of its own: `tradai/<hex>/mlflow`, `-strategy`, `-database`.
async fn secrets_of(
    secrets: &aws_sdk_secretsmanager::Client,
    admin_password: &str,
    strategy_password: &str,
) -> (String, String, String) {
    let stage = uuid::Uuid::new_v4().simple().to_string();
    (
        rotating_secret(
            secrets,
            &format!("tradai/{stage}/mlflow"),
            &json!({"username": ADMIN, "password": admin_password}),
        )
        .await,
        rotating_secret(
            secrets,
            &format!("tradai/{stage}/mlflow-strategy"),
            &json!({"username": STRATEGY, "password": strategy_password}),
        )
        .await,
        rotating_secret(
            secrets,
            &format!("tradai/{stage}/mlflow-database"),
            &json!({"username": "mlflow", "password": "a-database-password-of-32-chars!"}),
        )
        .await,
    )
}

#[tokio::test]
async fn the_mlflow_users_passwords_rotate_through_mlflow_and_a_function_reads_the_new_one_after_a_401() {
    let sdk = tradai_tests::moto::sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let (admin_password, strategy_password) = ("an-admin-password-of-32-chars-ok", "a-strategy-password-of-32-chars!");
    let state = state_folder();
    let mlflow = DeployedMlflow::start(&state, admin_password, strategy_password).await;
    let (admin, strategy, database) = secrets_of(&secrets, admin_password, strategy_password).await;
    let names = Names {
        admin: admin.clone(),
        strategy: strategy.clone(),
        database,
        instance: "unused".to_owned(),
        cluster: "unused".to_owned(),
        service: "unused".to_owned(),
    };
    let deps = deps(&sdk, mlflow.options(), &names).await;
    // A warm function: it read the admin secret before any rotation.
    let mut options = mlflow.options();
    options.credentials = Credentials::Secret(admin.clone());
    let function = MlflowClient::new(options).expect("client");
    function
        .list_strategies(1, None)
        .await
        .expect("the function's first call");

    let _token = rotate(&deps, &strategy).await;
    let rotated = current(&secrets, &strategy, "AWSCURRENT").await;
    assert_eq!(rotated["username"], STRATEGY);
    let new_strategy = rotated["password"].as_str().expect("password").to_owned();
    assert_ne!(new_strategy, strategy_password);
    assert_eq!(
        current(&secrets, &strategy, "AWSPREVIOUS").await["password"],
        strategy_password
    );
    mlflow
        .client(STRATEGY, &new_strategy)
        .list_strategies(1, None)
        .await
        .expect("MLflow takes the strategy user's new password");
    assert!(refused_with(
        mlflow
            .client(STRATEGY, strategy_password)
            .list_strategies(1, None)
            .await,
        "401"
    ));

    let _token = rotate(&deps, &admin).await;
    let new_admin = current(&secrets, &admin, "AWSCURRENT").await["password"]
        .as_str()
        .expect("password")
        .to_owned();
    assert_ne!(new_admin, admin_password);
    mlflow
        .client(ADMIN, &new_admin)
        .list_strategies(1, None)
        .await
        .expect("MLflow takes the admin's new password");
    assert!(refused_with(
        mlflow.client(ADMIN, admin_password).list_strategies(1, None).await,
        "401"
    ));
    function
        .list_strategies(1, None)
        .await
        .expect("the function's old password is refused once, then it reads the secret again");

    // Secrets Manager may call a step again: nothing changes.
    let again =
        json!({"Step": "finishSecret", "SecretId": admin, "ClientRequestToken": uuid::Uuid::new_v4().to_string()});
    let refused = rotate_secret::handle(&deps, invocation(&again))
        .await
        .expect_err("no such version");
    assert!(refused.to_string().contains("has no version"), "{refused}");
    let unknown = event(FUNCTION, "invalid-unknown-secret.json");
    let refused = rotate_secret::handle(&deps, invocation(&unknown))
        .await
        .expect_err("not ours");
    assert!(refused.to_string().contains("someone-elses-secret"), "{refused}");
    drop(mlflow);
    std::fs::remove_dir_all(&state).ok();
}

/// On the shared local deployment, as its own function (its calls recorded and held to its role): the deployment's
/// database secret, with an RDS instance and an MLflow service of the names AWS would give them made in moto (no
/// other test touches them).
#[tokio::test]
async fn the_database_password_is_set_on_the_instance_then_mlflow_is_deployed_again() {
    let local = tradai_tests::deployment::shared();
    let harness = tradai_local::moto::sdk_config_for(&local.endpoint).await;
    let sdk = harness
        .to_builder()
        .app_name(aws_config::AppName::new(FUNCTION).expect("an app name"))
        .build();
    let physical = tradai_tests::iam::physical_of(local, crate::calls::main_stack());
    let named = |id: &str| physical.resources[id].0.clone();
    let secrets = aws_sdk_secretsmanager::Client::new(&harness);
    let database = named("MlflowDatabaseCredentials");
    secrets
        .rotate_secret()
        .secret_id(&database)
        .rotate_immediately(false)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .expect("rotation on");
    let before = current(&secrets, &database, "AWSCURRENT").await["password"].clone();
    let instance = named("MlflowDatabase");
    let rds = aws_sdk_rds::Client::new(&harness);
    rds.create_db_instance()
        .db_instance_identifier(&instance)
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .master_username("mlflow")
        .master_user_password(before.as_str().expect("password"))
        .allocated_storage(20)
        .send()
        .await
        .expect("instance");
    let ecs = aws_sdk_ecs::Client::new(&harness);
    let cluster = named("StrategyCluster");
    let service = format!("tradai-mlflow-{}", physical.parameters["Stage"]);
    ecs.register_task_definition()
        .family(&service)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("mlflow")
                .image("tradai-mlflow:3.17.2")
                .memory(1024)
                .build(),
        )
        .send()
        .await
        .expect("task definition");
    ecs.create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(&service)
        .desired_count(1)
        .send()
        .await
        .expect("service");
    let deployment = || async {
        ecs.describe_services()
            .cluster(&cluster)
            .services(&service)
            .send()
            .await
            .expect("described")
            .services()[0]
            .deployments()[0]
            .id()
            .map(str::to_owned)
    };
    let first = deployment().await;
    let names = Names {
        admin: named("MlflowCredentials"),
        strategy: named("MlflowStrategyCredentials"),
        database: database.clone(),
        instance: instance.clone(),
        cluster: cluster.clone(),
        service: service.clone(),
    };
    let deps = deps(&sdk, tradai::mlflow::MlflowOptions::new("http://127.0.0.1:9"), &names).await;

    let token = rotate(&deps, &database).await;
    let rotated = current(&secrets, &database, "AWSCURRENT").await;
    assert_eq!(rotated["username"], "mlflow");
    assert_ne!(rotated["password"], before);
    assert_eq!(current(&secrets, &database, "AWSPREVIOUS").await["password"], before);
    let second = deployment().await;
    assert_ne!(
        second, first,
        "MLflow's service deployed again, to read the new password"
    );
    // finishSecret again (Secrets Manager retries a step whose answer it did not get): nothing moves, and MLflow is
    // deployed again, in case the first time was what failed.
    let again = step_event("finish-secret-database.json", &database, &token);
    rotate_secret::handle(&deps, invocation(&again))
        .await
        .expect("finished again");
    assert_eq!(current(&secrets, &database, "AWSCURRENT").await, rotated);
    assert_ne!(deployment().await, second);

    let calls: Vec<_> = local
        .calls
        .calls()
        .into_iter()
        .filter(|call| call.caller.as_deref() == Some(FUNCTION))
        .collect();
    let made: Vec<(&str, &str)> = calls
        .iter()
        .map(|call| (call.action.as_str(), call.resource.as_str()))
        .collect();
    let instance_arn = format!("arn:aws:rds:us-east-1:123456789012:db:{instance}");
    assert!(
        made.contains(&("rds:ModifyDBInstance", instance_arn.as_str())),
        "the new password set on the instance: {made:?}"
    );
    assert!(
        made.contains(&("ecs:UpdateService", named("MlflowService").as_str())),
        "{made:?}"
    );
    let verdict = tradai_tests::iam::audit(&calls, crate::calls::main_stack(), &physical);
    assert!(
        verdict.violations.is_empty(),
        "calls its role does not allow:\n{}",
        verdict.violations.join("\n")
    );
}
