//! The strings extension (`charAt`, `indexOf`, `split`, `replace`, `format`...), charged to the
//! budget before it runs.
//!
//! The `cel` crate implements the extension; what it does not do is bound it: `replace` and
//! `format` can return far more than they are given, `split` allocates a value per part, and
//! its `indexOf` and `lastIndexOf` compare the needle at every position (quadratic on hostile
//! text). So the rewrite ([`super::rewrite`]) turns every call of the extension,
//! `s.f(args...)`, into `@strings("f", s, args...)`, which computes an upper bound on what the
//! call will allocate from the values it is given, charges it, and only then calls the crate's
//! overload. `indexOf` and `lastIndexOf` are answered here instead, with the standard library's
//! linear substring search and no allocation; their results are the crate's (the differential
//! test in `campaigns/tests/cel_strings.rs` compares them).

use super::*;
use cel::common::types::CelInt;
use cel::context::VariableResolver;

/// The internal function every call of the extension goes through.
pub(super) const STRINGS_FN: &str = "@strings";

/// The extension's member functions (CEL's strings extension, and `reverse` of its version 3).
pub(crate) const MEMBERS: [&str; 12] = [
    "charAt",
    "indexOf",
    "lastIndexOf",
    "substring",
    "split",
    "replace",
    "join",
    "trim",
    "lowerAscii",
    "upperAscii",
    "format",
    "reverse",
];

/// The extension's one global function.
pub(crate) const QUOTE: &str = "strings.quote";

/// How many times its arguments' size `format` may write, at most: `%x` doubles a string,
/// bytes that are not UTF-8 triple, a number (a few bytes counted) can print 400 digits, and
/// nested lists are formatted level by level.
const FORMAT_FACTOR: u64 = 16;

/// How many times a result is built: once by the crate's function, then copied out of the
/// scope it was called in, through a [`Value`] (see [`member`]).
const COPIES: u64 = 3;

/// A string result of `len` bytes.
fn string_of(len: u64) -> u64 {
    VALUE + TEXT + len
}

fn text(v: &dyn Val) -> Option<&str> {
    v.downcast_ref::<CelString>().map(|s| s.inner())
}

fn int(v: &dyn Val) -> Option<i64> {
    v.downcast_ref::<CelInt>().map(|i| *i.inner())
}

/// `@strings("name", receiver, args...)`.
pub(super) fn call<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    if args.len() < 2 {
        return Err(internal(STRINGS_FN));
    }
    let name = args.remove(0);
    let Some(name) = text(name.as_ref()) else {
        return Err(internal(STRINGS_FN));
    };
    let values: Vec<&dyn Val> = args.iter().map(|a| a.as_ref()).collect();
    let refused = || {
        let types = type_names(&values);
        if name == QUOTE {
            ExecutionError::no_such_overload(name, types)
        } else {
            ExecutionError::no_such_member_overload(name, types)
        }
    };
    match (name, values.as_slice()) {
        ("indexOf", [s, needle]) | ("indexOf", [s, needle, _]) => {
            let (Some(s), Some(needle)) = (text(*s), text(*needle)) else {
                return Err(refused());
            };
            let offset = match values.get(2) {
                Some(o) => Some(int(*o).ok_or_else(refused)?),
                None => None,
            };
            return index_of(s, needle, offset).map(|i| CowVal::owned(CelInt::from(i)));
        }
        ("lastIndexOf", [s, needle]) | ("lastIndexOf", [s, needle, _]) => {
            let (Some(s), Some(needle)) = (text(*s), text(*needle)) else {
                return Err(refused());
            };
            let offset = match values.get(2) {
                Some(o) => Some(int(*o).ok_or_else(refused)?),
                None => None,
            };
            return last_index_of(s, needle, offset).map(|i| CowVal::owned(CelInt::from(i)));
        }
        _ => {}
    }
    charge(cost(name, &values).saturating_mul(COPIES))?;
    drop(values);
    if name == QUOTE {
        return match crate::expr::ENV.find_overload(name, &args) {
            Some(op) => op(args),
            None => Err(refused_owned(name, &args, false)),
        };
    }
    member(name, args)
}

