//! A run's logs: what the strategy container printed, read a page at a time from the awslogs stream of every
//! task that ran the job (a Spot task and the on-demand task that replaced it, in the order they started).
//!
//! Which tasks ran a job is found from what runs it ([`RunTasks`]: the execution's history in `stepfunctions`
//! mode, the recorded task in `ecs` mode); where a task's output went from its task definition's log
//! configuration ([`LogSource`]). A [`Cursor`] names a task and the log service's token within its stream, so a
//! client that follows a running job reads each line once.

mod aws;

use std::future::Future;

use serde::Serialize;

pub use aws::{AwsRunTasks, CloudWatchLogs, awslogs_stream};

use crate::backtest::{RunId, Status, WorkflowRecord};
use crate::store::{StoreError, WorkflowStore};
use crate::time::Timestamp;

/// The most lines one page holds (CloudWatch Logs' own limit for one read).
pub const MAX_LINES: usize = 10_000;
/// Lines per page when the client does not say.
pub const DEFAULT_LINES: usize = 1_000;

/// One task that ran (or runs) a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTask {
    pub task_arn: String,
    /// Its task definition, when known (it says where the container's output goes).
    pub task_definition_arn: Option<String>,
    /// The container whose output is read, when known.
    pub container: Option<String>,
    /// `FARGATE_SPOT` or `FARGATE`, when known.
    pub capacity_provider: Option<String>,
}

/// Where a task's container output is kept: an awslogs group and stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogStream {
    pub log_group: String,
    pub log_stream: String,
}

/// One line the container printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub timestamp: Timestamp,
    pub message: String,
}

/// Lines of one stream after a token, and the token to read on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPage {
    pub lines: Vec<LogLine>,
    /// The token after the last line; the same token again means the end of the stream for now.
    pub next_token: Option<String>,
}

/// A dependency that did not answer (or answered nonsense).
#[derive(Debug, thiserror::Error)]
#[error("{what} did not answer")]
pub struct SourceError {
    pub what: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl SourceError {
    pub fn new(what: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// Finds the tasks that ran a job, in the order they started.
pub trait RunTasks: Send + Sync {
    fn tasks(&self, record: &WorkflowRecord) -> impl Future<Output = Result<Vec<RunTask>, SourceError>> + Send;
}

/// Where tasks' output goes and its lines.
pub trait LogSource: Send + Sync {
    /// The stream `task`'s container writes to; `None` when its task definition sends its output nowhere.
    fn stream_of(&self, task: &RunTask) -> impl Future<Output = Result<Option<LogStream>, SourceError>> + Send;

    /// At most `limit` lines of `stream` after `token` (from the start without one), oldest first. A stream not
    /// written yet has no lines.
    fn read(
        &self,
        stream: &LogStream,
        token: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<StreamPage, SourceError>> + Send;
}

/// Where a reader is: the task (by its place in start order) and the token within its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub task: usize,
    pub token: Option<String>,
}

/// A cursor a client sent that is not one this route gave.
#[derive(Debug, thiserror::Error)]
#[error("not a next_token of this route: pass the next_token of the previous page")]
pub struct InvalidCursor;

impl Cursor {
    /// The cursor as the client carries it: `<task>` or `<task>.<token>`.
    pub fn encode(&self) -> String {
        match &self.token {
            Some(token) => format!("{}.{token}", self.task),
            None => self.task.to_string(),
        }
    }

    pub fn decode(text: &str) -> Result<Self, InvalidCursor> {
        let (task, token) = match text.split_once('.') {
            Some((task, token)) if !token.is_empty() => (task, Some(token.to_owned())),
            Some(_) => return Err(InvalidCursor),
            None => (text, None),
        };
        let task = task.parse().map_err(|_| InvalidCursor)?;
        Ok(Self { task, token })
    }
}

/// One task of a run as a client is told about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskReport {
    pub task_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider: Option<String>,
    /// Where its output is; absent when its task definition sends it nowhere.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stream: Option<LogStream>,
}

/// One line as a client is told about it: the task (its place in `tasks`) that printed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineReport {
    pub task: usize,
    pub timestamp: Timestamp,
    pub message: String,
}

/// A page of a run's logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogsPage {
    pub run_id: RunId,
    pub status: Status,
    pub tasks: Vec<TaskReport>,
    pub lines: Vec<LineReport>,
    /// Where to read on from (new lines may come while the job runs).
    pub next_token: String,
    /// The job ended and every line of every task was read: nothing more will come.
    pub complete: bool,
}

/// Why no page was read.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("the workflow store is unavailable")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    InvalidCursor(#[from] InvalidCursor),
}

