//! Offerflow's API crate: the `offerflow` command line (and, as it lands, the GraphQL API and
//! HTTP server).

pub mod cli;
pub mod replay;
