//! An existing VPC (`VpcId` with `PrivateSubnetIds`) checked before anything is deployed: at least two subnets, each
//! in that VPC, in at least two Availability Zones — what CloudFormation's Rules cannot check (they cannot count a
//! list, nor read the zone of a subnet named in a plain list), and what would otherwise fail the stack half-way, at
//! MLflow's database subnet group. One EC2 `DescribeSubnets` call, signed as the SDK would sign it (the EC2 SDK crate
//! is not worth its build time for one call).

use std::collections::BTreeSet;
use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials;

use super::parameters::Parameters;
use super::preflight::{Account, not_ready};
use super::step;
use crate::Failure;
use crate::sign::{Unsigned, signature_headers};

/// The API version of EC2's query protocol.
const EC2_VERSION: &str = "2016-11-15";

/// One subnet as EC2 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub vpc: String,
    pub zone: String,
}

/// The subnets a stage with an existing VPC names, checked; nothing when the stack makes its own VPC.
pub async fn check(account: &Account, parameters: &Parameters) -> Result<(), Failure> {
    let vpc = parameters.get("VpcId").unwrap_or_default().trim().to_owned();
    if vpc.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = parameters
        .get("PrivateSubnetIds")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect();
    if named.len() < 2 {
        return Err(not_ready(format!(
            "PrivateSubnetIds names {} subnet(s): with VpcId {vpc}, name at least two private subnets of it in two \
             Availability Zones (--parameter PrivateSubnetIds=subnet-…,subnet-…)",
            named.len()
        )));
    }
    let subnets = describe(account, &named).await?;
    let zones = judge(&vpc, &named, &subnets)?;
    step(format!(
        "VPC {vpc}: {} subnets in {}",
        subnets.len(),
        zones.into_iter().collect::<Vec<_>>().join(", ")
    ));
    Ok(())
}

