//! Parsed documents, reused: client apps send the same few queries again and again, and
//! parsing one costs more than running it against a warm cache.
//!
//! Only parsing and the checks that depend on the text alone are skipped: a document is kept
//! once it passed [`super::limits`]' checks of its text and its expanded size, under the
//! same limits (one cache per schema). Every request still goes through async-graphql's
//! recursion and directive limits, validation against the schema, complexity and depth, all
//! of which run on the document it is given, and through the checks of its variables. A
//! text that does not parse, or that a limit refuses, is not kept.

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
    /// The document kept for `query`, if any.
    pub fn get(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        if query.len() > MAX_QUERY_BYTES {
            return None;
        }
        self.0.get(query)
    }

    /// Keeps `document`, parsed and checked from `query` (unless the text is long).
    pub fn insert(&self, query: &str, document: Arc<ExecutableDocument>) {
        if query.len() <= MAX_QUERY_BYTES {
            self.0.insert(query.to_owned(), document);
        }
    }
}