fn refused_owned(name: &str, args: &[CowVal<'_, '_>], member: bool) -> ExecutionError {
    let values: Vec<&dyn Val> = args.iter().map(|a| a.as_ref()).collect();
    if member {
        ExecutionError::no_such_member_overload(name, type_names(&values))
    } else {
        ExecutionError::no_such_overload(name, type_names(&values))
    }
}

/// An upper bound on the bytes `receiver.name(args...)` allocates, the result included; 0 for
/// arguments of the wrong types (the call then fails by type, building nothing).
fn cost(name: &str, values: &[&dyn Val]) -> u64 {
    let Some((receiver, args)) = values.split_first() else {
        return 0;
    };
    let len = |v: &dyn Val| text(v).map_or(0, |s| s.len() as u64);
    let n = len(*receiver);
    match name {
        "charAt" => string_of(4),
        "substring" | "trim" | "lowerAscii" | "upperAscii" | "reverse" => string_of(n),
        // Every character may take two.
        QUOTE => string_of(2 * n + 2),
        "replace" => {
            let (Some(s), Some(from), Some(to)) = (
                text(*receiver),
                args.first().and_then(|a| text(*a)),
                args.get(1).and_then(|a| text(*a)),
            ) else {
                return 0;
            };
            let limit = args
                .get(2)
                .and_then(|a| int(*a))
                .and_then(|l| u64::try_from(l).ok());
            let found = occurrences(s, from, limit);
            string_of(n.saturating_add(found.saturating_mul(to.len() as u64)))
        }
        "split" => {
            let (Some(s), Some(sep)) = (text(*receiver), args.first().and_then(|a| text(*a)))
            else {
                return 0;
            };
            let limit = args
                .get(1)
                .and_then(|a| int(*a))
                .and_then(|l| u64::try_from(l).ok());
            let parts = occurrences(s, sep, limit.map(|l| l.saturating_sub(1))) + 1;
            // Each part: a string value in a list slot, and the `&str` the crate collects first.
            let per_part = SLOT + VALUE + TEXT + 16;
            (VALUE + n).saturating_add(parts.saturating_mul(per_part))
        }
        "join" => {
            let Some(items) = receiver.as_iterable() else {
                return 0;
            };
            let sep = args.first().map_or(0, |a| len(*a));
            let mut total = 0u64;
            let mut iter = items.iter();
            while let Some(item) = iter.next() {
                total = total.saturating_add(len(item) + sep + 16);
            }
            string_of(total)
        }
        "format" => {
            let mut total = n;
            if let Some(items) = args.first().and_then(|a| a.as_iterable()) {
                let mut iter = items.iter();
                while let Some(item) = iter.next() {
                    let written = VALUE.saturating_add(text_payload(item));
                    total = total.saturating_add(written.saturating_mul(FORMAT_FACTOR));
                }
            }
            string_of(total)
        }
        _ => 0,
    }
}

/// How many times `needle` occurs in `s` (at most `limit`); an empty needle occurs before
/// every character and at the end.
fn occurrences(s: &str, needle: &str, limit: Option<u64>) -> u64 {
    let limit = limit.unwrap_or(u64::MAX);
    if needle.is_empty() {
        return (s.chars().count() as u64 + 1).min(limit);
    }
    let mut found = 0u64;
    let mut rest = s;
    while found < limit {
        let Some(at) = rest.find(needle) else { break };
        found += 1;
        rest = &rest[at + needle.len()..];
    }
    found
}

fn out_of_range(function: &str, index: i64) -> ExecutionError {
    ExecutionError::function_error(function, format!("index out of range: {index}"))
}

/// The byte offset of code point `index` in `s`, or `None` past its end.
fn byte_offset(s: &str, index: usize) -> Option<usize> {
    s.char_indices()
        .map(|(at, _)| at)
        .chain(std::iter::once(s.len()))
        .nth(index)
}