/// Whether `subnets` (as EC2 described the `named` ones) are all there, all in `vpc`, in two zones or more; answers
/// their zones.
pub fn judge<'a>(vpc: &str, named: &[String], subnets: &'a [Subnet]) -> Result<BTreeSet<&'a str>, Failure> {
    let missing: Vec<&str> = named
        .iter()
        .filter(|id| !subnets.iter().any(|subnet| &subnet.id == *id))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(not_ready(format!(
            "PrivateSubnetIds: {} not found in this account and region",
            missing.join(", ")
        )));
    }
    let elsewhere: Vec<String> = subnets
        .iter()
        .filter(|subnet| subnet.vpc != vpc)
        .map(|subnet| format!("{} is in {}", subnet.id, subnet.vpc))
        .collect();
    if !elsewhere.is_empty() {
        return Err(not_ready(format!(
            "PrivateSubnetIds must all be subnets of VpcId {vpc}: {}",
            elsewhere.join(", ")
        )));
    }
    let zones: BTreeSet<&str> = subnets.iter().map(|subnet| subnet.zone.as_str()).collect();
    if zones.len() < 2 {
        return Err(not_ready(format!(
            "PrivateSubnetIds are all in {}: name subnets in at least two Availability Zones (MLflow's database and \
             the strategy tasks need two)",
            zones.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(zones)
}

/// EC2 `DescribeSubnets` of the subnets `ids`, filtered by id (so a subnet that is not there is left out, and
/// [`judge`] names it, rather than failing the call).
async fn describe(account: &Account, ids: &[String]) -> Result<Vec<Subnet>, Failure> {
    let endpoint = account.sdk.endpoint_url().map_or_else(
        || format!("https://ec2.{}.amazonaws.com", account.region),
        str::to_owned,
    );
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let mut body = format!("Action=DescribeSubnets&Version={EC2_VERSION}");
    body.push_str("&Filter.1.Name=subnet-id");
    for (index, id) in ids.iter().enumerate() {
        body.push_str(&format!("&Filter.1.Value.{}={}", index + 1, crate::api::encode(id)));
    }
    let credentials = account
        .sdk
        .credentials_provider()
        .ok_or_else(|| not_ready("no AWS credentials to read the subnets with"))?
        .provide_credentials()
        .await
        .map_err(|error| not_ready(format!("no usable AWS credentials: {error}")))?;
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let host = crate::api::authority(&url).to_owned();
    let signed = signature_headers(
        &credentials,
        &account.region,
        "ec2",
        SystemTime::now(),
        Unsigned {
            method: "POST",
            url: &url,
            headers: &[("host", &host), ("content-type", content_type)],
            body: body.as_bytes(),
        },
    )
    .map_err(|error| not_ready(format!("signing EC2 DescribeSubnets: {error}")))?;
    let mut request = reqwest::Client::new()
        .post(&url)
        .header("content-type", content_type)
        .body(body);
    for (name, value) in signed {
        request = request.header(name, value);
    }
    let answer = request
        .send()
        .await
        .map_err(|error| not_ready(format!("EC2 DescribeSubnets: {error}")))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        let code = element(&text, "Code").unwrap_or_default();
        let message = element(&text, "Message").unwrap_or_default();
        return Err(not_ready(format!(
            "EC2 DescribeSubnets answered {status} {code}: {message} (the credentials need ec2:DescribeSubnets)"
        )));
    }
    Ok(subnets(&text))
}

/// The text of the first `<name>` element in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + end])
}

/// The subnets of a `DescribeSubnetsResponse`: each `<item>` of its `<subnetSet>`.
fn subnets(xml: &str) -> Vec<Subnet> {
    let Some(set) = element(xml, "subnetSet") else {
        return Vec::new();
    };
    set.split("<item>")
        .skip(1)
        .filter_map(|item| {
            Some(Subnet {
                id: element(item, "subnetId")?.to_owned(),
                vpc: element(item, "vpcId")?.to_owned(),
                zone: element(item, "availabilityZone")?.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit;

    fn subnet(id: &str, vpc: &str, zone: &str) -> Subnet {
        Subnet {
            id: id.into(),
            vpc: vpc.into(),
            zone: zone.into(),
        }
    }

    #[test]
    fn ec2s_answer_reads_as_subnets() {
        let xml = "<DescribeSubnetsResponse><requestId>r</requestId><subnetSet><item><subnetId>subnet-a</subnetId>\
                   <vpcId>vpc-1</vpcId><availabilityZone>us-east-1a</availabilityZone><tagSet><item><key>k</key>\
                   </item></tagSet></item><item><subnetId>subnet-b</subnetId><vpcId>vpc-1</vpcId>\
                   <availabilityZone>us-east-1b</availabilityZone></item></subnetSet></DescribeSubnetsResponse>";
        assert_eq!(
            subnets(xml),
            [
                subnet("subnet-a", "vpc-1", "us-east-1a"),
                subnet("subnet-b", "vpc-1", "us-east-1b")
            ]
        );
    }

    #[test]
    fn two_zones_of_the_vpc_pass_and_anything_else_is_named() {
        let named = ["subnet-a".to_owned(), "subnet-b".to_owned()];
        let good = [
            subnet("subnet-a", "vpc-1", "us-east-1a"),
            subnet("subnet-b", "vpc-1", "us-east-1b"),
        ];
        assert_eq!(
            judge("vpc-1", &named, &good)
                .map_err(|failure| failure.message)
                .expect("passes"),
            BTreeSet::from(["us-east-1a", "us-east-1b"])
        );
        let one_zone = [
            subnet("subnet-a", "vpc-1", "us-east-1a"),
            subnet("subnet-b", "vpc-1", "us-east-1a"),
        ];
        let refused = judge("vpc-1", &named, &one_zone).expect_err("one zone");
        assert!(
            refused.code == exit::NOT_READY && refused.message.contains("all in us-east-1a"),
            "{}",
            refused.message
        );
        let other_vpc = [
            subnet("subnet-a", "vpc-1", "us-east-1a"),
            subnet("subnet-b", "vpc-2", "us-east-1b"),
        ];
        let refused = judge("vpc-1", &named, &other_vpc).expect_err("another VPC");
        assert!(refused.message.contains("subnet-b is in vpc-2"), "{}", refused.message);
        let refused = judge("vpc-1", &named, &good[..1]).expect_err("missing");
        assert!(refused.message.contains("subnet-b not found"), "{}", refused.message);
    }
}
