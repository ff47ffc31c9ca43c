//! The work and memory bounds of one evaluation (DESIGN §3): no expression within the
//! compile-time limits, over values within the event limits, runs more than
//! [`MAX_COMPREHENSION_STEPS`] comprehension iterations or builds more than [`MAX_EVAL_BYTES`]
//! of values.
//!
//! **How.** The interpreter builds values in a few places only: the `+` operator, list and map
//! literals (which copy what they hold), `map` and `filter` (which copy each result into the
//! list they build), comprehensions (which copy each element of the range into the iteration
//! variable), the few functions that copy an argument (`string`, `bytes`), and `matches` (which
//! compiles a regular expression). At compile time, [`budgeted`] rewrites the tree so that each
//! of these goes through an internal function that computes what the step will allocate,
//! *before* it allocates, and charges it to a per-evaluation budget held in a thread-local:
//!
//! - `a + b` becomes `@add(a, b)`: the size of the result (both strings, both lists' copies);
//! - each list or map literal element that may be a borrowed value (a variable, a field, a call)
//!   is wrapped in `@elem`: the copy the literal makes of it;
//! - the element a `map` or `filter` appends is wrapped in `@item`: the copy the result list
//!   keeps (the `+` of the macro's step is left alone, so the interpreter still appends in place);
//! - each comprehension's range is wrapped in `@range`: its iterations, and the copies of its
//!   elements the iteration variable takes;
//! - any global function not known to return a value of fixed size (`string`, `bytes`, and any
//!   function added later) becomes `@fn("name", args...)`, charged the size of its arguments;
//! - every function of the strings extension (`s.replace(a, b)`, `l.join(",")`, `s.format(l)`,
//!   `strings.quote(s)`...) becomes `@strings("replace", s, a, b)`, charged an upper bound on
//!   what it builds, computed from its arguments (see `campaigns/src/budget/strings.rs`);
//! - `matches` becomes `@matches`: a regular expression compiled with a size limit
//!   ([`MAX_REGEX_BYTES`]), charged by its length ([`REGEX_CHARGE`]) once per distinct pattern
//!   per evaluation;
//! - the result, before it is converted for the caller.
//!
//! Errors are kept small too, since `||`, `&&` and `exists` hold one while they evaluate their
//! other side: `-`, `*`, `/` and `%` become `@arith`, `<`, `<=`, `>` and `>=` become
//! `@compare`, and an index or map key that is not a
//! literal is checked by `@key` or `@mapkey`, so that the interpreter never builds an error that
//! carries a copy of a string, list or map operand (a string key, quoted when it is missing, is
//! charged); and an error's message is cut at [`MAX_ERROR_BYTES`] as it is written.
//!
//! Sizes are upper bounds ([`footprint`]): every boxed value counts [`VALUE`] bytes, every
//! string its length, every list slot and map entry a fixed overhead. The budget counts what is
//! built and copied, never refunded, so it bounds both the memory an evaluation holds at its
//! peak and the copying work it does. Values of fixed size that are not kept (an `int` result, a
//! bool) are not counted: they are freed as the next one is made. Once the budget is spent,
//! every further charge fails at once, so an error absorbed by `||` or `&&` cannot buy more.
//!
//! **The bound.** What one evaluation holds at its peak is at most [`MAX_EVAL_BYTES`], plus what
//! is not counted: values of fixed size not kept (at most one per node being evaluated, so a
//! few KiB for the deepest tree), the interpreter's scopes and argument lists (the same), and
//! the event's own values, built once per event and shared by every campaign. The tests in
//! `campaigns/tests/cel_memory.rs` run every hostile shape found under an allocator that
//! refuses (and so aborts the test) past 16 MiB + 4 MiB per evaluation.
//!
//! The optional syntax (`a.?b`, `a[?b]`, `[?a]`, `{?k: v}`) is refused when parsing: its
//! operators copy values inside the interpreter, out of reach of these wrappers.
//!
//! Every internal name starts with `@`, which the parser never produces, so no expression can
//! call one.

use cel::ExecutionError;
use cel::common::ast::{CallExpr, EntryExpr, Expr as Node, IdedExpr, ListExpr, LiteralValue};
use cel::common::types::{
    CelBytes, CelList, CelMap, CelString, DYN_TYPE, LIST_TYPE, MAP_TYPE, STRING_TYPE,
};
use cel::common::value::{CowVal, Val};
use cel::{Env, Value};
use regex_automata::meta::{BuildError, Regex};
use regex_automata::nfa::thompson::WhichCaptures;
use std::cell::{Cell, RefCell};

