//! The GraphQL API (DESIGN §6): one schema for marketers (authoring, validation, simulation,
//! lifecycle, audit) and client apps (offers, rewards, updates). `frontend-schema.graphql` is
//! this schema's SDL, printed by `offerflow schema`.

mod access;
mod documents;
mod errors;
mod expand;
pub mod graphiql;
mod inputs;
mod limits;
mod mutation;
mod outcomes;
mod query;
mod scan;
mod simulate;
mod subscription;
mod types;
mod webhooks;

pub use limits::Limit;
pub use mutation::Mutation;
pub use query::{MAX_PAGE, Query};
pub use scan::json_scan;
pub use subscription::Subscription;

use crate::app::App;
use crate::config::Config;
use async_graphql::Schema;

/// The schema type.
pub type OfferflowSchema = Schema<Query, Mutation, Subscription>;

/// The schema, serving `app`, with the configured limits ([`limits`]: depth and complexity
/// are checked there, after validation, so that their refusals carry a code; recursion and
/// directives there too, before validation, with async-graphql's own checks behind).
pub fn schema(app: App) -> OfferflowSchema {
    let config: &Config = app.config();
    let mut builder = Schema::build(Query, Mutation, Subscription)
        .limit_recursive_depth(config.graphql_max_recursion)
        .limit_directives(config.graphql_max_directives)
        .extension(limits::DocumentLimits::new(config))
        .extension(errors::ErrorCodes);
    if !config.graphql_introspection {
        builder = builder.disable_introspection();
    }
    builder.data(app).finish()
}

/// The schema's SDL: the contract client apps build against.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}
