//! Parsed documents, reused: client apps send the same few queries again and again, and
//! parsing one costs more than running it against a warm cache.
//!
//! Only parsing is skipped. Every request still goes through the same checks as a fresh
//! document: the recursion, directive and alias limits, validation against the schema,
//! complexity and depth, all of which async-graphql runs on the document it is given. A text
//! that does not parse is not kept; async-graphql parses it again and reports the error.

use async_graphql::parser::types::ExecutableDocument;
use moka::sync::Cache;
use std::sync::Arc;

/// Longest query text kept; longer ones are parsed each time.
const MAX_QUERY_BYTES: usize = 4 * 1024;

/// How many documents are kept.
const MAX_DOCUMENTS: u64 = 1_000;

/// Parsed documents by query text.
#[derive(Clone)]
pub struct Documents(Cache<String, Arc<ExecutableDocument>>);

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents")
            .field("kept", &self.0.entry_count())
            .finish()
    }
}

impl Default for Documents {
    fn default() -> Self {
        Documents(Cache::new(MAX_DOCUMENTS))
    }
}

impl Documents {
    /// Gives `request` its parsed document, from the cache when its text was seen before.
    pub fn attach(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        let document = match self.0.get(&request.query) {
            Some(d) => d,
            None => match async_graphql::parser::parse_query(&request.query) {
                Ok(d) => {
                    let d = Arc::new(d);
                    self.0.insert(request.query.clone(), Arc::clone(&d));
                    d
                }
                Err(_) => return,
            },
        };
        request.set_parsed_query(ExecutableDocument::clone(&document));
    }
}
