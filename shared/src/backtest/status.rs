use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a job is in its life. The last three are terminal: a job that reaches one never changes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Recorded, but no executor is configured: nothing will run it until someone hands it off.
    Pending,
    /// Handed to an executor (queue, workflow or task), not started yet — or released by a container that was
    /// interrupted (a Spot reclaim), for the workflow's re-run.
    Queued,
    /// The strategy container has claimed it and is running the engine.
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    /// Every status, in life-cycle order.
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Queued,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The name stored in the table and shown to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Queued => "QUEUED",
            Status::Running => "RUNNING",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }

    /// True for the statuses a job never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }

    /// Whether a job may move from `self` to `next`.
    pub fn can_move_to(self, next: Status) -> bool {
        use Status::*;
        match self {
            // Straight to COMPLETED: answered from the result of an earlier run with the same inputs.
            Pending => matches!(next, Queued | Running | Completed | Failed | Cancelled),
            Queued => matches!(next, Running | Completed | Failed | Cancelled),
            // Back to QUEUED: its container was interrupted (a Spot reclaim) and the workflow runs it again.
            Running => matches!(next, Queued | Completed | Failed | Cancelled),
            Completed | Failed | Cancelled => false,
        }
    }
}

/// A text that names no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}; expected one of PENDING, QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.chars().take(32).collect()))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    #[test]
    fn terminal_statuses_never_move() {
        for from in [Completed, Failed, Cancelled] {
            assert!(from.is_terminal());
            for to in Status::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to} allowed");
            }
        }
    }

    #[test]
    fn the_normal_life_is_allowed() {
        assert!(Pending.can_move_to(Queued));
        assert!(Queued.can_move_to(Running));
        assert!(Running.can_move_to(Completed));
        assert!(Running.can_move_to(Failed));
        assert!(Queued.can_move_to(Cancelled));
        assert!(
            Running.can_move_to(Queued),
            "an interrupted run is released for its re-run"
        );
    }

    #[test]
    fn no_status_skips_back_and_only_a_cached_answer_completes_without_running() {
        assert!(!Running.can_move_to(Pending));
        assert!(!Queued.can_move_to(Pending));
        assert!(Queued.can_move_to(Completed), "answered from the cache");
        assert!(
            Pending.can_move_to(Completed),
            "a sweep's child answered from the cache"
        );
        for status in Status::ALL {
            assert!(!status.can_move_to(status), "{status} -> itself allowed");
        }
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            assert_eq!(serde_json::to_string(&status).ok(), Some(format!("\"{status}\"")));
        }
        assert!("running".parse::<Status>().is_err());
    }
}
