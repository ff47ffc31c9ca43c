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

/// Functions whose result is a fixed-size value, or one of their arguments as it is: calling
/// them builds nothing worth counting. Any other function is charged for its arguments, which
/// bounds functions whose result is no larger than what they are given (`string`, `bytes`).
/// A function that can return more than that (the strings extension's `replace`, `format`
/// with a width, a `repeat`) must not be registered without a wrapper of its own that charges
/// its result's size before calling it, as `@add` does for `+`.
const FIXED_SIZE: [&str; 26] = [
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "int",
    "uint",
    "double",
    "bool",
    "duration",
    "timestamp",
    "type",
    "dyn",
    "hasValue",
    "value",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "orValue",
    "or",
];

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
    env.add_overload(RANGE_FN, "@range(list)", vec![LIST_TYPE], charge_range)?;
    env.add_overload(RANGE_FN, "@range(map)", vec![MAP_TYPE], charge_range)?;
    env.add_overload(ADD_FN, ADD_FN, vec![DYN_TYPE, DYN_TYPE], add)?;
    env.add_overload(ELEM_FN, ELEM_FN, vec![DYN_TYPE], elem)?;
    env.add_overload(ITEM_FN, ITEM_FN, vec![DYN_TYPE], item)?;
    env.add_overload(MATCHES_FN, MATCHES_FN, vec![DYN_TYPE, DYN_TYPE], matches)?;
    env.add_overload(
        MATCHES_MEMBER_FN,
        MATCHES_MEMBER_FN,
        vec![DYN_TYPE, DYN_TYPE],
        matches_member,
    )?;
    env.add_overload(
        ARITH_FN,
        ARITH_FN,
        vec![STRING_TYPE, DYN_TYPE, DYN_TYPE],
        arith,
    )?;
    env.add_overload(
        COMPARE_FN,
        COMPARE_FN,
        vec![STRING_TYPE, DYN_TYPE, DYN_TYPE],
        compare,
    )?;
    env.add_overload(KEY_FN, KEY_FN, vec![DYN_TYPE], key)?;
    env.add_overload(MAP_KEY_FN, MAP_KEY_FN, vec![DYN_TYPE], map_key)?;
    for n in 0..=4 {
        let mut args = vec![STRING_TYPE];
        args.extend((0..n).map(|_| DYN_TYPE));
        env.add_overload(CALL_FN, &format!("@fn/{n}"), args, call)?;
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

/// Charges a comprehension's range to both budgets and passes it through unchanged: one
/// iteration per element, the copy of each element the iteration variable takes (of its
/// contents: the box is freed by the next iteration's), and the slot a `map` or `filter` reserves
/// for its result.
fn charge_range<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let range = args.pop().ok_or_else(|| internal(RANGE_FN))?;
    let left = STEPS_LEFT.get();
    let mut size = 0u64;
    let mut bytes = PASS;
    if let Some(items) = range.as_iterable() {
        let mut iter = items.iter();
        // Count no further than the budget: a huge range costs no more than a refusal.
        while size <= left {
            let Some(item) = iter.next() else { break };
            size += 1;
            bytes = bytes.saturating_add(RESERVED + payload(item));
        }
    }
    if size > left {
        STEPS_LEFT.set(0);
        return Err(ExecutionError::function_error(
            STEPS,
            format!(
                "too much work: more than {MAX_COMPREHENSION_STEPS} comprehension iterations (map, filter, all, exists) in one evaluation"
            ),
        ));
    }
    STEPS_LEFT.set(left - size);
    charge(bytes)?;
    Ok(range)
}

