//! The documented exit codes of `tradai`, so scripts can tell a failed backtest from a typo or an API that is down.

/// The command did what it was asked (a watched run COMPLETED).
pub const OK: u8 = 0;
/// Something unexpected: the API answered a server error, or the CLI itself failed.
pub const ERROR: u8 = 1;
/// Bad input: a usage error, or the API refused the request (4xx: a field named, an unknown run or strategy).
pub const BAD_INPUT: u8 = 2;
/// The API could not be reached (nothing listening, DNS, TLS, a timeout), or no API is configured.
pub const UNREACHABLE: u8 = 3;
/// The run ended FAILED.
pub const FAILED: u8 = 4;
/// The run ended CANCELLED.
pub const CANCELLED: u8 = 5;
/// A deploy's preflight failed: the account, the region or a tool is not ready (the message says what to fix).
pub const NOT_READY: u8 = 6;
/// Watching was interrupted (Ctrl-C); the run goes on.
pub const INTERRUPTED: u8 = 130;

/// The table printed by `tradai --help`.
pub const TABLE: &str = "Exit codes:
  0    done (a watched run COMPLETED)
  1    unexpected error (the API answered 5xx)
  2    bad input (usage, or the API refused the request)
  3    the API is unreachable, or none is configured
  4    the run FAILED
  5    the run was CANCELLED
  6    a deploy's preflight failed (credentials, region, a tool, the account)
  130  watching interrupted; the run goes on";
