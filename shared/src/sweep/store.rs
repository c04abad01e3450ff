//! Where sweeps are recorded: a port with a DynamoDB adapter (one table, partition key `sweep_id`) and an in-memory
//! fake, both keeping the same promises: a create never overwrites, and every status change is conditional on the
//! statuses it may leave.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::record::{SweepId, SweepRecord};
use crate::backtest::Status;
use crate::store::StoreError;
use crate::store::dynamodb::{get_consistent, put_new};
use crate::time::Timestamp;

/// The sweep table's partition key.
pub const SWEEP_KEY: &str = "sweep_id";

/// The fields a status change writes besides the status and `updated_at`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepUpdate {
    pub execution_arn: Option<String>,
    pub error: Option<String>,
    pub cancelled_by: Option<String>,
    pub mlflow_run_id: Option<String>,
    pub tracking_error: Option<String>,
}

/// Keeps sweep records.
pub trait SweepStore: Send + Sync {
    /// Records a new sweep; never overwrites one with the same id.
    fn create(&self, sweep: &SweepRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The sweep with this id, read consistently, if there is one.
    fn get(&self, id: SweepId) -> impl Future<Output = Result<Option<SweepRecord>, StoreError>> + Send;

    /// Every sweep still PENDING that was created before `before` (a submission that stopped before its workflow
    /// started, or before it recorded the start), across every page.
    fn stale_pending(&self, before: Timestamp) -> impl Future<Output = Result<Vec<SweepRecord>, StoreError>> + Send;

    /// Moves sweep `id` to `to` at `at`, writing `set`, only if it is in one of `from`; answers the record as
    /// written, or `None` when it is not there or in another status (someone else moved it).
    fn transition(
        &self,
        id: SweepId,
        from: &[Status],
        to: Status,
        at: Timestamp,
        set: &SweepUpdate,
    ) -> impl Future<Output = Result<Option<SweepRecord>, StoreError>> + Send;
}

/// Sweeps in memory, for tests of the logic above the port.
#[derive(Debug, Default)]
pub struct MemorySweeps(Mutex<HashMap<SweepId, SweepRecord>>);

impl MemorySweeps {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SweepId, SweepRecord>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether no sweep is recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl SweepStore for MemorySweeps {
    async fn create(&self, sweep: &SweepRecord) -> Result<(), StoreError> {
        let mut sweeps = self.lock();
        if sweeps.contains_key(&sweep.sweep_id) {
            return Err(StoreError::SweepExists(sweep.sweep_id));
        }
        sweeps.insert(sweep.sweep_id, sweep.clone());
        Ok(())
    }

    async fn get(&self, id: SweepId) -> Result<Option<SweepRecord>, StoreError> {
        Ok(self.lock().get(&id).cloned())
    }

    async fn stale_pending(&self, before: Timestamp) -> Result<Vec<SweepRecord>, StoreError> {
        Ok(self
            .lock()
            .values()
            .filter(|sweep| sweep.status == Status::Pending && sweep.created_at < before)
            .cloned()
            .collect())
    }

    async fn transition(
        &self,
        id: SweepId,
        from: &[Status],
        to: Status,
        at: Timestamp,
        set: &SweepUpdate,
    ) -> Result<Option<SweepRecord>, StoreError> {
        let mut sweeps = self.lock();
        let Some(sweep) = sweeps.get_mut(&id).filter(|sweep| from.contains(&sweep.status)) else {
            return Ok(None);
        };
        sweep.status = to;
        sweep.updated_at = at;
        apply(sweep, set);
        Ok(Some(sweep.clone()))
    }
}

fn apply(sweep: &mut SweepRecord, set: &SweepUpdate) {
    if let Some(arn) = &set.execution_arn {
        sweep.execution_arn = Some(arn.clone());
    }
    if let Some(error) = &set.error {
        sweep.error = Some(error.clone());
    }
    if let Some(by) = &set.cancelled_by {
        sweep.cancelled_by = Some(by.clone());
    }
    if let Some(run) = &set.mlflow_run_id {
        sweep.mlflow_run_id = Some(run.clone());
    }
    if let Some(error) = &set.tracking_error {
        sweep.tracking_error = Some(error.clone());
    }
}

/// Sweeps in a DynamoDB table keyed by `sweep_id`.
#[derive(Debug, Clone)]
pub struct DynamoDbSweeps {
    client: Client,
    table: String,
}

impl DynamoDbSweeps {
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

fn corrupt(id: SweepId, source: serde_dynamo::Error) -> StoreError {
    StoreError::Corrupt {
        key: id.to_string(),
        source: Box::new(source),
    }
}

fn key(id: SweepId) -> (String, AttributeValue) {
    (SWEEP_KEY.to_owned(), AttributeValue::S(id.to_string()))
}

impl SweepStore for DynamoDbSweeps {
    async fn create(&self, sweep: &SweepRecord) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(sweep).map_err(|error| corrupt(sweep.sweep_id, error))?;
        if put_new(&self.client, &self.table, SWEEP_KEY, item).await? {
            Ok(())
        } else {
            Err(StoreError::SweepExists(sweep.sweep_id))
        }
    }

