//! The compile-time rewrite that routes every step that builds a value through the budget.

use super::*;

/// Functions whose result is a fixed-size value, or one of their arguments as it is: calling
/// them builds nothing worth counting. Any other function is charged for its arguments, which
/// bounds functions whose result is no larger than what they are given (`string`, `bytes`).
/// A function that can return more than that (the strings extension's `replace`, `format`)
/// must not be registered without a wrapper of its own that charges its result's size before
/// calling it, as `@add` does for `+` and `@strings` for the strings extension. (`duration` is not here: its
/// parser lists a string's components before adding them up, see [`super::ops`].)
const FIXED_SIZE: [&str; 25] = [
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "int",
    "uint",
    "double",
    "bool",
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

/// The global function `call` names when its target is an extension's namespace
/// (`strings.quote(s)`, `math.ceil(x)`), as the interpreter resolves it; macros write some
/// directly (`math.greatest(a, b)` becomes `math.@max(a, b)`).
pub(crate) fn namespaced(call: &CallExpr) -> Option<String> {
    match call.target.as_deref().map(|t| &t.expr) {
        Some(Node::Ident(ns)) if NAMESPACES.contains(&ns.as_str()) => {
            Some(format!("{ns}.{}", call.func_name))
        }
        None if NAMESPACES.iter().any(|ns| {
            call.func_name
                .strip_prefix(ns)
                .is_some_and(|f| f.starts_with('.'))
        }) =>
        {
            Some(call.func_name.clone())
        }
        _ => None,
    }
}

/// The namespaces of the extensions' global functions.
pub(crate) const NAMESPACES: [&str; 2] = ["strings", "math"];

/// The strings extension's function `call` calls, if it calls one.
fn extension_call(call: &CallExpr) -> Option<&'static str> {
    if namespaced(call).is_some_and(|f| f == STRINGS_QUOTE) {
        return Some(STRINGS_QUOTE);
    }
    call.target.as_ref()?;
    STRINGS_MEMBERS
        .iter()
        .find(|m| **m == call.func_name)
        .copied()
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
            if let Some(function) = extension_call(call) {
                let name = IdedExpr {
                    id: node.id,
                    expr: Node::Literal(LiteralValue::String(function.into())),
                };
                if let Some(receiver) = call.target.take().filter(|_| function != STRINGS_QUOTE) {
                    call.args.insert(0, *receiver);
                }
                call.args.insert(0, name);
                call.func_name = strings::STRINGS_FN.to_owned();
                return true;
            }
            if namespaced(call).is_some_and(|f| f.starts_with("math.")) {
                // The math extension's functions return a number or a bool.
                return found;
            }
            let operator = name.starts_with(['_', '@', '!', '-']);
            if name.starts_with("get") && call.target.is_some() && call.args.len() == 1 {
                // `now.getHours(zone)`: an unknown zone is quoted in the error.
                wrap(&mut call.args[0], QUOTED_FN);
                return true;
            }
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
