//! The GraphQL API (DESIGN §6): one schema for marketers (authoring, validation, simulation,
//! lifecycle, audit) and client apps (offers, rewards, updates). `frontend-schema.graphql` is
//! this schema's SDL, printed by `offerflow schema`.

mod access;
mod documents;
mod inputs;
mod limits;
mod mutation;
mod query;
mod simulate;
mod subscription;
mod types;

pub use documents::Documents;
pub use mutation::Mutation;
pub use query::{MAX_PAGE, Query};
pub use subscription::Subscription;

use crate::app::App;
use crate::config::Config;
use async_graphql::Schema;

/// The schema type.
pub type OfferflowSchema = Schema<Query, Mutation, Subscription>;

/// The schema, serving `app`, with the configured limits.
pub fn schema(app: App) -> OfferflowSchema {
    let config: &Config = app.config();
    let mut builder = Schema::build(Query, Mutation, Subscription)
        .limit_depth(config.graphql_max_depth)
        .limit_complexity(config.graphql_max_complexity)
        .limit_recursive_depth(config.graphql_max_recursion)
        .limit_directives(config.graphql_max_directives)
        .extension(limits::AliasLimit(config.graphql_max_aliases));
    if !config.graphql_introspection {
        builder = builder.disable_introspection();
    }
    builder.data(app).finish()
}

/// The schema's SDL: the contract client apps build against.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}
