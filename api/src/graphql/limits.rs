//! A limit async-graphql does not have: aliases per document.

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};
use std::sync::Arc;

/// Refuses documents with more than this many aliased fields (each alias runs its field
/// again, so a thousand aliases are a thousand queries in one).
#[derive(Debug, Clone, Copy)]
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let count = aliases(&document);
        if count > self.0 {
            return Err(ServerError::new(
                format!(
                    "the query has {count} aliases; the limit is {} (graphql_max_aliases)",
                    self.0
                ),
                None,
            ));
        }
        Ok(document)
    }
}

/// Aliased fields in every operation and fragment, walked with a heap stack.
fn aliases(document: &ExecutableDocument) -> usize {
    let mut stack: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|f| &f.node.selection_set.node),
        )
        .collect();
    let mut count = 0;
    while let Some(set) = stack.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    count += usize::from(field.node.alias.is_some());
                    stack.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => stack.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    count
}