    async fn get(&self, id: SweepId) -> Result<Option<SweepRecord>, StoreError> {
        get_consistent(&self.client, &self.table, key(id))
            .await?
            .map(|item| serde_dynamo::from_item(item).map_err(|error| corrupt(id, error)))
            .transpose()
    }

    /// A filtered scan: the sweep table holds one item per sweep, few enough to read whole every quarter hour.
    async fn stale_pending(&self, before: Timestamp) -> Result<Vec<SweepRecord>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#status = :pending AND created_at < :before")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pending", AttributeValue::S(Status::Pending.to_string()))
                .expression_attribute_values(":before", AttributeValue::S(before.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| unavailable(error.into_service_error()))?;
            for item in page.items.unwrap_or_default() {
                found.push(serde_dynamo::from_item(item).map_err(|error| StoreError::Corrupt {
                    key: "a sweep".to_owned(),
                    source: Box::new(error),
                })?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    async fn transition(
        &self,
        id: SweepId,
        from: &[Status],
        to: Status,
        at: Timestamp,
        set: &SweepUpdate,
    ) -> Result<Option<SweepRecord>, StoreError> {
        let mut assignments = vec!["#status = :to", "updated_at = :at"];
        let mut values = HashMap::from([
            (":to".to_owned(), AttributeValue::S(to.to_string())),
            (":at".to_owned(), AttributeValue::S(at.to_string())),
        ]);
        for (field, placeholder, value) in [
            ("execution_arn = :execution_arn", ":execution_arn", &set.execution_arn),
            ("#error = :error", ":error", &set.error),
            ("cancelled_by = :cancelled_by", ":cancelled_by", &set.cancelled_by),
            ("mlflow_run_id = :mlflow_run_id", ":mlflow_run_id", &set.mlflow_run_id),
            (
                "tracking_error = :tracking_error",
                ":tracking_error",
                &set.tracking_error,
            ),
        ] {
            if let Some(value) = value {
                assignments.push(field);
                values.insert(placeholder.to_owned(), AttributeValue::S(value.clone()));
            }
        }
        let mut allowed = Vec::with_capacity(from.len());
        for (index, status) in from.iter().enumerate() {
            let placeholder = format!(":from{index}");
            values.insert(placeholder.clone(), AttributeValue::S(status.to_string()));
            allowed.push(placeholder);
        }
        let mut names = HashMap::from([
            ("#key".to_owned(), SWEEP_KEY.to_owned()),
            ("#status".to_owned(), "status".to_owned()),
        ]);
        if set.error.is_some() {
            names.insert("#error".to_owned(), "error".to_owned());
        }
        let (key_name, key_value) = key(id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(key_name, key_value)
            .update_expression(format!("SET {}", assignments.join(", ")))
            .condition_expression(format!(
                "attribute_exists(#key) AND #status IN ({})",
                allowed.join(", ")
            ))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output
                .attributes
                .map(|item| serde_dynamo::from_item(item).map_err(|error| corrupt(id, error)))
                .transpose(),
            Err(error) => match error.into_service_error() {
                error if error.is_conditional_check_failed_exception() => Ok(None),
                error => Err(unavailable(error)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sweep::record::tests::sweep;

    #[tokio::test]
    async fn a_sweep_is_created_once_and_moves_only_from_the_statuses_named() {
        let store = MemorySweeps::default();
        let (record, _) = sweep(json!({"grid": {"buy_ema_fast": [5, 8]}}));
        store.create(&record).await.expect("created");
        assert!(matches!(store.create(&record).await, Err(StoreError::SweepExists(_))));
        let id = record.sweep_id;
        let started = SweepUpdate {
            execution_arn: Some("arn:execution".into()),
            ..SweepUpdate::default()
        };
        let moved = store
            .transition(id, &[Status::Pending], Status::Running, Timestamp::now(), &started)
            .await
            .expect("answers")
            .expect("moved");
        assert_eq!(
            (moved.status, moved.execution_arn.as_deref()),
            (Status::Running, Some("arn:execution"))
        );
        let again = store
            .transition(
                id,
                &[Status::Pending],
                Status::Failed,
                Timestamp::now(),
                &SweepUpdate::default(),
            )
            .await
            .expect("answers");
        assert_eq!(again, None, "no longer PENDING");
        assert_eq!(
            store.get(id).await.expect("read").map(|sweep| sweep.status),
            Some(Status::Running)
        );
    }
}
