//! A VPC subnet in the stand-in, for ECS tasks with `awsvpc` networking. EC2 is called through its query API
//! directly (the stand-in does not check signatures), so the tests need no EC2 SDK for two calls.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::moto;

/// Creates a VPC with DNS hostnames and one subnet in it; answers the subnet id.
pub async fn subnet() -> String {
    let vpc = ec2(&[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")]).await;
    let vpc = element(&vpc, "vpcId");
    ec2(&[
        ("Action", "ModifyVpcAttribute"),
        ("VpcId", &vpc),
        ("EnableDnsHostnames.Value", "true"),
    ])
    .await;
    let subnet = ec2(&[
        ("Action", "CreateSubnet"),
        ("VpcId", &vpc),
        ("CidrBlock", "10.0.1.0/24"),
    ])
    .await;
    element(&subnet, "subnetId")
}

async fn ec2(parameters: &[(&str, &str)]) -> String {
    let address = moto::endpoint().trim_start_matches("http://").to_owned();
    let mut body: Vec<String> = parameters
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('/', "%2F")))
        .collect();
    body.push("Version=2016-11-15".to_owned());
    let body = body.join("&");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(&address).await.expect("the stand-in listens");
    stream.write_all(request.as_bytes()).await.expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response read");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "EC2 {parameters:?} failed: {response}"
    );
    response
}

fn element(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}> in {xml}")) + open.len();
    let end = xml[start..].find('<').expect("closing tag") + start;
    xml[start..end].to_owned()
}
