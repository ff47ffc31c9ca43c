//! Offerflow's API crate: the GraphQL API, the HTTP server, and the `offerflow` command line.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod graphql;
pub mod limits;
pub mod metrics;
pub mod offers;
pub mod replay;
pub mod server;
pub mod websocket;
