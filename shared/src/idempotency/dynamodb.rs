use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::{Claim, IdempotencyKey, IdempotencyKeys, KEY_LIFETIME};
use crate::backtest::RunId;
use crate::store::StoreError;
use crate::time::Timestamp;

/// The partition key of the idempotency table.
pub const KEY_ATTRIBUTE: &str = "idempotency_key";
/// The table's time-to-live attribute (epoch seconds): DynamoDB deletes expired claims by itself.
pub const EXPIRY_ATTRIBUTE: &str = "expires_at";

/// Idempotency keys in a DynamoDB table with time-to-live on `expires_at`. Expired claims that DynamoDB has not
/// deleted yet count as absent: the condition compares the expiry, not the item's presence alone.
#[derive(Debug, Clone)]
pub struct DynamoDbKeys {
    client: Client,
    table: String,
}

impl DynamoDbKeys {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(error: E) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

fn existing(key: &IdempotencyKey, item: &HashMap<String, AttributeValue>) -> Result<Claim, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let corrupt = || StoreError::Corrupt {
        key: key.to_string(),
        source: "an idempotency claim lacks its run".into(),
    };
    let run_id = text("run_id").and_then(|id| id.parse().ok()).ok_or_else(corrupt)?;
    let fingerprint = text("fingerprint").ok_or_else(corrupt)?;
    Ok(Claim::Existing { run_id, fingerprint })
}

impl IdempotencyKeys for DynamoDbKeys {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        run_id: RunId,
        now: Timestamp,
    ) -> Result<Claim, StoreError> {
        let expires = now.plus(KEY_LIFETIME).epoch_seconds();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
            .item("fingerprint", AttributeValue::S(fingerprint.to_owned()))
            .item("run_id", AttributeValue::S(run_id.to_string()))
            .item("created_at", AttributeValue::S(now.to_string()))
            .item(EXPIRY_ATTRIBUTE, AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(#key) OR #expires <= :now")
            .expression_attribute_names("#key", KEY_ATTRIBUTE)
            .expression_attribute_names("#expires", EXPIRY_ATTRIBUTE)
            .expression_attribute_values(":now", AttributeValue::N(now.epoch_seconds().to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let failure = match result {
            Ok(_) => return Ok(Claim::Claimed),
            Err(error) => error.into_service_error(),
        };
        if !failure.is_conditional_check_failed_exception() {
            return Err(unavailable(failure));
        }
        let item = match failure {
            aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(lost) => lost.item,
            _ => None,
        };
        let item = match item {
            Some(item) => item,
            // Emulators may omit the old item; read it.
            None => self
                .client
                .get_item()
                .table_name(&self.table)
                .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|error| unavailable(error.into_service_error()))?
                .item
                .ok_or_else(|| StoreError::Unavailable("an idempotency claim vanished while being read".into()))?,
        };
        existing(key, &item)
    }

    async fn release(&self, key: &IdempotencyKey, run_id: RunId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
            .condition_expression("run_id = :run")
            .expression_attribute_values(":run", AttributeValue::S(run_id.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.into_service_error() {
                // Someone else's claim now (ours expired and was taken): not ours to release.
                error if error.is_conditional_check_failed_exception() => Ok(()),
                error => Err(unavailable(error)),
            },
        }
    }
}