/// The code point index of byte offset `at` in `s`.
fn char_index(s: &str, at: usize) -> i64 {
    s[..at].chars().count() as i64
}

/// Where a search from code point `offset` starts: CEL's rules for the offset of `indexOf` and
/// `lastIndexOf`. `Err(answer)` when an empty needle answers at once.
fn search_from(
    function: &str,
    s: &str,
    needle: &str,
    offset: i64,
) -> Result<Result<usize, i64>, ExecutionError> {
    let chars = s.chars().count() as i64;
    if offset < 0 {
        return Err(out_of_range(function, offset));
    }
    if needle.is_empty() {
        return Ok(Err(offset.min(chars)));
    }
    if offset >= chars {
        return Err(out_of_range(function, offset));
    }
    Ok(Ok(byte_offset(s, offset as usize).unwrap_or(s.len())))
}

/// `s.indexOf(needle)`, `s.indexOf(needle, offset)`: the code point index of the first
/// occurrence at or after `offset`, or -1. Linear: the standard library's two-way search.
fn index_of(s: &str, needle: &str, offset: Option<i64>) -> Result<i64, ExecutionError> {
    let Some(offset) = offset else {
        return Ok(s.find(needle).map_or(-1, |at| char_index(s, at)));
    };
    let start = match search_from("indexOf", s, needle, offset)? {
        Ok(start) => start,
        Err(answer) => return Ok(answer),
    };
    Ok(s[start..]
        .find(needle)
        .map_or(-1, |at| char_index(s, start + at)))
}

/// `s.lastIndexOf(needle)`, `s.lastIndexOf(needle, offset)`: the code point index of the last
/// occurrence that starts at or before `offset`, or -1.
fn last_index_of(s: &str, needle: &str, offset: Option<i64>) -> Result<i64, ExecutionError> {
    let Some(offset) = offset else {
        return Ok(s.rfind(needle).map_or(-1, |at| char_index(s, at)));
    };
    if let Err(answer) = search_from("lastIndexOf", s, needle, offset)? {
        return Ok(answer);
    }
    // A match starting at or before code point `offset` ends at or before the code point as
    // many further as the needle has.
    let reach = (offset as usize).saturating_add(needle.chars().count());
    let end = byte_offset(s, reach).unwrap_or(s.len());
    Ok(s[..end].rfind(needle).map_or(-1, |at| char_index(s, at)))
}

/// The values of a call, bound as `@0`, `@1`... for the interpreter to call the crate's
/// member overload on them.
struct Bound<'a, 'b, 'v>(&'a [CowVal<'b, 'v>]);

impl VariableResolver for Bound<'_, '_, '_> {
    fn resolve<'c>(&'c self, variable: &str) -> Option<CowVal<'c, 'c>> {
        let index: usize = variable.strip_prefix('@')?.parse().ok()?;
        self.0.get(index).map(|v| CowVal::Borrowed(v.as_ref()))
    }
}

/// `args[0].name(args[1..])`, by the crate's overload: `cel` offers no way to call a member
/// overload but an expression, so this evaluates `@0.name(@1, ...)` with the values bound.
fn member<'b, 'v>(name: &str, args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let ident = |i: usize| IdedExpr {
        id: 0,
        expr: Node::Ident(format!("@{i}")),
    };
    let call = IdedExpr {
        id: 0,
        expr: Node::Call(CallExpr {
            func_name: name.to_owned(),
            target: Some(Box::new(ident(0))),
            args: (1..args.len()).map(ident).collect(),
        }),
    };
    let bound = Bound(&args);
    let mut context = cel::Context::with_env(crate::expr::ENV.clone());
    context.set_variable_resolver(&bound);
    let result = Value::resolve_val(&call, &context)?;
    // The result borrows the bindings' scope as far as the types can tell: it leaves as a copy,
    // through `Value` (see [`COPIES`]).
    let value = Value::try_from(result.as_ref())?;
    let owned: Box<dyn Val> = Box::<dyn Val>::try_from(value)?;
    Ok(CowVal::Owned(owned))
}
