//! Listing jobs newest first, by one status or across all of them, or those one caller submitted, a page at a time.
//!
//! The status index orders jobs within one status. A listing across statuses reads the next page of each status
//! and merges them; its cursor remembers where each status stands, so pages never repeat or skip a job. The
//! submitter index orders one caller's jobs across statuses, so their listing is one query (filtered by status
//! when one is named).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::StatusReport;
use crate::backtest::{Status, WorkflowRecord};
use crate::store::{Cursor, StoreError, WorkflowStore};

/// The page sizes a client may ask for.
pub const LIMITS: std::ops::RangeInclusive<usize> = 1..=100;
/// The page size when the client names none.
pub const DEFAULT_LIMIT: usize = 20;

/// One page of jobs and the cursor of the next page, if there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    pub backtests: Vec<StatusReport>,
    pub next_cursor: Option<String>,
}

/// Why a listing could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the cursor is not one this listing handed out")]
    InvalidCursor,
    #[error("the workflow store could not be read")]
    Store(#[source] StoreError),
}

impl From<StoreError> for ListError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidCursor => ListError::InvalidCursor,
            other => ListError::Store(other),
        }
    }
}

/// What to list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Only jobs in this status.
    pub status: Option<Status>,
    /// Only jobs this caller submitted.
    pub submitted_by: Option<String>,
    /// At most this many (clamped to [`LIMITS`]).
    pub limit: usize,
    /// Continuing the listing that handed out this cursor.
    pub cursor: Option<String>,
}

/// Where each status of a listing stands. A status absent from `after` starts from its newest job; one mapped to
/// `None` has no jobs left. A listing by submitter keeps its one position under [`BY_SUBMITTER`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    /// The status listed, or `None` for all of them: a cursor only continues the listing that made it.
    only: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    submitted_by: Option<String>,
    after: BTreeMap<String, Option<String>>,
}

/// The key of a submitter listing's position.
const BY_SUBMITTER: &str = "submitted_by";

impl Position {
    fn decode(text: &str) -> Result<Self, ListError> {
        let json = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| ListError::InvalidCursor)?;
        serde_json::from_slice(&json).map_err(|_| ListError::InvalidCursor)
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a position always serializes"))
    }
}

