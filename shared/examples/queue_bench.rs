//! The orphan scan and the queue consumer at volume, against the stand-in (`AWS_ENDPOINT_URL`: moto). Usage:
//! `queue_bench seed <stale> <fresh> <healthy-long>` makes a table with `stale` RUNNING jobs whose heartbeat is
//! 2 h old, `fresh` ones at 5 min, and `healthy-long` ones created 6 h ago that beat a minute ago, and prints its
//! name; `queue_bench scan <table>` runs one orphan scan on it and prints the figures as JSON (the original
//! design's Python scanner runs on a table seeded alike: bench/python/seed_orphan_scanner.py).
//! `queue_bench consume <jobs> <consumers>` queues `jobs` through the sqs executor and drains the FIFO queue
//! with `consumers` concurrent consumers of batches of 10 into one state machine; prints the figures as JSON.
//! `bench/queue` runs both (bench/RESULTS.md).

use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, PutRequest,
    ScalarAttributeType, WriteRequest,
};
use chrono::TimeDelta;
use futures::StreamExt;
use serde_json::json;
use tradai::backtest::{BacktestRequest, RunId, Status, WorkflowRecord};
use tradai::executor::{InspectError, RunInspector, RunState, SqsQueue, StepFunctions};
use tradai::jobs::{OrphanLimits, Submission, consume_batch, scan, submit};
use tradai::settings::Env;
use tradai::store::{DynamoDbStore, STATUS_INDEX};
use tradai::time::Timestamp;

/// What the consumer bench's jobs ask for.
fn request(strategy: &str) -> BacktestRequest {
    let body = json!({"strategy_name": strategy, "strategy_version": 1, "config": {"timeframe": "5m",
        "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-02-01"}});
    BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("a valid request")
}

/// Nothing recorded runs these jobs: each is judged by its heartbeat alone, as the seed's scanner judges all.
struct NothingRecorded;

impl RunInspector for NothingRecorded {
    async fn inspect(&self, _record: &WorkflowRecord) -> Result<RunState, InspectError> {
        Ok(RunState::Unrecorded)
    }
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("an attribute")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("a key")
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(STATUS_INDEX)
        .key_schema(key("status", KeyType::Hash))
        .key_schema(key("created_at", KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .expect("an index");
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute("run_id"))
        .attribute_definitions(attribute("status"))
        .attribute_definitions(attribute("created_at"))
        .key_schema(key("run_id", KeyType::Hash))
        .global_secondary_indexes(index)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .send()
        .await
        .expect("the table");
}

async fn write_all(client: &aws_sdk_dynamodb::Client, table: &str, records: Vec<WorkflowRecord>) {
    let batches: Vec<Vec<WriteRequest>> = records
        .chunks(25)
        .map(|chunk| {
            chunk
                .iter()
                .map(|record| {
                    let item = serde_dynamo::to_item(record).expect("an item");
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().expect("a put"))
                        .build()
                })
                .collect()
        })
        .collect();
    futures::stream::iter(batches)
        .map(|batch| async move {
            let mut pending = Some(batch);
            while let Some(requests) = pending.take() {
                let written = client
                    .batch_write_item()
                    .request_items(table, requests)
                    .send()
                    .await
                    .expect("written");
                pending = written
                    .unprocessed_items
                    .and_then(|mut left| left.remove(table))
                    .filter(|left| !left.is_empty());
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}

async fn seed(aws: &aws_config::SdkConfig, stale: usize, fresh: usize, healthy: usize) {
    let client = aws_sdk_dynamodb::Client::new(aws);
    let table = format!("bench-orphans-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    create_table(&client, &table).await;
    let now = Timestamp::now();
    let job = |created: Timestamp, beat: Timestamp| {
        let mut record = WorkflowRecord::new(RunId::new(), request("Orphan"), Status::Running, created);
        record.updated_at = beat;
        record
    };
    let mut records = Vec::new();
    records.extend((0..stale).map(|_| job(now.minus(TimeDelta::hours(2)), now.minus(TimeDelta::hours(2)))));
    records.extend((0..fresh).map(|_| job(now.minus(TimeDelta::minutes(5)), now.minus(TimeDelta::minutes(5)))));
    records.extend((0..healthy).map(|_| job(now.minus(TimeDelta::hours(6)), now.minus(TimeDelta::minutes(1)))));
    write_all(&client, &table, records).await;
    println!("{table}");
}

async fn bench_scan(aws: &aws_config::SdkConfig, table: &str) {
    let limits = OrphanLimits {
        max_running: TimeDelta::minutes(90),
        max_queued: TimeDelta::minutes(60),
    };
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(aws), table);
    let started = Instant::now();
    let (report, _) = scan(&store, &NothingRecorded, limits, Timestamp::now())
        .await
        .expect("scanned");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"table": table, "orphans": report.orphan_count, "marked_failed": report.jobs_marked_failed.len(),
            "scan_seconds": seconds, "jobs_per_second": report.jobs_marked_failed.len() as f64 / seconds})
    );
}

