//! What a deploy checks before it changes anything, each check with what to do when it fails: the tools (the SAM
//! CLI, Docker with its daemon), the region, credentials that work (and whose account they are), the ECS
//! service-linked role (created when missing: a cluster with capacity providers cannot be made without it), the
//! account's Lambda and Fargate quotas against what the stage needs (`quotas.rs`), and a stack that is not busy.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::error::ProvideErrorMetadata;

use super::samconfig::StageConfig;
use super::step;
use super::tools::Tool;
use crate::{Failure, exit};

/// The account a deploy works in.
pub struct Account {
    pub sdk: SdkConfig,
    pub region: String,
    pub account_id: String,
    /// Who the credentials are.
    pub caller: String,
}

/// A failure of the preflight: exit code [`exit::NOT_READY`] with what to fix.
pub(super) fn not_ready(message: impl Into<String>) -> Failure {
    Failure::new(exit::NOT_READY, message)
}

/// Every check, in order; answers the account.
pub async fn run(config: &StageConfig, region: Option<String>, sam: &Tool, docker: &Tool) -> Result<Account, Failure> {
    let version = sam.check().await?;
    step(format!("sam: {version}"));
    let version = docker.check().await?;
    step(format!("docker: server {version}"));
    let account = account(config, region).await?;
    ecs_service_linked_role(&account.sdk).await?;
    for warning in super::quotas::check(&account.sdk).await? {
        step(format!("warning: {warning}"));
    }
    Ok(account)
}

/// The region (`--region`, else samconfig's for the stage, else the credential chain's) and the account the
/// credentials belong to.
pub async fn account(config: &StageConfig, region: Option<String>) -> Result<Account, Failure> {
    let no_region = format!(
        "no AWS region: set region in samconfig.toml's [{}.deploy.parameters], pass --region, or set AWS_REGION",
        config.stage
    );
    account_in(region.or_else(|| config.region.clone()), &no_region).await
}

/// The account the credentials belong to, in `region` (else the credential chain's; `no_region` says what to do
/// when neither names one).
pub async fn account_in(region: Option<String>, no_region: &str) -> Result<Account, Failure> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    let sdk = loader.load().await;
    let region = sdk
        .region()
        .map(ToString::to_string)
        .ok_or_else(|| not_ready(no_region))?;
    let identity = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| {
            not_ready(format!(
                "no usable AWS credentials ({}): sign in (`aws sso login`, `aws configure`) or set AWS_PROFILE",
                tradai::report::chain(&error)
            ))
        })?;
    let account_id = identity.account().unwrap_or_default().to_owned();
    let caller = identity.arn().unwrap_or_default().to_owned();
    step(format!("account {account_id} in {region} as {caller}"));
    Ok(Account {
        sdk,
        region,
        account_id,
        caller,
    })
}

/// Creates the ECS service-linked role unless the account has it: ECS makes it on first use, but a cluster with
/// capacity providers created before it exists fails ("Unable to assume the service linked role").
async fn ecs_service_linked_role(sdk: &SdkConfig) -> Result<(), Failure> {
    let created = aws_sdk_iam::Client::new(sdk)
        .create_service_linked_role()
        .aws_service_name("ecs.amazonaws.com")
        .send()
        .await;
    match created {
        Ok(_) => {
            step("created the ECS service-linked role");
            Ok(())
        }
        // AWS says the name "has been taken" (InvalidInput); others answer EntityAlreadyExists.
        Err(error)
            if error.as_service_error().is_some_and(|e| {
                e.code() == Some("EntityAlreadyExists")
                    || (e.is_invalid_input_exception() && e.message().is_some_and(|text| text.contains("taken")))
            }) =>
        {
            step("the ECS service-linked role exists");
            Ok(())
        }
        Err(error) => Err(not_ready(format!(
            "the ECS service-linked role is missing and cannot be created ({}): an administrator can run `aws iam \
             create-service-linked-role --aws-service-name ecs.amazonaws.com`",
            tradai::report::chain(&error)
        ))),
    }
}

/// Whether the stack exists. A first create that failed and was rolled back leaves a stack that can only be
/// deleted: it is deleted here, and the deploy creates it afresh. A stack in the middle of an operation is refused.
pub async fn stack_exists(sdk: &SdkConfig, stack_name: &str) -> Result<bool, Failure> {
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let Some(status) = current_status(&cloudformation, stack_name).await? else {
        return Ok(false);
    };
    match status.as_str() {
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" => {
            step(format!(
                "stack {stack_name} is {status} from a failed first create: deleting it"
            ));
            cloudformation
                .delete_stack()
                .stack_name(stack_name)
                .send()
                .await
                .map_err(|error| Failure::new(exit::ERROR, tradai::report::chain(&error)))?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1800);
            while let Some(status) = current_status(&cloudformation, stack_name).await? {
                if status == "DELETE_FAILED" || std::time::Instant::now() > deadline {
                    return Err(not_ready(format!(
                        "stack {stack_name} could not be deleted ({status}): delete it in the console, then deploy again"
                    )));
                }
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            Ok(false)
        }
        busy if busy.ends_with("_IN_PROGRESS") => Err(not_ready(format!(
            "stack {stack_name} is {busy}: wait until it ends, then deploy again"
        ))),
        _ => Ok(true),
    }
}

/// The status of stack `stack_name`, none when it does not exist (or is deleted).
async fn current_status(
    cloudformation: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Result<Option<String>, Failure> {
    match cloudformation.describe_stacks().stack_name(stack_name).send().await {
        Ok(answer) => Ok(answer
            .stacks()
            .first()
            .and_then(|stack| stack.stack_status())
            .map(|status| status.as_str().to_owned())
            .filter(|status| status != "DELETE_COMPLETE")),
        Err(error)
            if error
                .as_service_error()
                .and_then(|e| e.message())
                .is_some_and(|text| text.contains("does not exist")) =>
        {
            Ok(None)
        }
        Err(error) => Err(Failure::new(
            exit::ERROR,
            format!("reading stack {stack_name}: {}", tradai::report::chain(&error)),
        )),
    }
}
