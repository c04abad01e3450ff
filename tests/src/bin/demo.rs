//! `make demo`: one backtest submitted and followed through the real handlers, against the local AWS stand-in.
//! Resources are made from `template.yaml`; requests are the sample events in `events/`.

use serde_json::Value;
use tradai::executor::SqsQueue;
use tradai_tests::events;
use tradai_tests::project_root;
use tradai_tests::stack::Stack;

fn show(title: &str, response: &lambda_http::Response<lambda_http::Body>) {
    let body: Value = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
        other => Value::String(format!("{other:?}")),
    };
    println!("\n── {title}\n   HTTP {}", response.status());
    println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let stack = Stack::fresh().await;
    println!("AWS stand-in: {}", tradai_tests::emulator::endpoint());
    println!("table {}  queue {}", stack.table, stack.queue_url);
    let submit = submit_backtest::Deps {
        store: stack.store(),
        launcher: SqsQueue::new(stack.sqs.clone(), &stack.queue_url),
        keys: stack.keys(),
    };
    let status = get_backtest_status::Deps {
        store: stack.store(),
        mlflow_ui: None,
    };
    let events_dir = project_root().join("events");

    let response =
        submit_backtest::handle(&submit, events::request(&events_dir.join("submit-backtest/valid.json"))).await?;
    show("POST /backtest  (events/submit-backtest/valid.json)", &response);
    let accepted: Value = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text)?,
        _ => return Err("submit-backtest answered without a JSON body".into()),
    };
    let run_id = accepted["run_id"]
        .as_str()
        .ok_or("submit-backtest answered without a run_id")?
        .to_owned();

    let invalid = events_dir.join("submit-backtest/invalid-end-before-start.json");
    let response = submit_backtest::handle(&submit, events::request(&invalid)).await?;
    show(
        "POST /backtest  (events/submit-backtest/invalid-end-before-start.json)",
        &response,
    );

    let status_event = std::fs::read_to_string(events_dir.join("get-backtest-status/valid.json"))?
        .replace("3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10", &run_id);
    let response = get_backtest_status::handle(&status, events::request_from_json(&status_event)).await?;
    show(&format!("GET /backtest/{run_id}/status"), &response);

    let messages = stack.messages(&stack.queue_url).await;
    println!("\n── the queue holds {} message(s) for the executor", messages.len());
    for message in messages {
        let body: Value = serde_json::from_str(message.body().unwrap_or("null"))?;
        println!("{}", serde_json::to_string_pretty(&body)?);
    }
    Ok(())
}