/// `a + b`, charged the size of the result before it is built. Strings, bytes and lists are
/// added only to their own kind (a list to a list or map); anything else with one of them is
/// refused by type, without copying the operands into the error as the interpreter would.
fn add<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (Some(rhs), Some(lhs)) = (args.pop(), args.pop()) else {
        return Err(internal(ADD_FN));
    };
    let (l, r): (&dyn Val, &dyn Val) = (lhs.as_ref(), rhs.as_ref());
    let text = |v: &dyn Val| {
        v.downcast_ref::<CelString>()
            .map(|s| s.len())
            .or_else(|| v.downcast_ref::<CelBytes>().map(|b| b.inner().len()))
    };
    let is_string = |v: &dyn Val| v.downcast_ref::<CelString>().is_some();
    let is_bytes = |v: &dyn Val| v.downcast_ref::<CelBytes>().is_some();
    let is_list = |v: &dyn Val| v.downcast_ref::<CelList>().is_some();
    let is_map = |v: &dyn Val| v.downcast_ref::<CelMap>().is_some();
    let cost = if (is_string(l) && is_string(r)) || (is_bytes(l) && is_bytes(r)) {
        let len = text(l).unwrap_or(0) + text(r).unwrap_or(0);
        VALUE + TEXT + len as u64
    } else if is_list(l) && (is_list(r) || is_map(r)) {
        // Both sides' elements are copied into the new list.
        footprint(l).saturating_add(payload(r))
    } else if [l, r]
        .iter()
        .any(|v| is_string(*v) || is_bytes(*v) || is_list(*v) || is_map(*v))
    {
        return Err(ExecutionError::no_such_overload("_+_", type_names(&[l, r])));
    } else {
        // Numbers, timestamps and durations: a fixed-size value, not kept.
        0
    };
    charge(cost)?;
    let adder = l
        .as_adder()
        .ok_or_else(|| ExecutionError::no_such_overload("_+_", type_names(&[l, r])))?;
    Ok(CowVal::Owned(adder.add(r)?.into_owned()))
}

/// A list element or a map value: the literal keeps a copy of a borrowed one, in a slot (a map
/// entry's other half is counted with its key, by [`map_key`]).
fn elem<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| internal(ELEM_FN))?;
    charge(SLOT.saturating_add(copy_cost(&value)))?;
    Ok(value)
}

/// The element a `map` or `filter` step appends: the result list keeps a copy of it (in a slot
/// [`charge_range`] counted), and the literal `[x]` around it first copies a borrowed one.
/// Both copies are counted, though the interpreter drops the literal's (with the original of
/// a new value) right after appending: the budget counts what is built, never what is freed,
/// so nested `map`s count their elements once per level.
fn item<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| internal(ITEM_FN))?;
    charge(footprint(value.as_ref()).saturating_add(copy_cost(&value)))?;
    Ok(value)
}

/// Whether `v` is of a kind whose copy may be large: a string, bytes, a list or a map.
fn sizable(v: &dyn Val) -> bool {
    v.downcast_ref::<CelString>().is_some()
        || v.downcast_ref::<CelBytes>().is_some()
        || v.downcast_ref::<CelList>().is_some()
        || v.downcast_ref::<CelMap>().is_some()
}

/// `a - b`, `a * b`, `a / b`, `a % b` (the operator's name comes first). They apply to
/// numbers, timestamps and durations only; the interpreter's own error for a string or a list
/// would carry a copy of it, so those are refused here by type.
fn arith<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [op, lhs, rhs] = args.as_slice() else {
        return Err(internal(ARITH_FN));
    };
    let op = op
        .downcast_ref::<CelString>()
        .ok_or_else(|| internal(ARITH_FN))?;
    let (l, r): (&dyn Val, &dyn Val) = (lhs.as_ref(), rhs.as_ref());
    let refused = || ExecutionError::no_such_overload(op, type_names(&[l, r]));
    if sizable(l) || sizable(r) {
        return Err(refused());
    }
    let result = match op.inner() {
        "_-_" => l.as_subtractor().ok_or_else(refused)?.sub(r),
        "_*_" => l.as_multiplier().ok_or_else(refused)?.mul(r),
        "_/_" => l.as_divider().ok_or_else(refused)?.div(r),
        "_%_" => l.as_modder().ok_or_else(refused)?.modulo(r),
        _ => return Err(internal(ARITH_FN)),
    };
    Ok(CowVal::Owned(result?.into_owned()))
}

