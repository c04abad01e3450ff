//! `tradai deploy` and `tradai destroy`: a stage of the platform on AWS, driven through the SAM CLI, Docker and
//! the AWS SDK — no deployer of our own. A deploy checks the account first (credentials, region, the ECS
//! service-linked role, the tools), then makes sure the MLflow image is in ECR (its repository stack, the image
//! built and pushed once per tag), builds every function (`sam build`), checks that the built template is what
//! gets deployed (each function an x86-64 `bootstrap`, never a source folder), and deploys it with the stage's
//! whole parameter set (samconfig.toml's with the user's merged over them). The stack's outputs are saved under the
//! state folder, so later commands reach the stage with `--stage` instead of `--api`.

pub mod built;
pub mod images;
pub mod network;
pub mod parameters;
pub mod preflight;
pub mod quotas;
pub mod samconfig;
pub mod stage;
pub mod tools;

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use self::parameters::Parameters;
use self::preflight::Account;
use self::samconfig::StageConfig;
use self::stage::DeployedStage;
use self::tools::Tool;
use crate::{Failure, exit};

/// The ECR repository of the MLflow server image (`templates/repository.yaml`, one stack per account and region).
pub const MLFLOW_REPOSITORY: &str = "tradai-mlflow";
/// The stack that holds [`MLFLOW_REPOSITORY`].
pub const MLFLOW_REPOSITORY_STACK: &str = "tradai-ecr-mlflow";
/// Where `sam build` writes, under the project.
pub const BUILD_DIR: &str = ".aws-sam/build";

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// A template parameter, NAME=VALUE, merged over samconfig.toml's for the stage (repeatable), e.g.
    /// `--parameter AlertEmail=oncall@example.com`.
    #[arg(long = "parameter", value_name = "NAME=VALUE")]
    pub parameters: Vec<String>,
    /// The project checkout to deploy (its template.yaml, samconfig.toml, mlflow/Dockerfile).
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// Check, build and show the change set, but do not execute it.
    #[arg(long)]
    pub no_execute: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Also delete what outlives the stack: the job and sweep tables and the buckets (candles, configs, results,
    /// access logs), every object version included. Without it they are kept, and listed.
    #[arg(long)]
    pub delete_data: bool,
    /// The project checkout whose samconfig.toml names the stage's stack.
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
}

/// The project checkout `tradai` was built from, whose files its tests read.
#[cfg(test)]
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn failure(error: impl std::fmt::Display) -> Failure {
    Failure::new(exit::ERROR, error.to_string())
}

/// Prints a step of the deploy, on stderr (stdout is the summary, or `--json`'s answer).
fn step(text: impl std::fmt::Display) {
    eprintln!("tradai: {text}");
}

/// What a deploy or destroy is given from the command line beside its own arguments.
pub struct Invocation<'a> {
    /// The state folder, where deployed stages are saved.
    pub state: &'a Path,
    pub stage: Option<&'a str>,
    pub region: Option<String>,
    pub json: bool,
}

impl<'a> Invocation<'a> {
    /// The stage `command` works on, the project checkout in `folder`, and samconfig.toml's settings of the stage.
    fn target(&self, command: &str, folder: &Path) -> Result<(&'a str, Project, StageConfig), Failure> {
        let stage = self
            .stage
            .ok_or_else(|| Failure::bad_input(format!("tradai {command} needs --stage (dev or prod)")))?;
        let project = Project::at(folder)?;
        let config = project.stage(stage)?;
        Ok((stage, project, config))
    }
}

/// The project's files a deploy reads, made absolute (the SAM CLI resolves a samconfig beside its template).
struct Project {
    root: PathBuf,
    template: PathBuf,
    samconfig: PathBuf,
}

impl Project {
    fn at(folder: &Path) -> Result<Project, Failure> {
        let root = folder
            .canonicalize()
            .map_err(|error| Failure::bad_input(format!("--project {}: {error}", folder.display())))?;
        let (template, samconfig) = (root.join("template.yaml"), root.join("samconfig.toml"));
        for file in [&template, &samconfig] {
            if !file.is_file() {
                return Err(Failure::bad_input(format!(
                    "{} is missing: run tradai deploy in the project's checkout, or pass --project",
                    file.display()
                )));
            }
        }
        Ok(Project {
            root,
            template,
            samconfig,
        })
    }

    fn stage(&self, stage: &str) -> Result<StageConfig, Failure> {
        samconfig::read(&self.samconfig, stage).map_err(|error| Failure::bad_input(error.to_string()))
    }