async fn bench_consume(aws: &aws_config::SdkConfig, jobs: usize, consumers: usize) {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let table = format!("bench-queue-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    create_table(&dynamodb, &table).await;
    let sqs = aws_sdk_sqs::Client::new(aws);
    let queue_url = sqs
        .create_queue()
        .queue_name(format!(
            "bench-{}.fifo",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url");
    let sfn = aws_sdk_sfn::Client::new(aws);
    let machine = sfn
        .create_state_machine()
        .name(format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]))
        .definition(r#"{"StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":3600,"End":true}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/bench")
        .send()
        .await
        .expect("state machine")
        .state_machine_arn;
    let store = DynamoDbStore::new(dynamodb, &table);
    let queue = SqsQueue::new(sqs.clone(), &queue_url);
    let queuing = Instant::now();
    futures::stream::iter(0..jobs)
        .map(|index| {
            let (store, queue) = (&store, &queue);
            // Ten strategies, ten message groups, as a shared deployment has.
            async move {
                submit(store, queue, Submission::new(request(&format!("S{}", index % 10))))
                    .await
                    .expect("queued")
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let queued = queuing.elapsed().as_secs_f64();
    let launcher = StepFunctions::new(sfn.clone(), &machine);
    let started = Instant::now();
    let consumer = || async {
        let mut batches = 0;
        loop {
            let received = sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(30)
                .send()
                .await
                .expect("received");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return batches;
            }
            batches += 1;
            let records = messages
                .iter()
                .map(|m| (m.message_id().unwrap_or_default(), m.body().unwrap_or_default()));
            let failed = consume_batch(&store, &launcher, records).await;
            for message in messages
                .iter()
                .filter(|m| !failed.iter().any(|id| Some(id.as_str()) == m.message_id()))
            {
                sqs.delete_message()
                    .queue_url(&queue_url)
                    .set_receipt_handle(message.receipt_handle.clone())
                    .send()
                    .await
                    .expect("deleted");
            }
        }
    };
    let batches: usize = futures::future::join_all((0..consumers).map(|_| consumer()))
        .await
        .into_iter()
        .sum();
    let seconds = started.elapsed().as_secs_f64();
    let mut executions = 0;
    let mut token = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .set_next_token(token)
            .send()
            .await
            .expect("listed");
        executions += page.executions().len();
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    println!(
        "{}",
        json!({"jobs": jobs, "consumers": consumers, "queue_seconds": queued, "batches": batches,
            "executions": executions, "consume_seconds": seconds, "jobs_per_second": jobs as f64 / seconds})
    );
}

#[tokio::main]
async fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: usize| arguments.get(index).and_then(|n| n.parse().ok()).unwrap_or(default);
    let settings = Env::process().aws().expect("AWS_ENDPOINT_URL");
    let aws = tradai::aws::sdk_config(&settings).await;
    match arguments.first().map(String::as_str) {
        Some("seed") => seed(&aws, number(1, 10_000), number(2, 1_000), number(3, 100)).await,
        Some("scan") => bench_scan(&aws, arguments.get(1).map(String::as_str).unwrap_or_default()).await,
        Some("consume") => bench_consume(&aws, number(1, 1_000), number(2, 5)).await,
        _ => eprintln!(
            "usage: queue_bench seed <stale> <fresh> <healthy-long> | scan <table> | consume <jobs> <consumers>"
        ),
    }
}
