//! Every bound on a GraphQL request, checked before the work it bounds, each refused with
//! `extensions.code = "LIMIT_EXCEEDED"` and `extensions.limit` naming its setting.
//!
//! In the order they apply, per request (over HTTP and WebSocket alike):
//! 1. the query text's bracket nesting (`graphql_max_nesting`) and tokens
//!    (`graphql_max_tokens`), counted on the text ([`super::scan`]) so that nothing deeper or
//!    larger is ever parsed; the nesting of lists and objects in variables, likewise;
//! 2. on the parsed document, with every fragment spread expanded ([`super::expand`]):
//!    selections (`graphql_max_selections`), aliases (`graphql_max_aliases`), selection-set
//!    nesting (`graphql_max_recursion`), directives per field (`graphql_max_directives`);
//!    a fragment that spreads itself is refused (`VALIDATION`);
//! 3. after validation, which is now bounded by step 2: depth (`graphql_max_depth`) and
//!    complexity (`graphql_max_complexity`), from the numbers async-graphql's validation
//!    computes.
//!
//! async-graphql's own recursion and directive limits stay set to the same values behind
//! these, as a second line. Documents that passed steps 1 and 2 are kept parsed
//! ([`Documents`]), since the checks depend on the text alone.

use super::documents::Documents;
use super::expand::{Unmeasured, measure};
use super::scan::{scan, value_nesting};
use crate::auth::Principal;
use crate::config::Config;
use crate::error::ApiError;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextValidation,
};
use async_graphql::{ErrorExtensions, Request, ServerError, ServerResult};
use async_graphql::{ValidationResult, parser::types::ExecutableDocument};
use std::any::TypeId;
use std::sync::Arc;

/// Which limit refused a request: the typed cause that metrics count and clients read as
/// `extensions.limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `graphql_max_nesting`: brackets in the text, lists and objects in variables.
    Nesting,
    /// `graphql_max_tokens`.
    Tokens,
    /// `graphql_max_selections`.
    Selections,
    /// `graphql_max_aliases`.
    Aliases,
    /// `graphql_max_recursion`.
    Recursion,
    /// `graphql_max_directives`.
    Directives,
    /// `graphql_max_depth`.
    Depth,
    /// `graphql_max_complexity`.
    Complexity,
    /// `graphql_max_batch`.
    Batch,
    /// `graphql_max_json_values`.
    JsonValues,
}

impl Limit {
    /// The setting that sets it.
    pub fn setting(self) -> &'static str {
        match self {
            Limit::Nesting => "graphql_max_nesting",
            Limit::Tokens => "graphql_max_tokens",
            Limit::Selections => "graphql_max_selections",
            Limit::Aliases => "graphql_max_aliases",
            Limit::Recursion => "graphql_max_recursion",
            Limit::Directives => "graphql_max_directives",
            Limit::Depth => "graphql_max_depth",
            Limit::Complexity => "graphql_max_complexity",
            Limit::Batch => "graphql_max_batch",
            Limit::JsonValues => "graphql_max_json_values",
        }
    }

    /// Its `reason` in `offerflow_refusals_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Limit::Nesting => "graphql_nesting",
            Limit::Tokens => "graphql_tokens",
            Limit::Selections => "graphql_selections",
            Limit::Aliases => "graphql_aliases",
            Limit::Recursion => "graphql_recursion",
            Limit::Directives => "graphql_directives",
            Limit::Depth => "graphql_depth",
            Limit::Complexity => "graphql_complexity",
            Limit::Batch => "graphql_batch",
            Limit::JsonValues => "graphql_json_values",
        }
    }

    /// The refusal: `what`, then the limit and its setting, as a GraphQL error with
    /// `extensions.code = "LIMIT_EXCEEDED"`, `extensions.limit` (the setting), and this
    /// limit as its typed source.
    pub fn refuse(self, what: impl std::fmt::Display, limit: usize) -> ServerError {
        let message = format!("{what}; the limit is {limit} ({})", self.setting());
        let mut error = ApiError::LimitExceeded(message)
            .extend_with(|_, e| e.set("limit", self.setting()))
            .into_server_error(Default::default());
        error.locations.clear();
        error.source = Some(Arc::new(self));
        error
    }
}

