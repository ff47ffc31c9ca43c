//! The internal functions the rewritten tree calls: each computes what its step will
//! allocate, charges it, and then does what the interpreter would have done.

use super::*;

/// Charges a comprehension's range to both budgets and passes it through unchanged: one
/// iteration per element, the copy of each element the iteration variable takes (of its
/// contents: the box is freed by the next iteration's), and the slot a `map` or `filter` reserves
/// for its result.
pub(super) fn charge_range<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
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
pub(super) fn add<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
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
pub(super) fn elem<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| internal(ELEM_FN))?;
    charge(SLOT.saturating_add(copy_cost(&value)))?;
    Ok(value)
}

/// The element a `map` or `filter` step appends: the result list keeps a copy of it (in a slot
/// [`charge_range`] counted), and the literal `[x]` around it first copies a borrowed one.
/// Both copies are counted, though the interpreter drops the literal's (with the original of
/// a new value) right after appending: the budget counts what is built, never what is freed,
/// so nested `map`s count their elements once per level.
pub(super) fn item<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| internal(ITEM_FN))?;
    charge(footprint(value.as_ref()).saturating_add(copy_cost(&value)))?;
    Ok(value)
}

/// `a - b`, `a * b`, `a / b`, `a % b` (the operator's name comes first). They apply to
/// numbers, timestamps and durations only; the interpreter's own error for a string or a list
/// would carry a copy of it, so those are refused here by type.
pub(super) fn arith<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
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
pub(super) fn compare<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
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
pub(super) fn key<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| internal(KEY_FN))?;
    charge(checked_key(&value)?)?;
    Ok(value)
}

/// An argument a function's error may quote (a time zone): charged its text.
pub(super) fn quoted<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let value = args.pop().ok_or_else(|| internal(QUOTED_FN))?;
    charge(VALUE.saturating_add(text_payload(value.as_ref())))?;
    Ok(value)
}

/// A map literal's key: checked by [`checked_key`], and charged as an element ([`elem`]).
pub(super) fn map_key<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
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
pub(super) fn call<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    if args.is_empty() {
        return Err(internal(CALL_FN));
    }
    let name = args.remove(0);
    let Some(name) = name.downcast_ref::<CelString>() else {
        return Err(internal(CALL_FN));
    };
    // `duration("1s1s...")` lists each component (16 bytes, in a list that grows by doubling)
    // before adding them up: up to 16 bytes for each byte of its argument.
    let per_byte = if name.inner() == "duration" { 16 } else { 1 };
    let cost = args.iter().fold(VALUE + TEXT + 64, |sum, a| {
        sum.saturating_add(text_payload(a.as_ref()).saturating_mul(per_byte))
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
pub(super) fn matches<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    regex_match(args, false)
}

/// `text.matches(pattern)`.
pub(super) fn matches_member<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
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
