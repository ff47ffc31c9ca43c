//! The real server on an ephemeral port, through real HTTP and WebSocket: the whole authoring
//! → ingestion → offers journey on SQLite and PostgreSQL, subscriptions, limits, and the
//! schema contract.

mod answers;
mod attacks;
mod auth;
mod common;
mod console;
mod console_api;
mod console_webhooks;
mod contract;
mod errors;
mod freshness;
mod journey;
mod limits;
mod metrics;
mod poison;
mod receiver;
mod reward_stream;
mod subscription;
mod subscription_limits;
mod webhooks;
mod ws;