/// The limits of one schema, as an extension.
#[derive(Debug, Clone)]
pub struct DocumentLimits {
    nesting: usize,
    tokens: usize,
    selections: usize,
    aliases: usize,
    recursion: usize,
    directives: usize,
    depth: usize,
    complexity: usize,
    documents: Documents,
}

impl DocumentLimits {
    /// The configured limits, with a cache of checked documents.
    pub fn new(config: &Config) -> Self {
        DocumentLimits {
            nesting: config.graphql_max_nesting,
            tokens: config.graphql_max_tokens,
            selections: config.graphql_max_selections,
            aliases: config.graphql_max_aliases,
            recursion: config.graphql_max_recursion,
            directives: config.graphql_max_directives,
            depth: config.graphql_max_depth,
            complexity: config.graphql_max_complexity,
            documents: Documents::default(),
        }
    }

    /// Steps 1 and 2 for `request`; its parsed document, when it parses.
    fn check(&self, request: &Request) -> ServerResult<Option<Arc<ExecutableDocument>>> {
        for (name, value) in request.variables.iter() {
            let depth = value_nesting(value);
            if depth > self.nesting {
                let what = format!("the variable ${name} nests lists and objects {depth} deep");
                return Err(Limit::Nesting.refuse(what, self.nesting));
            }
        }
        if let Some(document) = self.documents.get(&request.query) {
            return Ok(Some(document));
        }
        let text = scan(&request.query);
        if text.nesting > self.nesting {
            let what = format!(
                "the query nests brackets ({{, [ and () {} deep",
                text.nesting
            );
            return Err(Limit::Nesting.refuse(what, self.nesting));
        }
        if text.tokens > self.tokens {
            let what = format!("the query has {} tokens", text.tokens);
            return Err(Limit::Tokens.refuse(what, self.tokens));
        }
        // A text that does not parse goes on, for async-graphql to report where it fails.
        let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
            return Ok(None);
        };
        let size = match measure(&document, self.recursion) {
            Ok(size) => size,
            Err(Unmeasured::TooDeep) => {
                let what = "the query's selections nest deeper (a field's selection set, a fragment \
                            spread and an inline fragment each count a level)";
                return Err(Limit::Recursion.refuse(what, self.recursion));
            }
            Err(Unmeasured::Cycle(name)) => {
                let message = format!("the fragment `{name}` spreads itself");
                return Err(ApiError::bad("fragments", message)
                    .extend()
                    .into_server_error(Default::default()));
            }
        };
        let within = |n: u64, limit: usize| n <= limit as u64;
        if !within(size.selections, self.selections) {
            let what = match size.selections {
                u64::MAX => "the query expands to more selections than can be counted".to_owned(),
                n => format!("the query expands to {n} selections (fragments spread in place)"),
            };
            return Err(Limit::Selections.refuse(what, self.selections));
        }
        if !within(size.aliases, self.aliases) {
            let what = format!("the query has {} aliases", size.aliases);
            return Err(Limit::Aliases.refuse(what, self.aliases));
        }
        if size.directives > self.directives {
            let what = format!("a field has {} directives", size.directives);
            return Err(Limit::Directives.refuse(what, self.directives));
        }
        let document = Arc::new(document);
        self.documents.insert(&request.query, Arc::clone(&document));
        Ok(Some(document))
    }
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Every operation, introspection included, needs credentials when auth is on. HTTP
        // refuses anonymous requests with 401 before they get here; this covers WebSocket
        // connections opened without any.
        let principal = request
            .data
            .get(&TypeId::of::<Principal>())
            .and_then(|p| p.downcast_ref::<Principal>())
            .or_else(|| ctx.data_opt::<Principal>());
        if let Some(Principal::Anonymous) = principal {
            let error = ApiError::Unauthorized(
                "every operation needs credentials: an API key or a customer token".into(),
            );
            return Err(error.extend().into_server_error(Default::default()));
        }
        if let Some(document) = self.check(&request)? {
            request.set_parsed_query(ExecutableDocument::clone(&document));
        }
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.depth > self.depth {
            let what = format!("the query is nested {} deep", result.depth);
            return Err(vec![Limit::Depth.refuse(what, self.depth)]);
        }
        if result.complexity > self.complexity {
            let what = format!("the query's complexity is {}", result.complexity);
            return Err(vec![Limit::Complexity.refuse(what, self.complexity)]);
        }
        Ok(result)
    }
}
