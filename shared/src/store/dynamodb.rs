use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::cursor::Position;
use super::{
    Cursor, FINGERPRINT_INDEX, KEY_ATTRIBUTE, Page, RecordUpdate, STATUS_INDEX, SUBMITTER_INDEX, StoreError,
    Transition, TransitionOutcome, WorkflowStore,
};
use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::run_manifest::Fingerprint;
use crate::time::Timestamp;

type Item = HashMap<String, AttributeValue>;

/// Records in one DynamoDB table: partition key `run_id`, GSIs `status-created_at-index`,
/// `submitted_by-created_at-index` and `fingerprint-created_at-index` (all ALL projected).
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    scan_page_size: i32,
}

impl DynamoDbStore {
    /// A store over `table`, reached with `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            scan_page_size: 200,
        }
    }

    /// How many index entries one query page of a full scan (such as the stale-RUNNING query) reads.
    pub fn with_scan_page_size(mut self, size: u16) -> Self {
        self.scan_page_size = i32::from(size.max(1));
        self
    }

    /// The table this store writes to.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Up to `limit` records of an index `query`, newest first, from `start`.
    async fn page(&self, query: QueryFluentBuilder, mut start: Option<Item>, limit: usize) -> Result<Page, StoreError> {
        let limit = limit.clamp(1, 1000);
        // One record more than asked for says whether a next page exists, so the last page never ends in an
        // empty one; DynamoDB may stop early (1 MB pages, or a filter that leaves few), hence the loop.
        let mut records = Vec::with_capacity(limit + 1);
        loop {
            let wanted = i32::try_from(limit + 1 - records.len()).unwrap_or(i32::MAX);
            let output = query
                .clone()
                .scan_index_forward(false)
                .limit(wanted)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|error| unavailable(error.into_service_error()))?;
            for item in output.items.unwrap_or_default() {
                records.push(from_item(item)?);
            }
            start = output.last_evaluated_key;
            if records.len() > limit || start.is_none() {
                break;
            }
        }
        let next = if records.len() > limit {
            records.truncate(limit);
            records.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page { records, next })
    }
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(error: E) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

/// The outcome of a conditional update: true when written, false when its condition did not hold.
fn conditional<T>(result: Result<T, UpdateItemError>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.is_conditional_check_failed_exception() => Ok(false),
        Err(error) => Err(unavailable(error)),
    }
}

fn to_item(record: &WorkflowRecord) -> Result<Item, StoreError> {
    serde_dynamo::to_item(record).map_err(|source| StoreError::Corrupt {
        key: record.run_id.to_string(),
        source: Box::new(source),
    })
}

fn from_item(item: Item) -> Result<WorkflowRecord, StoreError> {
    let key = match item.get(KEY_ATTRIBUTE) {
        Some(AttributeValue::S(key)) => key.clone(),
        _ => "(no run_id)".to_owned(),
    };
    serde_dynamo::from_item(item).map_err(|source| StoreError::Corrupt {
        key,
        source: Box::new(source),
    })
}

/// Puts `item` into `table` unless an item with its key (`key_attribute`) is there: true when it was written.
pub(crate) async fn put_new(client: &Client, table: &str, key_attribute: &str, item: Item) -> Result<bool, StoreError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#key)")
        .expression_attribute_names("#key", key_attribute)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(error) => match error.into_service_error() {
            error if error.is_conditional_check_failed_exception() => Ok(false),
            error => Err(unavailable(error)),
        },
    }
}

/// The item of `table` with key `(name, value)`, read consistently, if there is one.
pub(crate) async fn get_consistent(
    client: &Client,
    table: &str,
    (name, value): (String, AttributeValue),
) -> Result<Option<Item>, StoreError> {
    let output = client
        .get_item()
        .table_name(table)
        .key(name, value)
        .consistent_read(true)
        .send()
        .await
        .map_err(|error| unavailable(error.into_service_error()))?;
    Ok(output.item)
}

/// The most keys one BatchGetItem takes.
const BATCH_GET_KEYS: usize = 100;
/// How often the keys DynamoDB left unprocessed (throttling) are asked for again before the read gives up.
const BATCH_GET_ATTEMPTS: u32 = 8;

/// Every item of `keys` (at most [`BATCH_GET_KEYS`]) in `table` that exists, read consistently; the keys DynamoDB
/// leaves unprocessed are asked for again, with a growing pause.
pub(crate) async fn batch_get(client: &Client, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let mut items = Vec::with_capacity(keys.len());
    let mut pending = keys;
    for attempt in 0..BATCH_GET_ATTEMPTS {
        if pending.is_empty() {
            return Ok(items);
        }
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5))).await;
        }
        let request = KeysAndAttributes::builder()
            .set_keys(Some(pending))
            .consistent_read(true)
            .build()
            .map_err(unavailable)?;
        let output = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|error| unavailable(error.into_service_error()))?;
        items.extend(
            output
                .responses
                .and_then(|mut tables| tables.remove(table))
                .unwrap_or_default(),
        );
        pending = output
            .unprocessed_keys
            .and_then(|mut tables| tables.remove(table))
            .map(|left| left.keys)
            .unwrap_or_default();
    }
    if pending.is_empty() {
        Ok(items)
    } else {
        Err(StoreError::Unavailable(
            format!(
                "DynamoDB left {} keys unread after {BATCH_GET_ATTEMPTS} attempts",
                pending.len()
            )
            .into(),
        ))
    }
}

