//! POST /data/uploads against moto's S3: each named file gets a pre-signed PUT at its layout key, and the bytes put
//! through it land there; a malformed request is a 400 naming the field and signs nothing.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tradai::objects::S3Objects;
use tradai_tests::stack::Stack;

use super::event;
use crate::answer::Answer;

const FUNCTION: &str = "data-uploads";

fn deps(stack: &Stack) -> data_uploads::Deps<S3Objects> {
    data_uploads::Deps {
        signer: stack.market_objects(),
        location: stack.market_data.clone(),
    }
}

async fn ask(stack: &Stack, event: &Value) -> Answer {
    let request = tradai_tests::events::request_from_json(&event.to_string());
    let answer = Answer::read(data_uploads::handle(&deps(stack), request).await.expect("answers"));
    answer.assert_well_formed(event);
    answer
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// PUTs `bytes` as `put` says.
async fn put(put: &Value, bytes: Vec<u8>) -> u16 {
    let mut request = reqwest::Client::new().put(put["url"].as_str().expect("url"));
    for (name, value) in put["headers"].as_object().into_iter().flatten() {
        request = request.header(name, value.as_str().expect("a header value"));
    }
    request.body(bytes).send().await.expect("S3 answers").status().as_u16()
}

#[tokio::test]
async fn each_named_file_is_put_through_its_url_at_its_layout_key() {
    let stack = Stack::fresh().await;
    let candles = b"PAR1 not really, but bytes".to_vec();
    let markets = br#"{"BTC/USDT": {}}"#.to_vec();
    let mut request = event(FUNCTION, "valid.json");
    let body = json!({"exchange": "binance",
        "files": [{"pair": "BTC/USDT", "timeframe": "5m", "sha256": hex(&candles), "size_bytes": candles.len()}],
        "markets": {"sha256": hex(&markets), "size_bytes": markets.len()}});
    request["body"] = Value::String(body.to_string());
    let answer = ask(&stack, &request).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert!(
        answer.json.get("current_markets").is_none(),
        "no snapshot yet: {}",
        answer.json
    );
    let file = &answer.json["files"][0];
    let key = file["key"].as_str().expect("key");
    assert_eq!(key, format!("{}binance/BTC_USDT-5m.parquet", stack.market_data.prefix));
    assert!(
        stack.keys_in(&stack.market_data_bucket, key).await.is_empty(),
        "nothing written by asking"
    );

    // S3 refuses other bytes than those named: the checksum is a signed header (moto does not check it).
    let checksum = &file["headers"]["x-amz-checksum-sha256"];
    let named = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, Sha256::digest(&candles));
    assert_eq!(checksum, &json!(named), "{file}");
    let url = file["url"].as_str().expect("url");
    assert!(
        url.contains("X-Amz-SignedHeaders=") && url.contains("x-amz-checksum-sha256"),
        "{url}"
    );
    assert_eq!(put(file, candles.clone()).await, 200, "{file}");
    assert_eq!(put(&answer.json["markets"], markets.clone()).await, 200);
    let stored = stack.market_objects();
    assert_eq!(
        tradai::objects::ObjectStore::get(&stored, key).await.expect("read"),
        Some(candles)
    );
    let markets_key = answer.json["markets"]["key"].as_str().expect("markets key");
    assert_eq!(markets_key, format!("{}binance/markets.json", stack.market_data.prefix));
    assert_eq!(
        stack.keys_in(&stack.market_data_bucket, markets_key).await,
        [markets_key]
    );

    // Asked again, the answer names the snapshot the markets PUT would replace, with a GET of it to merge into.
    let replacing = ask(&stack, &request).await;
    let current = &replacing.json["current_markets"];
    assert_eq!(current["key"], json!(markets_key), "{}", replacing.json);
    assert_eq!(current["size_bytes"], json!(markets.len()));
    assert!(current["version_id"].is_string(), "{current}");
    let read = reqwest::get(current["url"].as_str().expect("a GET"))
        .await
        .expect("S3 answers");
    assert_eq!(read.bytes().await.expect("the snapshot").to_vec(), markets);

    let sample = ask(&stack, &event(FUNCTION, "valid.json")).await;
    assert_eq!(
        sample.json["files"].as_array().map(Vec::len),
        Some(2),
        "{}",
        sample.json
    );
}

#[tokio::test]
async fn a_malformed_upload_is_a_400_naming_the_field() {
    let stack = Stack::fresh().await;
    let answer = ask(&stack, &event(FUNCTION, "invalid-fields.json")).await;
    for field in ["exchange", "files[0].sha256", "files[0].size_bytes"] {
        answer.assert_names_field(field);
    }
    ask(&stack, &event(FUNCTION, "invalid-nothing-named.json"))
        .await
        .assert_names_field("files");
}