mod ops;
mod rewrite;
mod strings;

pub(crate) use strings::{MEMBERS as STRINGS_MEMBERS, QUOTE as STRINGS_QUOTE};

pub(crate) use rewrite::{budgeted, namespaced};

/// Most comprehension iterations one evaluation may run, nested ones included.
pub const MAX_COMPREHENSION_STEPS: u64 = 100_000;

/// Most bytes of values one evaluation may build or copy (16 MiB).
///
/// A `map` computing a number (`x * 2`) for each of 100,000 elements counts about 8 MB, so the
/// iteration bound, not this one, is what ordinary expressions meet first; what this one stops
/// is an expression that builds big strings or lists in a loop.
pub const MAX_EVAL_BYTES: u64 = 16 << 20;

/// The largest compiled regular expression `matches` accepts, in bytes (the size limit of the
/// `regex` crate's engine, 10 MiB by default; Unicode classes are large: `\w{10}` fits, `\w{12}`
/// does not, `[a-zA-Z0-9_]{100}` does).
pub const MAX_REGEX_BYTES: usize = 512 << 10;

/// The lazy DFA cache of one compiled regular expression, in bytes.
const REGEX_CACHE_BYTES: usize = 256 << 10;

/// What compiling one regular expression counts against the budget, before it is compiled:
/// [`REGEX_CHARGE`], plus [`REGEX_BYTE_CHARGE`] per byte of the pattern. A short pattern near
/// the size limit (`(a{30}){30}{30}`, `\w{10}`) peaked at 1.7 MB compiled and searched over
/// 60,000 characters; before the size limit is checked, the parser expands each Unicode class
/// (`\W` is hundreds of ranges) and held up to 14 KB per byte of pattern. The worst patterns
/// found (`\W`, `\PL`, `[\w\W]`, `(?i)\w`, counted repetitions, repeated up to 64 times)
/// all stayed under this charge, which `regex_memory_stays_under_its_charge` holds them to. A
/// pattern longer than about 900 bytes cannot be afforded at all.
pub const REGEX_CHARGE: u64 = 2 << 20;
/// See [`REGEX_CHARGE`].
pub const REGEX_BYTE_CHARGE: u64 = 16 << 10;

/// A boxed value of fixed size, with the allocator's overhead.
pub(crate) const VALUE: u64 = 64;
/// A list slot (a fat pointer), with room for a list that grew by doubling.
const SLOT: u64 = 32;
/// A slot reserved ahead: `map` and `filter` size their result for the whole range.
const RESERVED: u64 = 16;
/// A map entry: a hash table bucket (key and pointer) at the table's lowest load.
const ENTRY: u64 = 128;
/// The allocator's overhead on a string's or bytes' buffer.
const TEXT: u64 = 16;
/// A comprehension pass: the header of the list a `map` or `filter` keeps.
const PASS: u64 = VALUE;

const RANGE_FN: &str = "@range";
const ADD_FN: &str = "@add";
const ELEM_FN: &str = "@elem";
const ITEM_FN: &str = "@item";
const CALL_FN: &str = "@fn";
const MATCHES_FN: &str = "@matches";
const MATCHES_MEMBER_FN: &str = "@matches_member";
const ARITH_FN: &str = "@arith";
const COMPARE_FN: &str = "@compare";
const KEY_FN: &str = "@key";
const MAP_KEY_FN: &str = "@mapkey";
const QUOTED_FN: &str = "@quoted";

thread_local! {
    /// Comprehension iterations the evaluation running on this thread may still run.
    static STEPS_LEFT: Cell<u64> = const { Cell::new(MAX_COMPREHENSION_STEPS) };
    /// Bytes of values the evaluation running on this thread may still build.
    static BYTES_LEFT: Cell<u64> = const { Cell::new(MAX_EVAL_BYTES) };
    /// The regular expressions this evaluation compiled, by pattern.
    static REGEXES: RefCell<Vec<(String, Regex)>> = const { RefCell::new(Vec::new()) };
}