fn key(run_id: RunId) -> (String, AttributeValue) {
    (KEY_ATTRIBUTE.to_owned(), AttributeValue::S(run_id.to_string()))
}

fn status_of(item: &Item) -> Option<Status> {
    match item.get("status") {
        Some(AttributeValue::S(text)) => text.parse().ok(),
        _ => None,
    }
}

/// Where a query of the status index resumes: the table's key and the index's, exactly.
fn status_start_key(position: Position) -> Item {
    start_key(
        position.run_id,
        ("status", position.status.to_string()),
        position.created_at,
    )
}

/// Where a query of the submitter index resumes. A submitter cursor always names its submitter.
fn submitter_start_key(position: Position) -> Item {
    let submitted_by = position.submitted_by.unwrap_or_default();
    start_key(position.run_id, ("submitted_by", submitted_by), position.created_at)
}

fn start_key(run_id: RunId, (partition, value): (&str, String), created_at: Timestamp) -> Item {
    HashMap::from([
        (KEY_ATTRIBUTE.to_owned(), AttributeValue::S(run_id.to_string())),
        (partition.to_owned(), AttributeValue::S(value)),
        ("created_at".to_owned(), AttributeValue::S(created_at.to_string())),
    ])
}

/// An update expression's `SET` clause with its names and values; `#key` always names the partition key.
struct Assignments {
    assignments: Vec<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Assignments {
    /// The assignments of every field `set` writes.
    fn new(run_id: RunId, set: &RecordUpdate) -> Result<Self, StoreError> {
        let fields = serde_dynamo::to_item::<_, Item>(set).map_err(|source| StoreError::Corrupt {
            key: run_id.to_string(),
            source: Box::new(source),
        })?;
        let mut update = Self {
            assignments: Vec::new(),
            names: HashMap::from([("#key".to_owned(), KEY_ATTRIBUTE.to_owned())]),
            values: HashMap::new(),
        };
        for (field, value) in fields {
            update.set(&field, value);
        }
        Ok(update)
    }

    fn set(&mut self, field: &str, value: AttributeValue) {
        let index = self.assignments.len();
        self.assignments.push(format!("#f{index} = :f{index}"));
        self.names.insert(format!("#f{index}"), field.to_owned());
        self.values.insert(format!(":f{index}"), value);
        if field == "status" {
            self.names.insert("#status".to_owned(), "status".to_owned());
        }
    }

    fn value(&mut self, name: &str, value: AttributeValue) {
        self.values.insert(name.to_owned(), value);
    }

    fn is_empty(&self) -> bool {
        self.assignments.is_empty()
    }

    fn expression(&self) -> String {
        format!("SET {}", self.assignments.join(", "))
    }
}

impl WorkflowStore for DynamoDbStore {
    async fn create(&self, record: &WorkflowRecord) -> Result<(), StoreError> {
        if put_new(&self.client, &self.table, KEY_ATTRIBUTE, to_item(record)?).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists(record.run_id))
        }
    }

    async fn get(&self, run_id: RunId) -> Result<Option<WorkflowRecord>, StoreError> {
        get_consistent(&self.client, &self.table, key(run_id))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn get_many(&self, run_ids: &[RunId]) -> Result<Vec<WorkflowRecord>, StoreError> {
        let mut found: HashMap<RunId, WorkflowRecord> = HashMap::with_capacity(run_ids.len());
        for chunk in run_ids.chunks(BATCH_GET_KEYS) {
            let keys: Vec<Item> = chunk.iter().map(|run_id| Item::from([key(*run_id)])).collect();
            let items = batch_get(&self.client, &self.table, keys).await?;
            for item in items {
                let record = from_item(item)?;
                found.insert(record.run_id, record);
            }
        }
        Ok(run_ids.iter().filter_map(|run_id| found.remove(run_id)).collect())
    }

    async fn transition(&self, run_id: RunId, transition: &Transition) -> Result<TransitionOutcome, StoreError> {
        transition.check()?;
        let mut update = Assignments::new(run_id, &transition.set)?;
        update.set("status", AttributeValue::S(transition.to.to_string()));
        update.set("updated_at", AttributeValue::S(transition.at.to_string()));
        update.value(":from", AttributeValue::S(transition.from.to_string()));
        let mut condition = "attribute_exists(#key) AND #status = :from".to_owned();
        if let Some(seen) = transition.unchanged_since {
            update.names.insert("#updated_at".to_owned(), "updated_at".to_owned());
            update.value(":seen", AttributeValue::S(seen.to_string()));
            condition.push_str(" AND #updated_at = :seen");
        }
        let (assignments, names, values) = (update.expression(), update.names, update.values);

        let (key_name, key_value) = key(run_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(key_name, key_value)
            .update_expression(assignments)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;

        match result {
            Ok(output) => match output.attributes {
                Some(item) => Ok(TransitionOutcome::Moved(Box::new(from_item(item)?))),
                None => Err(StoreError::Corrupt {
                    key: run_id.to_string(),
                    source: "the update returned no attributes".into(),
                }),
            },
            Err(SdkError::ServiceError(failure)) => match failure.into_err() {
                UpdateItemError::ConditionalCheckFailedException(lost) => {
                    // The losing write's view of the item tells who won; emulators that omit it get a read.
                    let current = match lost.item.as_ref().and_then(status_of) {
                        Some(status) => Some(status),
                        None => self.get(run_id).await?.map(|record| record.status),
                    };
                    Ok(match current {
                        Some(current) => TransitionOutcome::LostRace { current },
                        None => TransitionOutcome::NotFound,
                    })
                }
                other => Err(unavailable(other)),
            },
            Err(other) => Err(unavailable(other)),
        }
    }

    async fn annotate(&self, run_id: RunId, set: &RecordUpdate) -> Result<bool, StoreError> {
        let update = Assignments::new(run_id, set)?;
        if update.is_empty() {
            return Ok(self.get(run_id).await?.is_some());
        }
        let (key_name, key_value) = key(run_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(key_name, key_value)
            .update_expression(update.expression())
            .condition_expression("attribute_exists(#key)")
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await;
        conditional(result.map_err(|error| error.into_service_error()))
    }

    async fn heartbeat(&self, run_id: RunId, at: Timestamp) -> Result<bool, StoreError> {
        let (key_name, key_value) = key(run_id);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(key_name, key_value)
            .update_expression("SET #updated_at = :at")
            .condition_expression("#status = :running")
            .expression_attribute_names("#updated_at", "updated_at")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":at", AttributeValue::S(at.to_string()))
            .expression_attribute_values(":running", AttributeValue::S(Status::Running.to_string()))
            .send()
            .await;
        conditional(result.map_err(|error| error.into_service_error()))
    }

    async fn completed_with(&self, fingerprint: &Fingerprint) -> Result<Option<WorkflowRecord>, StoreError> {
        // The index is read eventually consistently: a run that completed a moment ago may be missed, and the
        // job then runs its engine, which is what it would have done a moment earlier.
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(FINGERPRINT_INDEX)
            .key_condition_expression("#fingerprint = :fingerprint")
            .filter_expression("#status = :completed AND attribute_not_exists(#cached_from)")
            .expression_attribute_names("#fingerprint", "fingerprint")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#cached_from", "cached_from")
            .expression_attribute_values(":fingerprint", AttributeValue::S(fingerprint.to_string()))
            .expression_attribute_values(":completed", AttributeValue::S(Status::Completed.to_string()));
        let newest = self.page(query, None, 1).await?;
        Ok(newest.records.into_iter().find(|record| record.answers(fingerprint)))
    }

    async fn list_by_status(&self, status: Status, limit: usize, cursor: Option<&Cursor>) -> Result<Page, StoreError> {
        let start = cursor.map(|cursor| cursor.position(status)).transpose()?;
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STATUS_INDEX)
            .key_condition_expression("#status = :status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", AttributeValue::S(status.to_string()));
        self.page(query, start.map(status_start_key), limit).await
    }

    async fn list_by_submitter(
        &self,
        submitted_by: &str,
        only: Option<Status>,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> Result<Page, StoreError> {
        let start = cursor
            .map(|cursor| cursor.submitter_position(submitted_by))
            .transpose()?;
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(SUBMITTER_INDEX)
            .key_condition_expression("#submitted_by = :submitted_by")
            .expression_attribute_names("#submitted_by", "submitted_by")
            .expression_attribute_values(":submitted_by", AttributeValue::S(submitted_by.to_owned()));
        if let Some(status) = only {
            query = query
                .filter_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", AttributeValue::S(status.to_string()));
        }
        self.page(query, start.map(submitter_start_key), limit).await
    }

    async fn stale(&self, status: Status, updated_before: Timestamp) -> Result<Vec<WorkflowRecord>, StoreError> {
        let mut stale = Vec::new();
        let mut start = None;
        loop {
            // A job's updated_at is never before its created_at, so only jobs created before the cut-off can be
            // stale: the key condition bounds the read, the filter decides.
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(STATUS_INDEX)
                .key_condition_expression("#status = :status AND #created_at < :cutoff")
                .filter_expression("#updated_at < :cutoff")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#created_at", "created_at")
                .expression_attribute_names("#updated_at", "updated_at")
                .expression_attribute_values(":status", AttributeValue::S(status.to_string()))
                .expression_attribute_values(":cutoff", AttributeValue::S(updated_before.to_string()))
                .limit(self.scan_page_size)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| unavailable(error.into_service_error()))?;
            for item in output.items.unwrap_or_default() {
                stale.push(from_item(item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(stale);
            }
        }
    }
}
