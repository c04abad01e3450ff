//! `tradai`: the domain of TradAI Serverless (backtest requests, jobs and their statuses), the ports the
//! functions use (workflow store, executors) with their AWS adapters, and what every function shares
//! (settings, HTTP helpers, logs).

pub mod aws;
pub mod backtest;
pub mod config;
pub mod executor;
pub mod http;
pub mod idempotency;
pub mod images;
pub mod jobs;
pub mod market_data;
pub mod metrics;
pub mod mlflow;
pub mod notify;
pub mod objects;
pub mod readiness;
pub mod registration;
pub mod report;
pub mod results;
pub mod rotation;
pub mod run_logs;
pub mod run_manifest;
pub mod settings;
pub mod store;
pub mod strategies;
pub mod sweep;
pub mod telemetry;
pub mod time;
pub mod validation;
pub mod workflow;
