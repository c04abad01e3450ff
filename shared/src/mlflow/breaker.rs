//! A circuit breaker: after `threshold` failures in a row, calls are refused at once for `recovery`; then one
//! trial call is let through, and its outcome closes the circuit again or opens it for another `recovery`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// Calls are refused until `until`.
    Open { until: Instant },
    /// One trial call is in flight; others are refused until it reports.
    HalfOpen,
}

/// A circuit breaker around one dependency.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    recovery: Duration,
    state: Mutex<State>,
}

/// Leave to make one call; report its outcome with [`CircuitBreaker::record`].
#[derive(Debug)]
#[must_use = "report the call's outcome with CircuitBreaker::record"]
pub struct Permit {
    trial: bool,
}

/// The circuit is open: the dependency failed recently and is not called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit open: the dependency failed {threshold} times in a row; next try in {retry_in:?}")]
pub struct Open {
    pub threshold: u32,
    pub retry_in: Duration,
}

impl CircuitBreaker {
    /// Opens after `threshold` (at least 1) failures in a row, for `recovery`.
    pub fn new(threshold: u32, recovery: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            recovery,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        *self.lock()
    }

    /// Leave to call now, or why not.
    pub fn try_acquire(&self, now: Instant) -> Result<Permit, Open> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(Permit { trial: false }),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Ok(Permit { trial: true })
            }
            State::Open { until } => Err(Open {
                threshold: self.threshold,
                retry_in: until - now,
            }),
            State::HalfOpen => Err(Open {
                threshold: self.threshold,
                retry_in: Duration::ZERO,
            }),
        }
    }

    /// Reports how the permitted call went.
    pub fn record(&self, permit: Permit, succeeded: bool, now: Instant) {
        let mut state = self.lock();
        *state = match (*state, succeeded) {
            (_, true) => State::Closed { failures: 0 },
            (State::HalfOpen, false) => State::Open {
                until: now + self.recovery,
            },
            (State::Closed { failures }, false) if failures + 1 >= self.threshold => State::Open {
                until: now + self.recovery,
            },
            (State::Closed { failures }, false) => State::Closed { failures: failures + 1 },
            // A call permitted before the circuit opened, reporting late: the circuit stays as it is, unless this
            // was the trial.
            (State::Open { until }, false) if !permit.trial => State::Open { until },
            (State::Open { .. }, false) => State::Open {
                until: now + self.recovery,
            },
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECOVERY: Duration = Duration::from_secs(30);

    fn fail(breaker: &CircuitBreaker, now: Instant) {
        let permit = breaker.try_acquire(now).expect("permitted");
        breaker.record(permit, false, now);
    }

    #[test]
    fn stays_closed_below_the_threshold_and_a_success_resets_the_count() {
        let breaker = CircuitBreaker::new(3, RECOVERY);
        let now = Instant::now();
        fail(&breaker, now);
        fail(&breaker, now);
        assert_eq!(breaker.state(), State::Closed { failures: 2 });
        let permit = breaker.try_acquire(now).expect("still closed");
        breaker.record(permit, true, now);
        assert_eq!(breaker.state(), State::Closed { failures: 0 });
    }

    #[test]
    fn opens_at_the_threshold_and_refuses_until_recovery() {
        let breaker = CircuitBreaker::new(3, RECOVERY);
        let now = Instant::now();
        for _ in 0..3 {
            fail(&breaker, now);
        }
        assert_eq!(breaker.state(), State::Open { until: now + RECOVERY });
        let refused = breaker.try_acquire(now + Duration::from_secs(10)).expect_err("open");
        assert_eq!(refused.retry_in, Duration::from_secs(20));
    }

    #[test]
    fn after_recovery_exactly_one_trial_goes_through() {
        let breaker = CircuitBreaker::new(1, RECOVERY);
        let now = Instant::now();
        fail(&breaker, now);
        let later = now + RECOVERY;
        let trial = breaker.try_acquire(later).expect("the trial");
        assert_eq!(breaker.state(), State::HalfOpen);
        assert!(breaker.try_acquire(later).is_err(), "a second call waits for the trial");
        breaker.record(trial, true, later);
        assert_eq!(breaker.state(), State::Closed { failures: 0 });
    }

    #[test]
    fn a_failed_trial_opens_the_circuit_again() {
        let breaker = CircuitBreaker::new(2, RECOVERY);
        let now = Instant::now();
        fail(&breaker, now);
        fail(&breaker, now);
        let later = now + RECOVERY + Duration::from_secs(1);
        let trial = breaker.try_acquire(later).expect("the trial");
        breaker.record(trial, false, later);
        assert_eq!(
            breaker.state(),
            State::Open {
                until: later + RECOVERY
            }
        );
    }

    #[test]
    fn a_late_failure_from_before_the_opening_does_not_extend_it() {
        let breaker = CircuitBreaker::new(1, RECOVERY);
        let now = Instant::now();
        let early = breaker.try_acquire(now).expect("closed");
        fail(&breaker, now);
        breaker.record(early, false, now + Duration::from_secs(5));
        assert_eq!(breaker.state(), State::Open { until: now + RECOVERY });
    }
}