/// The page of jobs `query` asks for, newest first.
pub async fn list(
    store: &impl WorkflowStore,
    query: &ListQuery,
    mlflow_ui: Option<&str>,
) -> Result<Listing, ListError> {
    let limit = query.limit.clamp(*LIMITS.start(), *LIMITS.end());
    let only = query.status;
    let position = match &query.cursor {
        Some(text) => Position::decode(text)?,
        None => Position {
            only,
            submitted_by: query.submitted_by.clone(),
            after: BTreeMap::new(),
        },
    };
    if position.only != only || position.submitted_by != query.submitted_by {
        return Err(ListError::InvalidCursor);
    }
    if let Some(submitted_by) = &query.submitted_by {
        let after = position
            .after
            .get(BY_SUBMITTER)
            .cloned()
            .flatten()
            .map(Cursor::from_client);
        let page = store
            .list_by_submitter(submitted_by, only, limit, after.as_ref())
            .await?;
        let next_cursor = page.next.map(|next| {
            let mut position = position.clone();
            position
                .after
                .insert(BY_SUBMITTER.to_owned(), Some(next.as_str().to_owned()));
            position.encode()
        });
        return Ok(Listing {
            backtests: page
                .records
                .into_iter()
                .map(|record| StatusReport::new(record, mlflow_ui))
                .collect(),
            next_cursor,
        });
    }
    let statuses: Vec<Status> = match only {
        Some(status) => vec![status],
        None => Status::ALL.to_vec(),
    };

    // The next page of every status that has jobs left; the merged page takes the newest `limit` of them.
    let mut pages = Vec::new();
    for status in statuses {
        let after = match position.after.get(status.as_str()) {
            Some(None) => continue,
            Some(Some(text)) => Some(Cursor::from_client(text.clone())),
            None => None,
        };
        let page = store.list_by_status(status, limit, after.as_ref()).await?;
        pages.push((status, page));
    }
    let mut merged: Vec<&WorkflowRecord> = pages.iter().flat_map(|(_, page)| &page.records).collect();
    merged.sort_by_key(|record| std::cmp::Reverse((record.created_at, record.run_id)));
    merged.truncate(limit);

    let mut next = position.clone();
    let mut more = false;
    for (status, page) in &pages {
        let taken: Vec<&&WorkflowRecord> = merged.iter().filter(|record| record.status == *status).collect();
        let after = match taken.last() {
            None => position.after.get(status.as_str()).cloned().flatten(),
            Some(last) if taken.len() < page.records.len() => Some(Cursor::after(last).as_str().to_owned()),
            Some(_) => page.next.as_ref().map(|cursor| cursor.as_str().to_owned()),
        };
        let exhausted = taken.len() == page.records.len() && page.next.is_none();
        more |= !exhausted;
        match (exhausted, after) {
            (true, _) => next.after.insert(status.as_str().to_owned(), None),
            (false, Some(cursor)) => next.after.insert(status.as_str().to_owned(), Some(cursor)),
            (false, None) => next.after.remove(status.as_str()),
        };
    }

    let backtests = merged
        .into_iter()
        .map(|record| StatusReport::new(record.clone(), mlflow_ui))
        .collect();
    Ok(Listing {
        backtests,
        next_cursor: more.then(|| next.encode()),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::json;

    use super::*;
    use crate::backtest::{BacktestRequest, RunId};
    use crate::store::MemoryStore;
    use crate::time::Timestamp;

    fn request() -> BacktestRequest {
        let body = json!({"strategy_name": "S", "strategy_version": 1, "config": {"timeframe": "1h",
            "symbols": ["BTC/USDT"], "start_date": "2024-01-01", "end_date": "2024-02-01"}});
        BacktestRequest::from_json(body.to_string().as_bytes(), Timestamp::now().date()).expect("valid")
    }

    async fn seeded(count: i64) -> (MemoryStore, Vec<RunId>) {
        let store = MemoryStore::new();
        let now = Timestamp::now();
        let mut newest_first = Vec::new();
        for index in 0..count {
            let status = Status::ALL[(index as usize * 7) % Status::ALL.len()];
            let record = WorkflowRecord::new(RunId::new(), request(), status, now.minus(TimeDelta::seconds(index)));
            newest_first.push(record.run_id);
            store.create(&record).await.expect("created");
        }
        (store, newest_first)
    }

    fn page_of(limit: usize, cursor: Option<&str>) -> ListQuery {
        ListQuery {
            limit,
            cursor: cursor.map(str::to_owned),
            ..ListQuery::default()
        }
    }

    async fn all_pages(store: &MemoryStore, only: Option<Status>, limit: usize) -> Vec<Vec<RunId>> {
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let query = ListQuery {
                status: only,
                limit,
                cursor: cursor.clone(),
                ..ListQuery::default()
            };
            let listing = list(store, &query, None).await.expect("page");
            pages.push(listing.backtests.iter().map(|report| report.run_id).collect());
            match listing.next_cursor {
                Some(next) => cursor = Some(next),
                None => return pages,
            }
        }
    }

    #[tokio::test]
    async fn across_statuses_every_job_comes_once_newest_first() {
        let (store, newest_first) = seeded(53).await;
        for limit in [1, 7, 10, 53, 100] {
            let pages = all_pages(&store, None, limit).await;
            assert!(
                pages.iter().all(|page| page.len() <= limit && !page.is_empty()),
                "limit {limit}"
            );
            let listed: Vec<RunId> = pages.into_iter().flatten().collect();
            assert_eq!(listed, newest_first, "limit {limit}");
        }
    }

    #[tokio::test]
    async fn one_status_lists_only_that_status() {
        let (store, _) = seeded(40).await;
        let listed: Vec<RunId> = all_pages(&store, Some(Status::Running), 3)
            .await
            .into_iter()
            .flatten()
            .collect();
        let expected = store
            .list_by_status(Status::Running, 1000, None)
            .await
            .expect("page")
            .records;
        assert_eq!(listed, expected.iter().map(|record| record.run_id).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_cursor_only_continues_its_own_listing() {
        let (store, _) = seeded(30).await;
        let first = list(&store, &page_of(5, None), None).await.expect("page");
        let cursor = first.next_cursor.expect("more pages");
        let other_status = ListQuery {
            status: Some(Status::Queued),
            ..page_of(5, Some(&cursor))
        };
        let other_submitter = ListQuery {
            submitted_by: Some("arn:aws:iam::123456789012:user/ada".into()),
            ..page_of(5, Some(&cursor))
        };
        for query in [other_status, other_submitter] {
            assert!(matches!(
                list(&store, &query, None).await,
                Err(ListError::InvalidCursor)
            ));
        }
        for garbage in ["", "x", "e30", "eyJvbmx5IjoiQk9HVVMiLCJhZnRlciI6e319"] {
            assert!(matches!(
                list(&store, &page_of(5, Some(garbage)), None).await,
                Err(ListError::InvalidCursor)
            ));
        }
    }

    #[tokio::test]
    async fn an_empty_store_lists_nothing_and_no_cursor() {
        let store = MemoryStore::new();
        let listing = list(&store, &page_of(10, None), None).await.expect("page");
        assert!(listing.backtests.is_empty());
        assert_eq!(listing.next_cursor, None);
    }

    #[tokio::test]
    async fn by_submitter_lists_only_their_jobs_newest_first_in_any_or_one_status() {
        let store = MemoryStore::new();
        let now = Timestamp::now();
        let (ada, bob) = (
            "arn:aws:iam::123456789012:user/ada",
            "arn:aws:iam::123456789012:user/bob",
        );
        let mut adas = Vec::new();
        for index in 0..23 {
            let status = Status::ALL[index as usize % Status::ALL.len()];
            let caller = if index % 3 == 0 { bob } else { ada };
            let record = WorkflowRecord::new(RunId::new(), request(), status, now.minus(TimeDelta::seconds(index)))
                .submitted_by(Some(caller.to_owned()));
            if caller == ada {
                adas.push(record.clone());
            }
            store.create(&record).await.expect("created");
        }
        for only in [None, Some(Status::Running)] {
            let mut listed = Vec::new();
            let mut cursor = None;
            loop {
                let query = ListQuery {
                    status: only,
                    submitted_by: Some(ada.to_owned()),
                    limit: 4,
                    cursor,
                };
                let listing = list(&store, &query, None).await.expect("page");
                assert!(listing.backtests.len() <= 4);
                listed.extend(listing.backtests.iter().map(|report| {
                    assert_eq!(report.submitted_by.as_deref(), Some(ada));
                    report.run_id
                }));
                match listing.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            let expected: Vec<RunId> = adas
                .iter()
                .filter(|record| only.is_none_or(|status| record.status == status))
                .map(|record| record.run_id)
                .collect();
            assert!(!expected.is_empty());
            assert_eq!(listed, expected, "status {only:?}");
        }
    }
}
