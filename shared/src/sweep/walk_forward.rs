//! Walk-forward windows: each fits parameters on `train_days` (in-sample) and tests them on the `test_days` that
//! follow (out-of-sample). Windows roll forward by `test_days`, so the out-of-sample ranges are back to back and
//! never overlap: stitched together they are one out-of-sample history of `windows × test_days`. The windows do
//! not depend on one another and run in parallel.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::validation::{FieldError, ValidationErrors};

/// The most windows one walk-forward may have.
pub const MAX_WINDOWS: u32 = 24;

/// The most epochs one window's hyperopt may run.
pub const MAX_EPOCHS: u32 = 1_000;
/// Epochs per hyperopt when the request does not say.
pub const DEFAULT_EPOCHS: u32 = 50;
/// The hyperopt loss when the request does not say: Freqtrade's Sharpe ratio loss.
pub const DEFAULT_LOSS: &str = "SharpeHyperOptLoss";

/// What a request asks: how many windows, how long each range is, and how each window's hyperopt searches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkForward {
    pub windows: u32,
    pub train_days: u32,
    pub test_days: u32,
    /// Hyperopt epochs per window (1 to [`MAX_EPOCHS`]).
    #[serde(default = "default_epochs")]
    pub epochs: u32,
    /// The hyperopt loss class, such as `SharpeHyperOptLoss` or `SortinoHyperOptLoss`.
    #[serde(default = "default_loss")]
    pub loss: String,
}

fn default_epochs() -> u32 {
    DEFAULT_EPOCHS
}

fn default_loss() -> String {
    DEFAULT_LOSS.to_owned()
}

/// One window: dates are whole UTC days, each end exclusive as in Freqtrade's timerange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// From 0.
    pub index: u32,
    pub train_start: NaiveDate,
    pub train_end: NaiveDate,
    pub test_start: NaiveDate,
    pub test_end: NaiveDate,
}

impl WalkForward {
    /// The windows over `[start, end)`, which must hold `train_days + windows × test_days` days; the last
    /// window's test range ends at `end`, the first window's training starts where the data allows. Errors name
    /// the field under `field` (such as `walk_forward`).
    pub fn windows(&self, field: &str, start: NaiveDate, end: NaiveDate) -> Result<Vec<Window>, ValidationErrors> {
        let mut errors = Vec::new();
        if !(1..=MAX_WINDOWS).contains(&self.windows) {
            errors.push(FieldError::new(
                format!("{field}.windows"),
                format!("windows must be 1 to {MAX_WINDOWS}"),
            ));
        }
        for (name, days) in [("train_days", self.train_days), ("test_days", self.test_days)] {
            if days == 0 {
                errors.push(FieldError::new(
                    format!("{field}.{name}"),
                    format!("{name} must be at least 1"),
                ));
            }
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            errors.push(FieldError::new(
                format!("{field}.epochs"),
                format!("epochs must be 1 to {MAX_EPOCHS}"),
            ));
        }
        let identifier = self.loss.len() <= 64
            && self.loss.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && self.loss.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            errors.push(FieldError::new(
                format!("{field}.loss"),
                "loss must be a hyperopt loss class name, such as SharpeHyperOptLoss",
            ));
        }
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        let needed = u64::from(self.train_days) + u64::from(self.windows) * u64::from(self.test_days);
        let available = u64::try_from((end - start).num_days()).unwrap_or(0);
        if needed > available {
            return Err(ValidationErrors::one(
                field,
                format!(
                    "{} windows of {} training and {} test days need {needed} days; {start} to {end} holds \
                     {available}",
                    self.windows, self.train_days, self.test_days
                ),
            ));
        }
        let first = start + Days::new(available - needed);
        Ok((0..self.windows)
            .map(|index| {
                let train_start = first + Days::new(u64::from(index) * u64::from(self.test_days));
                let train_end = train_start + Days::new(u64::from(self.train_days));
                Window {
                    index,
                    train_start,
                    train_end,
                    test_start: train_end,
                    test_end: train_end + Days::new(u64::from(self.test_days)),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    /// The plan's windows over the 151 days from 2025-01-01 to 2025-06-01.
    fn windows(windows: u32, train_days: u32, test_days: u32) -> Result<Vec<Window>, ValidationErrors> {
        let plan = WalkForward {
            windows,
            train_days,
            test_days,
            epochs: DEFAULT_EPOCHS,
            loss: DEFAULT_LOSS.into(),
        };
        plan.windows("walk_forward", date("2025-01-01"), date("2025-06-01"))
    }

    #[test]
    fn test_ranges_follow_their_training_back_to_back_and_end_with_the_data() {
        let windows = windows(3, 60, 30).expect("151 days hold 150");
        assert_eq!(windows.len(), 3);
        assert_eq!(windows[0].train_start, date("2025-01-02"));
        for window in &windows {
            assert_eq!((window.train_end - window.train_start).num_days(), 60);
            assert_eq!(window.test_start, window.train_end);
            assert_eq!((window.test_end - window.test_start).num_days(), 30);
        }
        for pair in windows.windows(2) {
            assert_eq!(
                pair[1].test_start, pair[0].test_end,
                "out-of-sample ranges are contiguous"
            );
        }
        assert_eq!(windows[2].test_end, date("2025-06-01"));
    }

    #[test]
    fn a_plan_longer_than_the_data_says_how_many_days_it_needs() {
        let error = windows(3, 60, 31).expect_err("153 days do not fit in 151");
        assert_eq!(error.errors()[0].field, "walk_forward");
        assert!(error.errors()[0].message.contains("need 153 days"), "{error}");
    }

    #[test]
    fn a_search_without_epochs_or_with_a_loss_that_is_no_class_name_is_named() {
        let plan = WalkForward {
            windows: 1,
            train_days: 10,
            test_days: 5,
            epochs: 0,
            loss: "x; rm -rf /".into(),
        };
        let error = plan
            .windows("walk_forward", date("2025-01-01"), date("2025-06-01"))
            .expect_err("refused");
        let fields: Vec<&str> = error.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["walk_forward.epochs", "walk_forward.loss"]);
        let asked: WalkForward =
            serde_json::from_str(r#"{"windows": 3, "train_days": 20, "test_days": 5}"#).expect("defaults");
        assert_eq!((asked.epochs, asked.loss.as_str()), (DEFAULT_EPOCHS, DEFAULT_LOSS));
    }

    #[test]
    fn zero_windows_or_days_are_named() {
        let error = windows(0, 0, 0).expect_err("nothing to run");
        let fields: Vec<&str> = error.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "walk_forward.windows",
                "walk_forward.train_days",
                "walk_forward.test_days"
            ]
        );
    }
}