/// `a < b`, `a <= b`, `a > b`, `a >= b` (the operator's name comes first), as the interpreter
/// computes them, except that a comparison it would refuse is refused here by type before it
/// starts: refusing `"..." < 1`, the interpreter first builds an error holding copies of both.
fn compare<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    use std::cmp::Ordering;
    let [op, lhs, rhs] = args.as_slice() else {
        return Err(internal(COMPARE_FN));
    };
    let op = op
        .downcast_ref::<CelString>()
        .ok_or_else(|| internal(COMPARE_FN))?;
    let (l, r): (&dyn Val, &dyn Val) = (lhs.as_ref(), rhs.as_ref());
    let refused = || ExecutionError::no_such_overload(op, type_names(&[l, r]));
    let same_kind = |a: &dyn Val, b: &dyn Val| {
        (a.downcast_ref::<CelString>().is_some() && b.downcast_ref::<CelString>().is_some())
            || (a.downcast_ref::<CelBytes>().is_some() && b.downcast_ref::<CelBytes>().is_some())
    };
    if (sizable(l) || sizable(r)) && !same_kind(l, r) {
        return Err(refused());
    }
    let ordering = l
        .as_comparer()
        .ok_or_else(refused)?
        .compare(r)
        .map_err(|e| match e {
            ExecutionError::NoSuchOverload(_)
            | ExecutionError::ValuesNotComparable(..)
            | ExecutionError::UnsupportedKeyType(_)
            | ExecutionError::UnexpectedType { .. } => refused(),
            other => other,
        })?;
    let holds = match op.inner() {
        "_<_" => ordering == Ordering::Less,
        "_<=_" => ordering != Ordering::Greater,
        "_>_" => ordering == Ordering::Greater,
        "_>=_" => ordering != Ordering::Less,
        _ => return Err(internal(COMPARE_FN)),
    };
    Ok(CowVal::owned(cel::common::types::CelBool::from(holds)))
}

/// Checks an index or map key before the interpreter uses it: a key of a kind CEL does not
/// allow (a list, a map, a fractional double) is refused by type, where the interpreter's error
/// would carry a copy of the key or of the list indexed. A string key is charged its size: a
/// missing one is quoted in the error.
fn checked_key(value: &CowVal<'_, '_>) -> Result<u64, ExecutionError> {
    let v = value.as_ref();
    if let Some(s) = v.downcast_ref::<CelString>() {
        return Ok(VALUE + TEXT + s.len() as u64);
    }
    if let Some(d) = v.downcast_ref::<cel::common::types::CelDouble>() {
        let d = *d.inner();
        if d.fract() == 0.0 && d.abs() < 9.0e15 {
            return Ok(0);
        }
        return Err(ExecutionError::function_error(
            "_[_]",
            format!("the index {d} is not a whole number"),
        ));
    }
    if sizable(v) {
        return Err(ExecutionError::no_such_overload("_[_]", type_names(&[v])));
    }
    Ok(0)
}

/// An index (`a[i]`) that is not a literal, checked by [`checked_key`].
fn key<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| internal(KEY_FN))?;
    charge(checked_key(&value)?)?;
    Ok(value)
}

/// A map literal's key: checked by [`checked_key`], and charged as an element ([`elem`]).
fn map_key<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| internal(MAP_KEY_FN))?;
    let quoted = checked_key(&value)?;
    charge(
        (ENTRY / 2)
            .saturating_add(copy_cost(&value))
            .saturating_add(quoted),
    )?;
    Ok(value)
}

/// `name(args...)` for a function that may copy its arguments (`string(b)` copies bytes, even
/// borrowed ones): charged their size, text included, and a short result (`string(3.5)`) first.
fn call<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    if args.is_empty() {
        return Err(internal(CALL_FN));
    }
    let name = args.remove(0);
    let Some(name) = name.downcast_ref::<CelString>() else {
        return Err(internal(CALL_FN));
    };
    let cost = args.iter().fold(VALUE + TEXT + 64, |sum, a| {
        sum.saturating_add(text_payload(a.as_ref()))
    });
    charge(cost)?;
    match crate::expr::ENV.find_overload(name, &args) {
        Some(op) => op(args),
        None => {
            let values: Vec<&dyn Val> = args.iter().map(|a| a.as_ref()).collect();
            Err(ExecutionError::no_such_overload(name, type_names(&values)))
        }
    }
}

/// `matches(text, pattern)`.
fn matches<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    regex_match(args, false)
}

/// `text.matches(pattern)`.
fn matches_member<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    regex_match(args, true)
}

