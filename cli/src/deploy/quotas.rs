//! The account's compute quotas, read from Service Quotas and compared with what a stage needs before anything is
//! deployed. Below what one backtest needs the deploy stops (a new account's Fargate vCPU or Lambda concurrency can
//! be that low); below what a sweep at its default concurrency needs, it warns. Quotas that cannot be read (a role
//! without `servicequotas:GetServiceQuota`) are a warning: they are checked in the console then.

use aws_config::SdkConfig;
use aws_sdk_servicequotas::error::ProvideErrorMetadata;

use crate::{Failure, exit};

/// One quota and what the stage needs of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub service: &'static str,
    pub code: &'static str,
    pub name: &'static str,
    /// Below this a single backtest cannot run: the deploy stops.
    pub required: f64,
    /// Below this a sweep of the default concurrency (10 children at once) waits or is throttled: a warning.
    pub recommended: f64,
    /// Where the numbers come from.
    pub why: &'static str,
}

/// What a stage needs: every route and workflow step is a function; MLflow runs on on-demand Fargate (0.5 vCPU);
/// a backtest runs one 1-vCPU task on Spot, on demand when Spot has no capacity; a sweep runs up to
/// `max_concurrency` (10 by default) children at once.
pub const QUOTAS: &[Quota] = &[
    Quota {
        service: "lambda",
        code: "L-B99A9384",
        name: "Lambda concurrent executions",
        required: 10.0,
        recommended: 100.0,
        why: "the API's routes and a workflow's steps are functions; a sweep of 10 children runs 10 workflows at once",
    },
    Quota {
        service: "fargate",
        code: "L-3032A538",
        name: "Fargate On-Demand vCPU",
        required: 1.5,
        recommended: 10.5,
        why: "MLflow takes 0.5 vCPU on demand, and a backtest without Spot capacity runs on demand (1 vCPU)",
    },
    Quota {
        service: "fargate",
        code: "L-36FBB829",
        name: "Fargate Spot vCPU",
        required: 1.0,
        recommended: 10.0,
        why: "a backtest is a 1-vCPU Spot task; a sweep runs 10 at once by default",
    },
];

/// What a quota's value means for the stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Enough,
    /// Enough for a backtest, not for a default sweep: the warning to print.
    Low(String),
    /// Not enough for a backtest: why the deploy stops.
    TooLow(String),
}

impl Quota {
    /// The verdict on `value`, the account's quota.
    pub fn judge(&self, value: f64) -> Verdict {
        let increase = format!(
            "request an increase of {} {} in the Service Quotas console",
            self.service, self.code
        );
        if value < self.required {
            Verdict::TooLow(format!(
                "the {} quota is {value}, below the {} a single backtest needs ({}): {increase}",
                self.name, self.required, self.why
            ))
        } else if value < self.recommended {
            Verdict::Low(format!(
                "the {} quota is {value}, below the {} a sweep at its default concurrency needs ({}): such sweeps \
                 will wait for capacity; {increase}",
                self.name, self.recommended, self.why
            ))
        } else {
            Verdict::Enough
        }
    }
}

/// Reads every quota of [`QUOTAS`]; answers the warnings, or the failure of the first quota too low to run.
pub async fn check(sdk: &SdkConfig) -> Result<Vec<String>, Failure> {
    let client = aws_sdk_servicequotas::Client::new(sdk);
    let mut warnings = Vec::new();
    for quota in QUOTAS {
        let answer = client
            .get_service_quota()
            .service_code(quota.service)
            .quota_code(quota.code)
            .send()
            .await;
        let value = match answer {
            Ok(answer) => answer.quota().and_then(|found| found.value()),
            Err(error) => {
                let reason = error
                    .as_service_error()
                    .and_then(|e| e.message().or(e.code()))
                    .map_or_else(|| tradai::report::chain(&error), str::to_owned);
                warnings.push(format!(
                    "the {} quota ({} {}) cannot be read ({reason}): check that it is at least {} in the Service \
                     Quotas console",
                    quota.name, quota.service, quota.code, quota.recommended
                ));
                continue;
            }
        };
        match value.map(|value| quota.judge(value)) {
            Some(Verdict::Enough) => {}
            Some(Verdict::Low(warning)) => warnings.push(warning),
            Some(Verdict::TooLow(reason)) => return Err(Failure::new(exit::NOT_READY, reason)),
            None => warnings.push(format!("the {} quota has no value", quota.name)),
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_below_one_backtest_stops_the_deploy_and_below_a_sweep_warns() {
        let spot = QUOTAS[2];
        assert_eq!(spot.judge(10.0), Verdict::Enough);
        let Verdict::Low(warning) = spot.judge(6.0) else {
            panic!("6 vCPU runs a backtest, not a sweep of 10")
        };
        assert!(
            warning.starts_with("the Fargate Spot vCPU quota is 6, below the 10 a sweep")
                && warning.contains("L-36FBB829"),
            "{warning}"
        );
        let Verdict::TooLow(reason) = QUOTAS[1].judge(1.0) else {
            panic!("1 vCPU on demand cannot hold MLflow and a backtest")
        };
        assert!(reason.contains("below the 1.5 a single backtest needs"), "{reason}");
        for quota in QUOTAS {
            assert!(quota.required > 0.0 && quota.required < quota.recommended, "{quota:?}");
        }
    }
}