    /// `sam COMMAND --template-file TEMPLATE` with samconfig.toml's settings of `stage` (named by its absolute path:
    /// the SAM CLI looks for it beside the template otherwise).
    fn sam_command(&self, command: &str, template: &Path, stage: &str) -> Vec<String> {
        [
            command,
            "--template-file",
            &template.display().to_string(),
            "--config-file",
            &self.samconfig.display().to_string(),
            "--config-env",
            stage,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// The names of the template's parameters.
    fn template_parameters(&self) -> Result<Vec<String>, Failure> {
        let text = std::fs::read_to_string(&self.template).map_err(failure)?;
        let template = tradai_local::template::parse(&text)
            .map_err(|error| failure(format!("{}: {error}", self.template.display())))?;
        Ok(template["Parameters"]
            .as_object()
            .map(|parameters| parameters.keys().cloned().collect())
            .unwrap_or_default())
    }
}

/// `tradai deploy --stage STAGE`: the preflight, the MLflow image, `sam build`, the built template checked, `sam
/// deploy` of it with the merged parameters, the outputs saved under `state`.
pub async fn deploy(invocation: Invocation<'_>, args: DeployArgs) -> Result<u8, Failure> {
    let (stage, project, config) = invocation.target("deploy", &args.project)?;
    let Invocation {
        state, region, json, ..
    } = invocation;
    let given = args
        .parameters
        .iter()
        .map(|text| Parameters::parse_one(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| Failure::bad_input(format!("--parameter {error}")))?;
    let parameters = config
        .parameters
        .merged(&given, &project.template_parameters()?)
        .map_err(|error| Failure::bad_input(format!("--parameter {error}")))?;

    let sam = Tool::sam();
    let docker = Tool::docker();
    let account = preflight::run(&config, region, &sam, &docker).await?;
    network::check(&account, &parameters).await?;
    let first = !preflight::stack_exists(&account.sdk, &config.stack_name).await?;

    mlflow_image(&project, &account, &parameters, &sam, &docker).await?;

    let build_dir = project.root.join(BUILD_DIR);
    step(format!(
        "building every function (sam build into {})",
        build_dir.display()
    ));
    let mut build = project.sam_command("build", &project.template, stage);
    build.extend(["--build-dir".into(), build_dir.display().to_string()]);
    sam.run(&build).await?;
    let built = build_dir.join("template.yaml");
    let functions = built::check(&built).map_err(|error| failure(format!("not deployed: {error}")))?;
    step(format!("{} functions built, each an x86-64 bootstrap", functions.len()));

    step(format!(
        "{} stack {} in {} with {parameters}",
        if first { "creating" } else { "updating" },
        config.stack_name,
        account.region
    ));
    let mut deploy = project.sam_command("deploy", &built, stage);
    deploy.extend([
        "--stack-name".into(),
        config.stack_name.clone(),
        "--region".into(),
        account.region.clone(),
        "--no-confirm-changeset".into(),
        "--no-fail-on-empty-changeset".into(),
        // A first create that fails is deleted, so the retry starts clean; an update rolls back.
        "--on-failure".into(),
        if first { "DELETE" } else { "ROLLBACK" }.into(),
    ]);
    if args.no_execute {
        deploy.push("--no-execute-changeset".into());
    }
    deploy.push("--parameter-overrides".into());
    deploy.extend(parameters.arguments());
    sam.run(&deploy).await?;
    if args.no_execute {
        step("the change set is created and not executed (--no-execute)");
        return Ok(exit::OK);
    }

    let deployed = DeployedStage::read_from_stack(&account, stage, &config.stack_name).await?;
    let path = deployed.save(state).map_err(failure)?;
    let summary = json!({"stage": stage, "stack_name": deployed.stack_name, "region": deployed.region,
        "account": deployed.account, "api_url": deployed.api_url, "outputs": deployed.outputs,
        "saved_to": path.display().to_string()});
    if json {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    } else {
        println!(
            "stage {stage} deployed: stack {} in {} ({})\nAPI {}\nlater commands reach it with --stage {stage}",
            deployed.stack_name,
            deployed.region,
            deployed.account,
            deployed.api_url.as_deref().unwrap_or("(no ApiUrl output)")
        );
    }
    Ok(exit::OK)
}

/// The MLflow server image the stack runs (`MlflowImageTag`) in this account's ECR: its repository stack made once,
/// the image built from `mlflow/Dockerfile` and pushed once per tag (tags are immutable).
async fn mlflow_image(
    project: &Project,
    account: &Account,
    parameters: &Parameters,
    sam: &Tool,
    docker: &Tool,
) -> Result<(), Failure> {
    let tag = parameters
        .get("MlflowImageTag")
        .ok_or_else(|| Failure::bad_input("the stage sets no MlflowImageTag (samconfig.toml parameter_overrides)"))?;
    let image = images::Image {
        repository: MLFLOW_REPOSITORY.to_owned(),
        stack: MLFLOW_REPOSITORY_STACK.to_owned(),
        tag: tag.to_owned(),
        builds: vec![images::Build {
            dockerfile: project.root.join("mlflow/Dockerfile"),
            context: project.root.clone(),
            arguments: Vec::new(),
            tag: None,
        }],
    };
    images::ensure(&project.root, account, sam, docker, &image)
        .await
        .map(|_| ())
}

/// The sample strategy's image (the strategy folder's `Dockerfile` over the engine image of `container/Dockerfile`)
/// in `stage`'s account: built and pushed to `strategy-<name>` unless its tag is there (the CLI's version and the
/// folder's content). Run from the project checkout.
pub async fn sample_strategy_image(stage: &DeployedStage, folder: &Path, name: &str) -> Result<String, Failure> {
    let root = Path::new(".")
        .canonicalize()
        .map_err(|error| failure(format!("the current folder: {error}")))?;
    let engine = root.join("container/Dockerfile");
    let dockerfile = folder.join("Dockerfile");
    for file in [&engine, &dockerfile] {
        if !file.is_file() {
            return Err(Failure::bad_input(format!(
                "{} is missing: run tradai smoke in the project's checkout, or pass --image",
                file.display()
            )));
        }
    }
    let (sam, docker) = (Tool::sam(), Tool::docker());
    sam.check().await?;
    docker.check().await?;
    let account = preflight::account_in(Some(stage.region.clone()), "no region").await?;
    if account.account_id != stage.account {
        return Err(Failure::new(
            exit::NOT_READY,
            format!(
                "the credentials are of account {}, stage {} is in {}: sign in to it",
                account.account_id, stage.stage, stage.account
            ),
        ));
    }
    let content = tradai_local::images::content_tag(folder).map_err(|error| failure(error.to_string()))?;
    let tag = format!("{}-{content}", env!("CARGO_PKG_VERSION"));
    let repository = format!("strategy-{}", name.to_lowercase());
    let engine_image = format!("tradai-engine:{tag}");
    let image = images::Image {
        stack: format!("tradai-ecr-{repository}"),
        repository,
        tag,
        builds: vec![
            images::Build {
                dockerfile: engine,
                context: root.clone(),
                arguments: Vec::new(),
                tag: Some(engine_image.clone()),
            },
            images::Build {
                dockerfile,
                context: folder.to_path_buf(),
                arguments: vec![format!("ENGINE={engine_image}")],
                tag: None,
            },
        ],
    };
    images::ensure(&root, &account, &sam, &docker, &image).await
}

/// `tradai destroy --stage STAGE`: the stack deleted (`sam delete`); what outlives it (tables, buckets) kept and
/// listed, or with `--delete-data` deleted too, every object version included.
pub async fn destroy(invocation: Invocation<'_>, args: DestroyArgs) -> Result<u8, Failure> {
    let (stage, _, config) = invocation.target("destroy", &args.project)?;
    let Invocation {
        state, region, json, ..
    } = invocation;
    let sam = Tool::sam();
    sam.check().await?;
    let account = preflight::account(&config, region).await?;
    let kept = stage::retained_resources(&account.sdk, &config.stack_name).await?;
    step(format!("deleting stack {} in {}", config.stack_name, account.region));
    sam.run(&[
        "delete".into(),
        "--stack-name".into(),
        config.stack_name.clone(),
        "--region".into(),
        account.region.clone(),
        "--no-prompts".into(),
    ])
    .await?;
    let left = stage::existing(&account.sdk, &kept).await?;
    let (deleted, kept) = if args.delete_data {
        stage::delete_data(&account.sdk, &left).await?;
        (left, Vec::new())
    } else {
        (Vec::new(), left)
    };
    DeployedStage::forget(state, stage).map_err(failure)?;
    let (deleted, kept): (Vec<String>, Vec<String>) = (
        deleted.iter().map(ToString::to_string).collect(),
        kept.iter().map(ToString::to_string).collect(),
    );
    if json {
        let answer = json!({"stage": stage, "stack_name": config.stack_name, "deleted_data": deleted, "kept": kept});
        println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default());
    } else {
        println!("stage {stage} destroyed: stack {} deleted", config.stack_name);
        for resource in &deleted {
            println!("deleted {resource}");
        }
        for resource in &kept {
            println!("kept {resource} (tradai destroy --delete-data removes it)");
        }
    }
    Ok(exit::OK)
}
