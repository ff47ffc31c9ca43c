//! A parsed document measured as it will run: with every fragment spread replaced by the
//! fragment it names, before validation or execution expands anything.
//!
//! A document of a kilobyte can stand for billions of selections: 27 fragments, each
//! spreading the one before twice, expand to 2^27. async-graphql's validation and
//! execution expand spreads where they meet them, so this walk measures the expansion
//! first, computing each fragment's size once (memoized, with saturating arithmetic) and
//! refusing cycles, in time linear in the document. Its own recursion stops one level past
//! the recursion limit, so it cannot overflow the stack either.

use async_graphql::Name;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use std::collections::HashMap;

/// A document's size with its fragments expanded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expanded {
    /// Fields, inline fragments and fragment spreads, every spread counted as what it
    /// expands to (plus one for itself).
    pub selections: u64,
    /// Aliased fields, expanded the same way.
    pub aliases: u64,
    /// Deepest nesting of selection sets, as async-graphql's `limit_recursive_depth` counts
    /// it: a field's selection set, a fragment spread and an inline fragment each add one.
    pub depth: usize,
    /// Most directives on one field.
    pub directives: usize,
}

/// Why a document could not be measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmeasured {
    /// Selection sets nest deeper than the recursion limit.
    TooDeep,
    /// A fragment spreads itself, directly or through others.
    Cycle(String),
}

/// Measures every operation of `document` (summed: validation visits them all), stopping
/// with [`Unmeasured::TooDeep`] past `max_depth` levels.
pub fn measure(document: &ExecutableDocument, max_depth: usize) -> Result<Expanded, Unmeasured> {
    let mut walk = Walk {
        document,
        max_depth,
        fragments: HashMap::new(),
    };
    let mut total = Expanded::default();
    for (_, operation) in document.operations.iter() {
        let op = walk.set(&operation.node.selection_set.node, 0)?;
        total = total.plus(op);
    }
    // Fragments nobody spreads are still validated, once each, as written.
    for (name, fragment) in &document.fragments {
        if !walk.fragments.contains_key(name) {
            let own = walk.set(&fragment.node.selection_set.node, 1)?;
            total.directives = total.directives.max(own.directives);
            total.selections = total.selections.saturating_add(own.selections);
        }
    }
    Ok(total)
}

impl Expanded {
    /// Both, side by side (sizes add, depths take the deeper).
    fn plus(self, other: Expanded) -> Expanded {
        Expanded {
            selections: self.selections.saturating_add(other.selections),
            aliases: self.aliases.saturating_add(other.aliases),
            depth: self.depth.max(other.depth),
            directives: self.directives.max(other.directives),
        }
    }
}

/// A fragment being measured, or measured.
#[derive(Debug, Clone, Copy)]
enum State {
    InProgress,
    Done(Expanded),
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    max_depth: usize,
    fragments: HashMap<&'a Name, State>,
}

impl<'a> Walk<'a> {
    /// The size of `set` reached at `depth`, its `depth` field relative to `set`.
    fn set(&mut self, set: &'a SelectionSet, depth: usize) -> Result<Expanded, Unmeasured> {
        if depth > self.max_depth {
            return Err(Unmeasured::TooDeep);
        }
        let mut total = Expanded::default();
        for item in &set.items {
            let one = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner = &field.selection_set.node;
                    let mut size = if inner.items.is_empty() {
                        Expanded::default()
                    } else {
                        let mut s = self.set(inner, depth + 1)?;
                        s.depth += 1;
                        s
                    };
                    size.selections = size.selections.saturating_add(1);
                    size.aliases = size
                        .aliases
                        .saturating_add(u64::from(field.alias.is_some()));
                    size.directives = size.directives.max(field.directives.len());
                    size
                }
                Selection::InlineFragment(inline) => {
                    let mut s = self.set(&inline.node.selection_set.node, depth + 1)?;
                    s.depth += 1;
                    s.selections = s.selections.saturating_add(1);
                    s
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    let mut s = self.fragment(name, depth + 1)?;
                    s.depth += 1;
                    s.selections = s.selections.saturating_add(1);
                    s
                }
            };
            total = total.plus(one);
        }
        Ok(total)
    }

    /// A fragment's size, measured the first time it is met; an unknown fragment is empty
    /// (validation names it).
    fn fragment(&mut self, name: &'a Name, depth: usize) -> Result<Expanded, Unmeasured> {
        let Some((key, fragment)) = self.document.fragments.get_key_value(name) else {
            return Ok(Expanded::default());
        };
        let size = match self.fragments.get(key) {
            Some(State::Done(size)) => *size,
            Some(State::InProgress) => return Err(Unmeasured::Cycle(name.to_string())),
            None => {
                self.fragments.insert(key, State::InProgress);
                let size = self.set(&fragment.node.selection_set.node, depth)?;
                self.fragments.insert(key, State::Done(size));
                size
            }
        };
        if depth + size.depth > self.max_depth {
            return Err(Unmeasured::TooDeep);
        }
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn measured(query: &str) -> Result<Expanded, Unmeasured> {
        measure(&parse_query(query).unwrap(), 32)
    }

    #[test]
    fn fragments_count_as_what_they_expand_to() {
        let plain = measured("{ a b: c { d @skip(if: true) } }").unwrap();
        assert_eq!(
            plain,
            Expanded {
                selections: 3,
                aliases: 1,
                depth: 1,
                directives: 1
            }
        );
        let spread = measured("{ ...F ...F } fragment F on Q { x: a { b } }").unwrap();
        assert_eq!(spread.selections, 2 * (1 + 2));
        assert_eq!(spread.aliases, 2);
        assert_eq!(spread.depth, 2);
    }

    #[test]
    fn a_fragment_bomb_is_measured_in_linear_time() {
        let mut text = String::from("{ ...F0 } fragment F0 on Query { __typename }");
        for i in 1..=60 {
            text.push_str(&format!(
                " fragment F{i} on Query {{ ...F{j} ...F{j} }}",
                j = i - 1
            ));
        }
        text = text.replacen("...F0", "...F60", 1);
        let size = measure(&parse_query(&text).unwrap(), 100).unwrap();
        assert!(size.selections >= 1 << 60, "{size:?}");
        // Past the recursion limit it stops early.
        assert_eq!(measured(&text), Err(Unmeasured::TooDeep));
        // Saturating, not overflowing.
        let mut wide = String::from("{ ...G0 } fragment G0 on Query { __typename }");
        for i in 1..=70 {
            let spreads = format!("...G{} ", i - 1).repeat(4);
            wide.push_str(&format!(" fragment G{i} on Query {{ {spreads} }}"));
        }
        wide = wide.replacen("...G0", "...G70", 1);
        let size = measure(&parse_query(&wide).unwrap(), 100).unwrap();
        assert_eq!(size.selections, u64::MAX);
    }

    #[test]
    fn cycles_are_refused() {
        assert_eq!(
            measured("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }"),
            Err(Unmeasured::Cycle("A".into()))
        );
        assert_eq!(
            measured("{ a } fragment A on Q { ... on Q { ...A } }"),
            Err(Unmeasured::Cycle("A".into()))
        );
    }
}