/// Gives the evaluation about to run on this thread the whole budget.
pub(crate) fn start() {
    STEPS_LEFT.set(MAX_COMPREHENSION_STEPS);
    BYTES_LEFT.set(MAX_EVAL_BYTES);
    REGEXES.with_borrow_mut(Vec::clear);
}

/// Frees what the evaluation that ran on this thread kept for itself.
pub(crate) fn finish() {
    REGEXES.with_borrow_mut(|r| *r = Vec::new());
}

/// Registers the internal functions on `env`.
pub(crate) fn register(env: &mut Env) -> Result<(), cel::DeclarationError> {
    env.add_overload(RANGE_FN, "@range(list)", vec![LIST_TYPE], ops::charge_range)?;
    env.add_overload(RANGE_FN, "@range(map)", vec![MAP_TYPE], ops::charge_range)?;
    env.add_overload(ADD_FN, ADD_FN, vec![DYN_TYPE, DYN_TYPE], ops::add)?;
    env.add_overload(ELEM_FN, ELEM_FN, vec![DYN_TYPE], ops::elem)?;
    env.add_overload(ITEM_FN, ITEM_FN, vec![DYN_TYPE], ops::item)?;
    env.add_overload(
        MATCHES_FN,
        MATCHES_FN,
        vec![DYN_TYPE, DYN_TYPE],
        ops::matches,
    )?;
    env.add_overload(
        MATCHES_MEMBER_FN,
        MATCHES_MEMBER_FN,
        vec![DYN_TYPE, DYN_TYPE],
        ops::matches_member,
    )?;
    env.add_overload(
        ARITH_FN,
        ARITH_FN,
        vec![STRING_TYPE, DYN_TYPE, DYN_TYPE],
        ops::arith,
    )?;
    env.add_overload(
        COMPARE_FN,
        COMPARE_FN,
        vec![STRING_TYPE, DYN_TYPE, DYN_TYPE],
        ops::compare,
    )?;
    env.add_overload(KEY_FN, KEY_FN, vec![DYN_TYPE], ops::key)?;
    env.add_overload(QUOTED_FN, QUOTED_FN, vec![DYN_TYPE], ops::quoted)?;
    env.add_overload(MAP_KEY_FN, MAP_KEY_FN, vec![DYN_TYPE], ops::map_key)?;
    for n in 0..=4 {
        let mut args = vec![STRING_TYPE];
        args.extend((0..n).map(|_| DYN_TYPE));
        env.add_overload(CALL_FN, &format!("@fn/{n}"), args, ops::call)?;
    }
    // The name, the receiver, and up to three arguments (`s.replace(from, to, n)`).
    for n in 1..=4 {
        let mut args = vec![STRING_TYPE];
        args.extend((0..n).map(|_| DYN_TYPE));
        let id = format!("{}/{n}", strings::STRINGS_FN);
        env.add_overload(strings::STRINGS_FN, &id, args, strings::call)?;
    }
    Ok(())
}

/// The error of an evaluation that spent its memory budget.
fn out_of_memory() -> ExecutionError {
    BYTES_LEFT.set(0);
    ExecutionError::function_error(
        MEMORY,
        format!(
            "evaluation exceeded its memory budget: it would build more than {} MiB of values (strings, lists, maps and their copies)",
            MAX_EVAL_BYTES >> 20
        ),
    )
}

/// The function name budget errors carry; [`message`] shows their message alone.
const MEMORY: &str = "@memory";
/// The same, for the comprehension bound.
const STEPS: &str = "@comprehension";

/// The longest evaluation error message kept, in bytes: `cel` puts operands' values in some
/// messages, and a message is stored and shown per campaign.
pub const MAX_ERROR_BYTES: usize = 1024;

/// What an evaluation error says: a budget's message alone, anything else as `cel` puts it,
/// cut at [`MAX_ERROR_BYTES`] while it is written (a long value is never formatted whole).
pub(crate) fn message(error: &ExecutionError) -> String {
    use std::fmt::Write;
    /// Keeps the first [`MAX_ERROR_BYTES`], then stops the formatting.
    struct Capped(String, bool);
    impl Write for Capped {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let room = MAX_ERROR_BYTES - self.0.len();
            if s.len() <= room {
                self.0.push_str(s);
                return Ok(());
            }
            let mut end = room;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.0.push_str(&s[..end]);
            self.1 = true;
            Err(std::fmt::Error)
        }
    }
    let mut out = Capped(String::new(), false);
    let _ = match error {
        ExecutionError::FunctionError { function, message }
            if function == MEMORY || function == STEPS =>
        {
            out.write_str(message)
        }
        other => write!(out, "{other}"),
    };
    if out.1 {
        out.0.push_str("...");
    }
    out.0
}

