//! The workspace's integration tests, in one binary: the handlers and adapters against the local AWS stand-in,
//! and the checks that keep template, functions, events and code in step.

mod answer;
mod calls;
mod cli;
mod deploy;
mod deployment;
mod entrypoint;
mod events;
mod executors;
mod http_api;
mod idempotency;
mod in_step;
mod malformed;
mod market_data;
mod mlflow_registry;
mod orphans;
mod queue;
mod store;
mod submit;
mod sweeps;
mod workflow;
