//! GraphQL's own refusals, given the codes of ours: a document that does not parse or
//! validate (an unknown field, an argument of the wrong type, an enum value that does not
//! exist) and an argument that fails to parse when its field runs (a `DateTime` that is not
//! one, a validator's range) answer `extensions.code = "VALIDATION"`, and, when the error
//! points at an argument, `extensions.field` with the argument's name, as the range checks
//! of the resolvers do.
//!
//! The argument is found by position, not by reading messages: async-graphql places a
//! validation error on the argument's name and an argument's parse error on its value.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, NextValidation,
    ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection};
use async_graphql::{Pos, ServerError, ServerResult, ValidationResult, Value, Variables};
use std::sync::{Arc, Mutex};

/// The extension's factory.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest::default())
    }
}

/// One request's: its query text, kept to name the argument a validation error points at
/// (parsed again only when validation fails).
#[derive(Debug, Default)]
struct PerRequest {
    query: Mutex<Option<String>>,
}

/// Sets `code` (and `field`) on an error that has no code yet.
fn coded(mut error: ServerError, field: Option<&str>) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", "VALIDATION");
        if let Some(field) = field {
            extensions.set("field", field);
        }
    }
    error
}

/// The name of the argument whose name is at `pos`, anywhere in `document`.
fn argument_named_at(document: &ExecutableDocument, pos: Pos) -> Option<String> {
    let mut stack: Vec<&Selection> = Vec::new();
    let sets = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|f| &f.node.selection_set.node),
        );
    for set in sets {
        stack.extend(set.items.iter().map(|s| &s.node));
    }
    while let Some(selection) = stack.pop() {
        match selection {
            Selection::Field(field) => {
                let field = &field.node;
                if let Some((name, _)) = field.arguments.iter().find(|(n, _)| n.pos == pos) {
                    return Some(name.node.to_string());
                }
                stack.extend(field.selection_set.node.items.iter().map(|s| &s.node));
            }
            Selection::InlineFragment(inline) => {
                stack.extend(inline.node.selection_set.node.items.iter().map(|s| &s.node));
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    None
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Ok(mut kept) = self.query.lock() {
            *kept = Some(query.to_owned());
        }
        next.run(ctx, query, variables)
            .await
            .map_err(|e| coded(e, None))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            let query = self.query.lock().ok().and_then(|q| q.clone());
            let document = query.and_then(|q| async_graphql::parser::parse_query(q).ok());
            errors
                .into_iter()
                .map(|e| {
                    let field = match (&document, e.locations.first()) {
                        (Some(d), Some(pos)) => argument_named_at(d, *pos),
                        _ => None,
                    };
                    coded(e, field.as_deref())
                })
                .collect()
        })
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let arguments = &info.field.arguments;
        next.run(ctx, info).await.map_err(|e| {
            let at = e.locations.first().copied();
            match arguments.iter().find(|(_, value)| Some(value.pos) == at) {
                Some((name, _)) => coded(e, Some(name.node.as_str())),
                None => e,
            }
        })
    }
}