/// Takes `bytes` from the budget, or fails (and spends the rest) when they are not there.
pub(crate) fn charge(bytes: u64) -> Result<(), ExecutionError> {
    let left = BYTES_LEFT.get();
    if bytes > left {
        return Err(out_of_memory());
    }
    BYTES_LEFT.set(left - bytes);
    Ok(())
}

/// An upper bound on the bytes a deep copy of `v` allocates (what `clone` allocates: strings
/// borrowed from the event or the expression are not copied by it).
pub(crate) fn footprint(v: &dyn Val) -> u64 {
    VALUE.saturating_add(payload(v))
}

/// The bytes `v` owns beyond its own box: what a copy of it allocates. Text borrowed from the
/// event, the profile or the expression is not copied by a copy.
fn payload(v: &dyn Val) -> u64 {
    contents(v, false)
}

/// An upper bound on the bytes a value built from `v`'s contents takes beyond its box (a
/// conversion, `string(b)`, or the caller's own copy of a result): borrowed text included.
fn text_payload(v: &dyn Val) -> u64 {
    contents(v, true)
}

/// [`payload`] or [`text_payload`]. Recursion follows the value's nesting, bounded by the
/// event's depth limit plus the expression's.
fn contents(v: &dyn Val, borrowed_too: bool) -> u64 {
    let text = |len: usize, borrowed: bool| {
        if borrowed && !borrowed_too {
            0
        } else {
            TEXT + len as u64
        }
    };
    if let Some(s) = v.downcast_ref::<CelString>() {
        return text(s.len(), s.as_borrowed().is_some());
    }
    if let Some(b) = v.downcast_ref::<CelBytes>() {
        return text(b.inner().len(), b.as_borrowed().is_some());
    }
    if let Some(m) = v.downcast_ref::<CelMap>() {
        return m.inner().iter().fold(0u64, |sum, (k, v)| {
            let entry =
                contents(k.inner(), borrowed_too) + VALUE + contents(v.as_ref(), borrowed_too);
            sum.saturating_add(ENTRY + entry)
        });
    }
    if let Some(o) = v.downcast_ref::<cel::common::types::CelOptional>() {
        return o.option().map_or(0, |v| VALUE + contents(v, borrowed_too));
    }
    if let Some(items) = v.as_iterable() {
        let mut sum = 0u64;
        let mut iter = items.iter();
        while let Some(item) = iter.next() {
            sum = sum.saturating_add(SLOT + VALUE + contents(item, borrowed_too));
        }
        return sum;
    }
    0
}

/// What a copy of `v` costs, if taking it makes one: a borrowed value is copied, an owned one
/// moved.
fn copy_cost(v: &CowVal<'_, '_>) -> u64 {
    match v {
        CowVal::Borrowed(b) => footprint(*b),
        CowVal::Owned(_) => 0,
    }
}

fn internal(function: &str) -> ExecutionError {
    ExecutionError::function_error(function, "internal: wrong number of arguments")
}

fn type_names(args: &[&dyn Val]) -> Vec<String> {
    args.iter()
        .map(|a| a.get_type().name().to_owned())
        .collect()
}

/// Whether `v` is of a kind whose copy may be large: a string, bytes, a list or a map.
fn sizable(v: &dyn Val) -> bool {
    v.downcast_ref::<CelString>().is_some()
        || v.downcast_ref::<CelBytes>().is_some()
        || v.downcast_ref::<CelList>().is_some()
        || v.downcast_ref::<CelMap>().is_some()
}

/// Evaluates `tree`, charging the result's size before it is converted for the caller.
pub(crate) fn resolve(tree: &IdedExpr, context: &cel::Context) -> Result<Value, ExecutionError> {
    let value = Value::resolve_val(tree, context)?;
    let v = value.as_ref();
    if sizable(v) {
        // The conversion copies the text too, borrowed or not.
        charge(VALUE.saturating_add(text_payload(v)))?;
    }
    v.try_into()
}
