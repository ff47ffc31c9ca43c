//! Offerflow's API crate: the GraphQL schema, the HTTP server, auth, limits and metrics. The
//! `offerflow` binary (its own crate) wires it to storage and the command line.

pub mod app;
pub mod auth;
pub mod config;
pub mod console;
pub mod error;
pub mod graphql;
pub mod limits;
pub mod metrics;
pub mod server;
pub mod websocket;
