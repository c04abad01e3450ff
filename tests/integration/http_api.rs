//! The local HTTP API through real HTTP, as `curl` would use it: every route of the template, served by the real
//! function binaries with the events API Gateway sends, and API Gateway's own answers (404 for no route, 413 over
//! 10 MB). A backtest submitted there runs the workflow; a cancel mid-run leaves it CANCELLED, and both the
//! submitter and the canceller are the caller's IAM identity.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tradai_tests::deployment::{self, DeploymentStack, call, deploy_strategy};

/// The local deployment's caller, as API Gateway's IAM authorizer would name it.
const CALLER: &str = "arn:aws:iam::123456789012:user/local";

async fn get(path: &str) -> (u16, Value) {
    call(reqwest::Method::GET, path, None).await
}

#[tokio::test]
async fn every_route_answers_through_real_http_and_a_backtest_runs_and_is_cancelled() {
    let local = deployment::shared();
    let stack = local.stack().await;
    // A strategy whose engine runs until it is stopped, and fresh candles for it.
    let name = format!("Http{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let folder = tradai_tests::project_root().join(format!(".stand-ins/http-api-{name}"));
    std::fs::create_dir_all(&folder).expect("folder");
    let script = folder.join("engine.sh");
    std::fs::write(&script, "#!/bin/sh\ntrap 'exit 143' TERM\nsleep 60 &\nwait $!\n").expect("engine");
    let command = json!(["sh", script.display().to_string()]).to_string();
    let environment = [
        ("ENGINE_COMMAND", command),
        ("WORK_DIR", folder.join("work").display().to_string()),
        ("HEARTBEAT_SECONDS", "1".to_owned()),
        ("STOP_GRACE_SECONDS", "5".to_owned()),
    ];
    deploy_strategy(
        &stack,
        &name,
        b"stake_currency: USDT\nstake_amount: 100\n",
        &environment,
    )
    .await;
    let pair = tradai_tests::candles::own_pair();
    stack.put_candles(&[&pair], 1, 300).await;

    let (status, health) = get("/health").await;
    assert_eq!(status, 200, "{health}");
    let (status, ready) = get("/ready").await;
    assert_eq!(status, 200, "{ready}");
    let (status, strategies) = get("/strategies?limit=100").await;
    assert_eq!(status, 200, "{strategies}");
    let (status, strategy) = get(&format!("/strategies/{name}")).await;
    assert_eq!(
        (status, strategy["name"].as_str()),
        (200, Some(name.as_str())),
        "{strategy}"
    );
    let (status, missing) = get("/strategies/NoSuchStrategy").await;
    assert_eq!(status, 404, "{missing}");
    let release_name = format!("{name}Release");
    let image = stack
        .push_image(&format!("strategy-{}", release_name.to_lowercase()), "1")
        .await;
    let release = json!({"name": release_name, "image": format!("{image}:1"), "base_config": "stake_currency: USDT\n",
        "timeframe": "5m", "pairs": ["BTC/USDT"], "alias": "production"});
    let (status, registered) = call(reqwest::Method::POST, "/strategies", Some(release)).await;
    assert_eq!((status, &registered["created"]), (201, &json!(true)), "{registered}");
    let freshness = json!({"symbols": [pair], "timeframe": "5m"});
    let (status, fresh) = call(reqwest::Method::POST, "/data/freshness", Some(freshness)).await;
    assert_eq!((status, &fresh["all_fresh"]), (200, &json!(true)), "{fresh}");
    let (status, datasets) = get("/data/datasets?exchange=binance").await;
    assert_eq!(status, 200, "{datasets}");

    let submission = json!({"strategy_name": name, "strategy_version": "production", "config": {"timeframe": "5m",
        "symbols": [pair], "start_date": "2026-01-05", "end_date": "2026-02-04"}});
    let (status, submitted) = call(reqwest::Method::POST, "/backtest", Some(submission)).await;
    assert_eq!(status, 202, "{submitted}");
    let run_id = submitted["run_id"].as_str().expect("run_id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    let running = loop {
        let (status, job) = get(&format!("/backtest/{run_id}/status")).await;
        assert_eq!(status, 200, "{job}");
        if job["status"] == "RUNNING" {
            break job;
        }
        assert!(
            !["FAILED", "COMPLETED", "CANCELLED"].contains(&job["status"].as_str().unwrap_or_default()),
            "{job}"
        );
        assert!(Instant::now() < deadline, "never ran: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(running["submitted_by"], CALLER);
    assert!(
        running["step"]
            .as_str()
            .is_some_and(|step| step.starts_with("RunBacktest")),
        "a running job is in the workflow's RunBacktest state: {running}"
    );
    let (status, listed) = get(&format!("/backtests?submitted_by={}&limit=100", percent(CALLER))).await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed["backtests"]
            .as_array()
            .expect("list")
            .iter()
            .any(|job| job["run_id"] == run_id.as_str()),
        "{listed}"
    );

    let (status, cancelled) = call(reqwest::Method::POST, &format!("/backtest/{run_id}/cancel"), None).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(
        (&cancelled["status"], &cancelled["cancelled_by"]),
        (&json!("CANCELLED"), &json!(CALLER))
    );
    let (_, job) = get(&format!("/backtest/{run_id}/status")).await;
    assert_eq!(job["status"], "CANCELLED", "{job}");
    let (status, logs) = get(&format!("/backtest/{run_id}/logs?limit=10")).await;
    assert_eq!((status, &logs["status"]), (200, &json!("CANCELLED")), "{logs}");
    assert!(
        logs["tasks"].as_array().is_some_and(|tasks| !tasks.is_empty()),
        "the task that ran it, from the execution's history: {logs}"
    );
    std::fs::remove_dir_all(&folder).ok();
}

#[tokio::test]
async fn api_gateway_answers_what_no_function_sees() {
    let (status, answer) = get("/no/such/route").await;
    assert_eq!((status, answer), (404, json!({"message": "Not Found"})));
    let (status, _) = call(reqwest::Method::DELETE, "/health", None).await;
    assert_eq!(status, 404, "a route is its method and path");

    let url = format!("{}/backtest", deployment::shared().api_url);
    let huge = vec![b'x'; 10 * 1024 * 1024 + 1];
    let answer = reqwest::Client::new()
        .post(url)
        .body(huge)
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status().as_u16(), 413);

    // A body that is not text reaches the function base64-encoded, decoded there, and refused by name.
    let url = format!("{}/backtest", deployment::shared().api_url);
    let answer = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status().as_u16(), 400);
    let error: Value = answer.json().await.expect("JSON");
    assert_eq!(error["error"]["details"][0]["field"], "body", "{error}");
}

/// `text` percent-encoded for a query string.
fn percent(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