fn regex_match<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    member: bool,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [text, pattern] = args.as_slice() else {
        return Err(internal(MATCHES_FN));
    };
    let (Some(text), Some(pattern)) = (
        text.downcast_ref::<CelString>(),
        pattern.downcast_ref::<CelString>(),
    ) else {
        let types = type_names(&[text.as_ref(), pattern.as_ref()]);
        return Err(if member {
            ExecutionError::no_such_member_overload("matches", types)
        } else {
            ExecutionError::no_such_overload("matches", types)
        });
    };
    let found = REGEXES.with_borrow(|cache| {
        cache
            .iter()
            .find(|(p, _)| p.as_str() == pattern.inner())
            .map(|(_, re)| re.is_match(text.inner()))
    });
    let found = match found {
        Some(found) => found,
        None => {
            let len = pattern.len() as u64;
            charge(REGEX_CHARGE.saturating_add(REGEX_BYTE_CHARGE.saturating_mul(len)))?;
            // `matches` asks only whether there is a match: no capture group needs a slot in
            // the search's tables (which, per group and per state, can take hundreds of MB).
            let config = Regex::config()
                .which_captures(WhichCaptures::Implicit)
                .nfa_size_limit(Some(MAX_REGEX_BYTES))
                .onepass_size_limit(Some(MAX_REGEX_BYTES))
                .dfa_size_limit(Some(MAX_REGEX_BYTES))
                .hybrid_cache_capacity(REGEX_CACHE_BYTES);
            let re = Regex::builder()
                .configure(config)
                .build(pattern)
                .map_err(|e| regex_error(pattern, &e))?;
            let found = re.is_match(text.inner());
            REGEXES.with_borrow_mut(|cache| cache.push((pattern.inner().to_owned(), re)));
            found
        }
    };
    Ok(CowVal::owned(cel::common::types::CelBool::from(found)))
}

/// A pattern that does not compile, named by its first 100 characters.
fn regex_error(pattern: &str, error: &BuildError) -> ExecutionError {
    let shown: String = pattern.chars().take(100).collect();
    let more = if shown.len() < pattern.len() {
        "..."
    } else {
        ""
    };
    let reason = if error.size_limit().is_some() {
        format!(
            "it compiles to more than {} KiB, the limit for a regular expression",
            MAX_REGEX_BYTES >> 10
        )
    } else if let Some(syntax) = error.syntax_error() {
        let text = syntax.to_string();
        text.lines().last().unwrap_or_default().to_owned()
    } else {
        error.to_string()
    };
    ExecutionError::function_error(
        "matches",
        format!("'{shown}{more}' not a valid regex: {reason}"),
    )
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

/// `tree` with every step that builds a value routed through the budget; `None` when it has
/// none (and needs no budget). Recursion is bounded by the tree depth limit.
pub(crate) fn budgeted(tree: &IdedExpr) -> Option<IdedExpr> {
    let mut copy = tree.clone();
    rewrite(&mut copy).then_some(copy)
}

/// Wraps `node` in a call to the internal function `name`.
fn wrap(node: &mut IdedExpr, name: &str) {
    let inner = std::mem::take(node);
    *node = IdedExpr {
        id: inner.id,
        expr: Node::Call(CallExpr {
            func_name: name.to_owned(),
            target: None,
            args: vec![inner],
        }),
    };
}

/// Whether `node` may evaluate to a borrowed value (a variable, a field, a call's pass-through),
/// which a literal holding it copies. Literals are copied too, but are bounded by the
/// expression's length, and counted where a loop keeps them.
fn may_borrow(node: &IdedExpr) -> bool {
    match &node.expr {
        Node::Ident(_) | Node::Select(_) => true,
        Node::Call(c) => c.func_name != ADD_FN,
        _ => false,
    }
}

/// The `[x]` a `map` or `filter` step appends to its accumulator `accu`: `accu + [x]`, or
/// `cond ? accu + [x] : accu`.
fn appended<'a>(step: &'a mut IdedExpr, accu: &str) -> Option<&'a mut ListExpr> {
    let is_accu = |n: &IdedExpr| matches!(&n.expr, Node::Ident(name) if name == accu);
    let Node::Call(call) = &mut step.expr else {
        return None;
    };
    match call.func_name.as_str() {
        "_+_" if call.args.len() == 2 && is_accu(&call.args[0]) => match &mut call.args[1].expr {
            Node::List(list) => Some(list),
            _ => None,
        },
        "_?_:_" if call.args.len() == 3 && is_accu(&call.args[2]) => {
            appended(&mut call.args[1], accu)
        }
        _ => None,
    }
}

