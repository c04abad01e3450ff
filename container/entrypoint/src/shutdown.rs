//! The process's stop request (SIGTERM), watched by every phase of a run in turn. Once it has come it stays come,
//! so a phase that starts after it stops at once.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A stop request every phase can wait for.
pub struct Shutdown<'a, F> {
    signal: Pin<&'a mut F>,
    requested: bool,
}

impl<'a, F: Future<Output = ()>> Shutdown<'a, F> {
    /// Watches `signal`, which completes when the process is asked to stop.
    pub fn new(signal: Pin<&'a mut F>) -> Self {
        Self {
            signal,
            requested: false,
        }
    }

    /// Completes when the stop has been requested: at once if it already was.
    pub async fn requested(&mut self) {
        if !self.requested {
            self.signal.as_mut().await;
            self.requested = true;
        }
    }

    /// Whether the stop has been requested (as far as anyone has looked).
    pub fn was_requested(&self) -> bool {
        self.requested
    }

    /// `phase`'s output, unless the stop comes first: then `None`, and `phase` is dropped where it stands. For
    /// phases that leave nothing behind when cut off (waiting, downloading).
    pub async fn unless_requested<T>(&mut self, phase: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            output = phase => Some(output),
            () = self.requested() => None,
        }
    }

    /// `phase`'s output, if it ends by `grace` after the stop (when one comes). For phases that save what the run
    /// did (claiming, uploading, recording): cut off mid-way they would lose it, so they get the grace period.
    pub async fn within_grace<T>(&mut self, grace: Duration, phase: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(phase);
        tokio::select! {
            output = &mut phase => return Some(output),
            () = self.requested() => {}
        }
        tracing::warn!(?grace, "SIGTERM: finishing the current phase within the grace period");
        tokio::time::timeout(grace, phase).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_that_came_stays_come() {
        let signal = std::future::ready(());
        tokio::pin!(signal);
        let mut shutdown = Shutdown::new(signal);
        assert!(!shutdown.was_requested());
        assert_eq!(shutdown.unless_requested(std::future::pending::<()>()).await, None);
        assert!(shutdown.was_requested());
        // A completed signal is never polled again, and every later phase stops at once.
        assert_eq!(shutdown.unless_requested(std::future::pending::<()>()).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_phase_under_grace_finishes_if_it_can_and_is_cut_off_if_it_cannot() {
        let signal = std::future::ready(());
        tokio::pin!(signal);
        let mut shutdown = Shutdown::new(signal);
        let quick = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            "saved"
        };
        assert_eq!(
            shutdown.within_grace(Duration::from_secs(5), quick).await,
            Some("saved")
        );
        let slow = tokio::time::sleep(Duration::from_secs(10));
        assert_eq!(shutdown.within_grace(Duration::from_secs(5), slow).await, None);
    }

    #[tokio::test]
    async fn without_a_stop_every_phase_runs_to_its_end() {
        let signal = std::future::pending::<()>();
        tokio::pin!(signal);
        let mut shutdown = Shutdown::new(signal);
        assert_eq!(shutdown.unless_requested(async { 7 }).await, Some(7));
        assert_eq!(shutdown.within_grace(Duration::ZERO, async { 8 }).await, Some(8));
        assert!(!shutdown.was_requested());
    }
}