/// At most `limit` lines of job `run_id`'s container output from `cursor` on, or `None` for an unknown job.
pub async fn read(
    store: &impl WorkflowStore,
    tasks: &impl RunTasks,
    source: &impl LogSource,
    run_id: RunId,
    cursor: Cursor,
    limit: usize,
) -> Result<Option<LogsPage>, LogsError> {
    let Some(record) = store.get(run_id).await? else {
        return Ok(None);
    };
    let started = tasks.tasks(&record).await?;
    if cursor.task > started.len() || (cursor.task == started.len() && cursor.token.is_some()) {
        return Err(InvalidCursor.into());
    }
    let mut reports = Vec::with_capacity(started.len());
    for task in &started {
        reports.push(TaskReport {
            task_arn: task.task_arn.clone(),
            capacity_provider: task.capacity_provider.clone(),
            stream: source.stream_of(task).await?,
        });
    }

    let mut lines = Vec::new();
    let mut cursor = cursor;
    let mut at_end = started.is_empty();
    while let Some(report) = reports.get(cursor.task) {
        let last = cursor.task + 1 == reports.len();
        let page = match &report.stream {
            Some(stream) => {
                source
                    .read(stream, cursor.token.as_deref(), limit - lines.len())
                    .await?
            }
            None => StreamPage {
                lines: Vec::new(),
                next_token: None,
            },
        };
        let drained = page.lines.is_empty() || page.next_token.is_none() || page.next_token == cursor.token;
        lines.extend(page.lines.into_iter().map(|line| LineReport {
            task: cursor.task,
            timestamp: line.timestamp,
            message: line.message,
        }));
        if page.next_token.is_some() {
            cursor.token = page.next_token;
        }
        if drained && !last {
            // This task's stream is read to its end and a later task took over: on to that one.
            cursor = Cursor {
                task: cursor.task + 1,
                token: None,
            };
            continue;
        }
        at_end = drained && last;
        if drained || lines.len() >= limit {
            break;
        }
    }
    Ok(Some(LogsPage {
        run_id,
        status: record.status,
        tasks: reports,
        lines,
        next_token: cursor.encode(),
        complete: at_end && record.status.is_terminal(),
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::backtest::WorkflowRecord;
    use crate::store::MemoryStore;

    /// A log service holding each stream's lines; its token is the index of the next line.
    #[derive(Default)]
    struct Streams {
        lines: Mutex<HashMap<String, Vec<String>>>,
    }

    impl Streams {
        fn print(&self, stream: &str, lines: &[&str]) {
            self.lines
                .lock()
                .expect("lines")
                .entry(stream.to_owned())
                .or_default()
                .extend(lines.iter().map(|line| (*line).to_owned()));
        }
    }

    impl LogSource for Streams {
        async fn stream_of(&self, task: &RunTask) -> Result<Option<LogStream>, SourceError> {
            Ok(task.task_definition_arn.as_ref().map(|_| LogStream {
                log_group: "/tradai/test/strategies".to_owned(),
                log_stream: task.task_arn.clone(),
            }))
        }

        async fn read(&self, stream: &LogStream, token: Option<&str>, limit: usize) -> Result<StreamPage, SourceError> {
            let all = self
                .lines
                .lock()
                .expect("lines")
                .get(&stream.log_stream)
                .cloned()
                .unwrap_or_default();
            let from: usize = token.map(|token| token.parse().expect("a token of ours")).unwrap_or(0);
            let to = all.len().min(from + limit);
            Ok(StreamPage {
                lines: all[from..to]
                    .iter()
                    .map(|message| LogLine {
                        timestamp: Timestamp::from_epoch_millis(1_700_000_000_000).expect("valid"),
                        message: message.clone(),
                    })
                    .collect(),
                next_token: Some(to.to_string()),
            })
        }
    }

    struct Tasks(Vec<RunTask>);

    impl RunTasks for Tasks {
        async fn tasks(&self, _record: &WorkflowRecord) -> Result<Vec<RunTask>, SourceError> {
            Ok(self.0.clone())
        }
    }

    fn task(arn: &str, logged: bool) -> RunTask {
        RunTask {
            task_arn: arn.to_owned(),
            task_definition_arn: logged.then(|| "arn:aws:ecs:us-east-1:1:task-definition/strategy-x:1".to_owned()),
            container: Some("strategy".to_owned()),
            capacity_provider: Some("FARGATE_SPOT".to_owned()),
        }
    }

    async fn job(status: Status) -> (MemoryStore, RunId) {
        let store = MemoryStore::default();
        let record = crate::workflow::fakes::sample_record(status);
        let run_id = record.run_id;
        store.create(&record).await.expect("valid");
        (store, run_id)
    }

    fn messages(page: &LogsPage) -> Vec<(usize, &str)> {
        page.lines
            .iter()
            .map(|line| (line.task, line.message.as_str()))
            .collect()
    }

    #[tokio::test]
    async fn a_follower_reads_every_line_of_every_task_once_in_order() {
        let (store, run_id) = job(Status::Running).await;
        let streams = Streams::default();
        let tasks = Tasks(vec![task("spot", true), task("fargate", true)]);
        streams.print("spot", &["a", "b", "c"]);

        let first = read(&store, &tasks, &streams, run_id, Cursor::default(), 2)
            .await
            .expect("valid")
            .expect("valid");
        assert_eq!(messages(&first), [(0, "a"), (0, "b")]);
        let cursor = Cursor::decode(&first.next_token).expect("valid");
        let second = read(&store, &tasks, &streams, run_id, cursor, 10)
            .await
            .expect("valid")
            .expect("valid");
        assert_eq!(messages(&second), [(0, "c")], "the second task has printed nothing yet");
        assert!(!second.complete, "the job is still running");

        streams.print("fargate", &["d"]);
        let cursor = Cursor::decode(&second.next_token).expect("valid");
        let third = read(&store, &tasks, &streams, run_id, cursor, 10)
            .await
            .expect("valid")
            .expect("valid");
        assert_eq!(messages(&third), [(1, "d")]);
        let cursor = Cursor::decode(&third.next_token).expect("valid");
        let fourth = read(&store, &tasks, &streams, run_id, cursor, 10)
            .await
            .expect("valid")
            .expect("valid");
        assert!(fourth.lines.is_empty());
        assert_eq!(fourth.next_token, third.next_token, "nothing new: the same place again");
    }

    #[tokio::test]
    async fn an_ended_job_read_to_its_end_is_complete() {
        let (store, run_id) = job(Status::Completed).await;
        let streams = Streams::default();
        streams.print("spot", &["a"]);
        let tasks = Tasks(vec![task("spot", true)]);
        let page = read(&store, &tasks, &streams, run_id, Cursor::default(), 10)
            .await
            .expect("valid")
            .expect("valid");
        assert_eq!(messages(&page), [(0, "a")]);
        assert!(
            page.complete,
            "the page reached the end of the only stream of an ended job"
        );
        let cut = read(&store, &tasks, &streams, run_id, Cursor::default(), 1)
            .await
            .expect("valid")
            .expect("valid");
        assert!(
            !cut.complete,
            "a page cut by its limit does not know it reached the end"
        );
        let cursor = Cursor::decode(&cut.next_token).expect("valid");
        let last = read(&store, &tasks, &streams, run_id, cursor, 10)
            .await
            .expect("valid")
            .expect("valid");
        assert!(last.lines.is_empty() && last.complete);
    }

    #[tokio::test]
    async fn a_task_without_a_log_stream_is_reported_and_skipped() {
        let (store, run_id) = job(Status::Failed).await;
        let streams = Streams::default();
        streams.print("fargate", &["z"]);
        let tasks = Tasks(vec![task("spot", false), task("fargate", true)]);
        let page = read(&store, &tasks, &streams, run_id, Cursor::default(), 10)
            .await
            .expect("valid")
            .expect("valid");
        assert_eq!(page.tasks[0].stream, None);
        assert_eq!(page.tasks[1].stream.as_ref().expect("valid").log_stream, "fargate");
        assert_eq!(messages(&page), [(1, "z")]);
    }

    #[tokio::test]
    async fn a_job_no_task_ran_has_no_lines_and_an_unknown_one_none() {
        let (store, run_id) = job(Status::Failed).await;
        let streams = Streams::default();
        let page = read(&store, &Tasks(vec![]), &streams, run_id, Cursor::default(), 10)
            .await
            .expect("valid")
            .expect("valid");
        assert!(page.lines.is_empty() && page.tasks.is_empty() && page.complete);
        let unknown = RunId::new();
        assert!(
            read(&store, &Tasks(vec![]), &streams, unknown, Cursor::default(), 10)
                .await
                .expect("valid")
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_cursor_past_the_tasks_is_refused() {
        let (store, run_id) = job(Status::Running).await;
        let tasks = Tasks(vec![task("spot", true)]);
        let error = read(
            &store,
            &tasks,
            &Streams::default(),
            run_id,
            Cursor { task: 3, token: None },
            10,
        )
        .await;
        assert!(matches!(error, Err(LogsError::InvalidCursor(_))));
    }

    #[test]
    fn cursors_round_trip_and_malformed_ones_are_refused() {
        for cursor in [
            Cursor::default(),
            Cursor {
                task: 2,
                token: Some("f/00000000000000000000000000000000000000000000000000000003".to_owned()),
            },
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()).expect("valid"), cursor);
        }
        for text in ["", "x", "1.", "-1", "a.b"] {
            assert!(Cursor::decode(text).is_err(), "{text:?}");
        }
    }
}
