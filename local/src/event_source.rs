//! Lambda's SQS event source mapping, locally: long-polls the backtest FIFO queue, hands each batch (at most the
//! template's `BatchSize`) to the consumer function through the Lambda Invoke API, deletes the records it did not
//! report as failed, and leaves the others to come back after the visibility timeout — so redelivery, partial batch
//! failures and the dead-letter queue after `maxReceiveCount` behave as on AWS.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use serde_json::{Value, json};

/// How long a received batch stays invisible here: AWS's visibility timeout, scaled down so that a failed record
/// comes back within seconds.
pub const VISIBILITY_SECONDS: i32 = 2;

/// One event source mapping: `queue_url` (whose ARN is `queue_arn`) into the function at `invoke_url`.
pub struct QueueMapping {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub invoke_url: String,
    pub batch_size: i32,
}

impl QueueMapping {
    /// Polls until the process ends.
    pub async fn run(self) {
        let http = reqwest::Client::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(self.batch_size)
                .wait_time_seconds(1)
                .visibility_timeout(VISIBILITY_SECONDS)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await;
            let messages = match received {
                Ok(received) => received.messages.unwrap_or_default(),
                Err(error) => {
                    tracing::warn!(error = %tradai::report::chain(&error), "the queue did not answer");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let failed = self.invoke(&http, &messages).await;
            for message in messages {
                let id = message.message_id.clone().unwrap_or_default();
                if failed.contains(&id) {
                    continue;
                }
                let deleted = self
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .set_receipt_handle(message.receipt_handle)
                    .send()
                    .await;
                if let Err(error) = deleted {
                    tracing::warn!(message = %id, error = %tradai::report::chain(&error), "a consumed message was not deleted");
                }
            }
        }
    }

    /// Invokes the function with `messages` as an SQS event; answers the ids to deliver again (all of them when the
    /// function failed, as Lambda retries a whole batch then).
    async fn invoke(&self, http: &reqwest::Client, messages: &[Message]) -> HashSet<String> {
        let ids = || {
            messages
                .iter()
                .filter_map(|m| m.message_id.clone())
                .collect::<HashSet<_>>()
        };
        let records: Vec<Value> = messages
            .iter()
            .map(|message| sqs_record(message, &self.queue_arn))
            .collect();
        let event = json!({ "Records": records });
        let answer = match http.post(&self.invoke_url).json(&event).send().await {
            Ok(answer) if answer.status().is_success() => answer,
            Ok(answer) => {
                tracing::warn!(status = %answer.status(), "the consumer failed: the whole batch comes back");
                return ids();
            }
            Err(error) => {
                tracing::warn!(error = %error, "the consumer did not answer: the whole batch comes back");
                return ids();
            }
        };
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        match body["batchItemFailures"].as_array() {
            Some(failures) => failures
                .iter()
                .filter_map(|failure| failure["itemIdentifier"].as_str().map(str::to_owned))
                .collect(),
            None => ids(),
        }
    }
}

/// `message` of queue `queue_arn` as Lambda puts it in an SQS event.
pub fn sqs_record(message: &Message, queue_arn: &str) -> Value {
    let attributes: serde_json::Map<String, Value> = message
        .attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), Value::from(value.as_str())))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": crate::REGION,
    })
}