fn rewrite(node: &mut IdedExpr) -> bool {
    match &mut node.expr {
        Node::Comprehension(c) => {
            wrap(&mut c.iter_range, RANGE_FN);
            for child in [
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.result,
            ] {
                rewrite(child);
            }
            let accu = c.accu_var.clone();
            if appended(&mut c.loop_step, &accu).is_some() {
                // Leave the step's `+` alone (the interpreter appends in place for it); count
                // what it appends, and rewrite the rest.
                if let Node::Call(call) = &mut c.loop_step.expr
                    && call.func_name == "_?_:_"
                    && let Some(guard) = call.args.first_mut()
                {
                    rewrite(guard);
                }
                if let Some(list) = appended(&mut c.loop_step, &accu) {
                    for e in &mut list.elements {
                        rewrite(e);
                        wrap(e, ITEM_FN);
                    }
                }
            } else {
                rewrite(&mut c.loop_step);
            }
            true
        }
        Node::Call(call) => {
            let mut found = false;
            if let Some(t) = call.target.as_deref_mut() {
                found |= rewrite(t);
            }
            for a in &mut call.args {
                found |= rewrite(a);
            }
            let name = call.func_name.as_str();
            if name == "_+_" && call.target.is_none() && call.args.len() == 2 {
                call.func_name = ADD_FN.to_owned();
                return true;
            }
            let checked = if ["_-_", "_*_", "_/_", "_%_"].contains(&name) {
                Some(ARITH_FN)
            } else if ["_<_", "_<=_", "_>_", "_>=_"].contains(&name) {
                Some(COMPARE_FN)
            } else {
                None
            };
            if let Some(checked) = checked
                && call.args.len() == 2
            {
                let op = IdedExpr {
                    id: node.id,
                    expr: Node::Literal(LiteralValue::String(name.to_owned().into())),
                };
                call.args.insert(0, op);
                call.func_name = checked.to_owned();
                return true;
            }
            if name == "_[_]" && call.args.len() == 2 {
                if matches!(
                    call.args[1].expr,
                    Node::Literal(
                        LiteralValue::String(_)
                            | LiteralValue::Int(_)
                            | LiteralValue::UInt(_)
                            | LiteralValue::Boolean(_)
                    )
                ) {
                    return found;
                }
                wrap(&mut call.args[1], KEY_FN);
                return true;
            }
            if name == "matches" {
                if let Some(target) = call.target.take() {
                    call.args.insert(0, *target);
                    call.func_name = MATCHES_MEMBER_FN.to_owned();
                } else {
                    call.func_name = MATCHES_FN.to_owned();
                }
                return true;
            }
            let operator = name.starts_with(['_', '@', '!', '-']);
            if operator || FIXED_SIZE.contains(&name) {
                return found;
            }
            match call.target.as_deref_mut() {
                // Every member function is of fixed size today; one added later is charged
                // for its receiver.
                Some(t) => wrap(t, ITEM_FN),
                None => {
                    let name = IdedExpr {
                        id: node.id,
                        expr: Node::Literal(LiteralValue::String(call.func_name.clone().into())),
                    };
                    call.args.insert(0, name);
                    call.func_name = CALL_FN.to_owned();
                }
            }
            true
        }
        Node::List(list) => {
            let mut found = false;
            for e in &mut list.elements {
                found |= rewrite(e);
                if may_borrow(e) {
                    wrap(e, ELEM_FN);
                    found = true;
                }
            }
            found
        }
        Node::Map(map) => {
            let mut found = false;
            for entry in &mut map.entries {
                if let EntryExpr::MapEntry(e) = &mut entry.expr {
                    found |= rewrite(&mut e.key);
                    if !matches!(
                        e.key.expr,
                        Node::Literal(
                            LiteralValue::String(_)
                                | LiteralValue::Int(_)
                                | LiteralValue::UInt(_)
                                | LiteralValue::Boolean(_)
                        )
                    ) {
                        wrap(&mut e.key, MAP_KEY_FN);
                        found = true;
                    }
                    found |= rewrite(&mut e.value);
                    if may_borrow(&e.value) {
                        wrap(&mut e.value, ELEM_FN);
                        found = true;
                    }
                }
            }
            found
        }
        Node::Select(select) => rewrite(&mut select.operand),
        Node::Struct(s) => {
            let mut found = false;
            for entry in &mut s.entries {
                if let EntryExpr::StructField(f) = &mut entry.expr {
                    found |= rewrite(&mut f.value);
                }
            }
            found
        }
        Node::Ident(_) | Node::Literal(_) | Node::Unspecified => false,
    }
}
