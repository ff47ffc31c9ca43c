//! The fast path: common predicate shapes compiled to a small tree that reads an event's and a
//! profile's JSON in place, with no CEL values built and no interpreter call.
//!
//! It covers literals, `event.f`, `customer.f`, `progress.f` (nested fields and `["f"]` too),
//! `has(...)`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `in` over a list of literals, `&&`, `||`, `!`,
//! and `startsWith`, `endsWith`, `contains` on strings. Anything else compiles to
//! [`Fast::Slow`].
//!
//! **It never disagrees with the interpreter.** Evaluating gives `Some(value)` only where the interpreter gives
//! exactly that value; wherever the interpreter would fail (a missing field, a type mismatch,
//! a `NaN`), or the shape is not covered, it gives `None`, and the caller runs the interpreter,
//! which then says what CEL says, error messages included. The one inference it makes is CEL's
//! own: `x && false` is false and `x || true` is true whatever `x` gives, error or not, exactly
//! as the `cel` crate evaluates them. `fast/differential.rs` checks all of this against the
//! interpreter on random expressions and inputs.

#[cfg(test)]
mod differential;

use crate::event::{Customer, Event};
use crate::progress::ProgressView;
use cel::common::ast::{Expr as Node, IdedExpr, LiteralValue};
use serde_json::Value as Json;
use std::cmp::Ordering;

/// The deepest tree the fast path compiles; deeper ones are left to the interpreter. The same
/// as the depth validation allows (`expr::MAX_TREE_DEPTH`, checked equal at compile time there), kept
/// here so that this module does not depend on the one that calls it.
pub(crate) const MAX_DEPTH: usize = 40;

/// What an expression reads: the event and profile as they arrived, and the progress view.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    /// The event; `None` outside of any event (an audience evaluated for offers).
    pub(crate) event: Option<&'a Event>,
    /// The customer's id (`customer.id`).
    pub(crate) customer_id: &'a str,
    /// Their profile, if any.
    pub(crate) profile: Option<&'a Customer>,
    /// The customer's progress in the campaign.
    pub(crate) progress: ProgressView,
}

/// A value the fast path computes: scalars only, strings borrowed from the facts or the tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// `null`.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `uint`.
    UInt(u64),
    /// `double`.
    Double(f64),
    /// `string`.
    Str(&'a str),
}

impl Scalar<'_> {
    /// The interpreter's form of the value.
    pub(crate) fn to_cel(self) -> cel::Value {
        match self {
            Scalar::Null => cel::Value::Null,
            Scalar::Bool(b) => cel::Value::Bool(b),
            Scalar::Int(i) => cel::Value::Int(i),
            Scalar::UInt(u) => cel::Value::UInt(u),
            Scalar::Double(d) => cel::Value::Float(d),
            Scalar::Str(s) => cel::Value::String(std::sync::Arc::new(s.to_owned())),
        }
    }
}

/// A literal owned by the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(Box<str>),
}

impl Literal {
    fn from_ast(l: &LiteralValue) -> Option<Literal> {
        Some(match l {
            LiteralValue::Null => Literal::Null,
            LiteralValue::Boolean(b) => Literal::Bool(*b.inner()),
            LiteralValue::Int(i) => Literal::Int(*i.inner()),
            LiteralValue::UInt(u) => Literal::UInt(*u.inner()),
            LiteralValue::Double(d) => Literal::Double(*d.inner()),
            LiteralValue::String(s) => Literal::Str(s.inner().into()),
            LiteralValue::Bytes(_) => return None,
        })
    }

    fn scalar(&self) -> Scalar<'_> {
        match self {
            Literal::Null => Scalar::Null,
            Literal::Bool(b) => Scalar::Bool(*b),
            Literal::Int(i) => Scalar::Int(*i),
            Literal::UInt(u) => Scalar::UInt(*u),
            Literal::Double(d) => Scalar::Double(*d),
            Literal::Str(s) => Scalar::Str(s),
        }
    }
}

/// The variables the fast path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    Event,
    Customer,
    Progress,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A string test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text {
    StartsWith,
    EndsWith,
    Contains,
}

/// A compiled predicate or value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fast {
    /// Not covered: always left to the interpreter.
    Slow,
    /// A literal.
    Literal(Literal),
    /// `root.a.b...` (at least one field).
    Path(Root, Vec<Box<str>>),
    /// `has(root.a...b)`: whether the last field is present.
    Has(Root, Vec<Box<str>>),
    /// A comparison.
    Compare(Compare, Box<Fast>, Box<Fast>),
    /// `x in [literals]`.
    In(Box<Fast>, Vec<Literal>),
    /// `a && b`.
    And(Box<Fast>, Box<Fast>),
    /// `a || b`.
    Or(Box<Fast>, Box<Fast>),
    /// `!a`.
    Not(Box<Fast>),
    /// `s.startsWith(t)` and friends.
    Text(Text, Box<Fast>, Box<Fast>),
}

impl Fast {
    /// The fast tree for `node`; `None` when no part of it is covered.
    pub(crate) fn compile(node: &IdedExpr) -> Option<Fast> {
        let fast = Self::node(node, 0);
        (!fast.is_slow()).then_some(fast)
    }

    fn is_slow(&self) -> bool {
        matches!(self, Fast::Slow)
    }

    /// Recursion is bounded by the checked tree depth (`expr::MAX_TREE_DEPTH`); `depth` guards
    /// it again, at [`MAX_DEPTH`], for trees built elsewhere.
    fn node(node: &IdedExpr, depth: usize) -> Fast {
        if depth > MAX_DEPTH {
            return Fast::Slow;
        }
        let sub = |n: &IdedExpr| Box::new(Self::node(n, depth + 1));
        match &node.expr {
            Node::Literal(l) => Literal::from_ast(l).map_or(Fast::Slow, Fast::Literal),
            Node::Select(s) => match path(node) {
                Some((root, fields)) if s.test => Fast::Has(root, fields),
                Some((root, fields)) => Fast::Path(root, fields),
                None => Fast::Slow,
            },
            Node::Call(call) => {
                let name = call.func_name.as_str();
                match (name, call.target.as_deref(), call.args.as_slice()) {
                    ("_[_]", None, [_, _]) => match path(node) {
                        Some((root, fields)) => Fast::Path(root, fields),
                        None => Fast::Slow,
                    },
                    ("_&&_", None, [a, b]) => Fast::And(sub(a), sub(b)),
                    ("_||_", None, [a, b]) => Fast::Or(sub(a), sub(b)),
                    ("!_", None, [a]) => match Self::node(a, depth + 1) {
                        Fast::Slow => Fast::Slow,
                        a => Fast::Not(Box::new(a)),
                    },
                    ("@in", None, [a, list]) => match literal_list(list) {
                        Some(items) => match Self::node(a, depth + 1) {
                            Fast::Slow => Fast::Slow,
                            a => Fast::In(Box::new(a), items),
                        },
                        None => Fast::Slow,
                    },
                    (op, None, [a, b]) => match compare_op(op) {
                        Some(op) => Fast::Compare(op, sub(a), sub(b)).or_slow(),
                        None => Fast::Slow,
                    },
                    (f, Some(target), [arg]) => match text_op(f) {
                        Some(t) => Fast::Text(t, sub(target), sub(arg)).or_slow(),
                        None => Fast::Slow,
                    },
                    _ => Fast::Slow,
                }
            }
            _ => Fast::Slow,
        }
    }

    /// A comparison or string test with an uncovered operand is uncovered as a whole.
    fn or_slow(self) -> Fast {
        match &self {
            Fast::Compare(_, a, b) | Fast::Text(_, a, b) if a.is_slow() || b.is_slow() => {
                Fast::Slow
            }
            _ => self,
        }
    }

    /// The value, when it is certain to be the interpreter's; `None` to ask the interpreter.
    pub(crate) fn evaluate<'a>(&'a self, facts: &Facts<'a>) -> Option<Scalar<'a>> {
        match self {
            Fast::Slow => None,
            Fast::Literal(l) => Some(l.scalar()),
            Fast::Path(root, fields) => read(facts, *root, fields),
            Fast::Has(root, fields) => has(facts, *root, fields).map(Scalar::Bool),
            Fast::Compare(op, a, b) => {
                let (a, b) = (a.evaluate(facts)?, b.evaluate(facts)?);
                let holds = match op {
                    Compare::Eq => equals(a, b),
                    Compare::Ne => !equals(a, b),
                    Compare::Lt => order(a, b)? == Ordering::Less,
                    Compare::Le => order(a, b)? != Ordering::Greater,
                    Compare::Gt => order(a, b)? == Ordering::Greater,
                    Compare::Ge => order(a, b)? != Ordering::Less,
                };
                Some(Scalar::Bool(holds))
            }
            Fast::In(a, items) => {
                let a = a.evaluate(facts)?;
                Some(Scalar::Bool(items.iter().any(|l| equals(l.scalar(), a))))
            }
            // The `cel` crate: `false && x` is false without `x`; otherwise `x` is evaluated,
            // and `x` false makes the whole false whatever the left gave, error included.
            Fast::And(a, b) => match a.evaluate(facts) {
                Some(Scalar::Bool(false)) => Some(Scalar::Bool(false)),
                Some(Scalar::Bool(true)) => match b.evaluate(facts)? {
                    Scalar::Bool(b) => Some(Scalar::Bool(b)),
                    _ => None,
                },
                _ => match b.evaluate(facts)? {
                    Scalar::Bool(false) => Some(Scalar::Bool(false)),
                    _ => None,
                },
            },
            Fast::Or(a, b) => match a.evaluate(facts) {
                Some(Scalar::Bool(true)) => Some(Scalar::Bool(true)),
                Some(Scalar::Bool(false)) => match b.evaluate(facts)? {
                    Scalar::Bool(b) => Some(Scalar::Bool(b)),
                    _ => None,
                },
                _ => match b.evaluate(facts)? {
                    Scalar::Bool(true) => Some(Scalar::Bool(true)),
                    _ => None,
                },
            },
            Fast::Not(a) => match a.evaluate(facts)? {
                Scalar::Bool(b) => Some(Scalar::Bool(!b)),
                _ => None,
            },
            Fast::Text(t, s, arg) => {
                let (Scalar::Str(s), Scalar::Str(arg)) = (s.evaluate(facts)?, arg.evaluate(facts)?)
                else {
                    return None;
                };
                Some(Scalar::Bool(match t {
                    Text::StartsWith => s.starts_with(arg),
                    Text::EndsWith => s.ends_with(arg),
                    Text::Contains => s.contains(arg),
                }))
            }
        }
    }
}

/// `root.a.b` or `root["a"]["b"]` (mixed too): the root and the fields, outermost first.
fn path(node: &IdedExpr) -> Option<(Root, Vec<Box<str>>)> {
    let mut fields = Vec::new();
    let mut at = node;
    loop {
        match &at.expr {
            Node::Select(s) => {
                // Only the outermost select may be a `has()` test.
                if s.test && !fields.is_empty() {
                    return None;
                }
                fields.push(s.field.as_str().into());
                at = &s.operand;
            }
            Node::Call(c) if c.func_name == "_[_]" && c.target.is_none() => {
                let [operand, key] = c.args.as_slice() else {
                    return None;
                };
                let Node::Literal(LiteralValue::String(k)) = &key.expr else {
                    return None;
                };
                fields.push(k.inner().into());
                at = operand;
            }
            Node::Ident(name) => {
                let root = match name.as_str() {
                    "event" => Root::Event,
                    "customer" => Root::Customer,
                    "progress" => Root::Progress,
                    _ => return None,
                };
                fields.reverse();
                return (!fields.is_empty()).then_some((root, fields));
            }
            _ => return None,
        }
    }
}

fn literal_list(node: &IdedExpr) -> Option<Vec<Literal>> {
    let Node::List(list) = &node.expr else {
        return None;
    };
    if !list.optional_indices.is_empty() {
        return None;
    }
    list.elements
        .iter()
        .map(|e| match &e.expr {
            Node::Literal(l) => Literal::from_ast(l),
            _ => None,
        })
        .collect()
}

fn compare_op(name: &str) -> Option<Compare> {
    Some(match name {
        "_==_" => Compare::Eq,
        "_!=_" => Compare::Ne,
        "_<_" => Compare::Lt,
        "_<=_" => Compare::Le,
        "_>_" => Compare::Gt,
        "_>=_" => Compare::Ge,
        _ => return None,
    })
}

fn text_op(name: &str) -> Option<Text> {
    Some(match name {
        "startsWith" => Text::StartsWith,
        "endsWith" => Text::EndsWith,
        "contains" => Text::Contains,
        _ => return None,
    })
}

/// A top-level field: the event's own fields shadow its attributes, as in the bindings.
enum Top<'a> {
    Scalar(Scalar<'a>),
    Json(&'a Json),
}

fn top<'a>(facts: &Facts<'a>, root: Root, field: &str) -> Option<Top<'a>> {
    match root {
        Root::Event => {
            let event = facts.event?;
            Some(match field {
                "id" => Top::Scalar(Scalar::Str(&event.id)),
                "type" => Top::Scalar(Scalar::Str(&event.kind)),
                "customer_id" => Top::Scalar(Scalar::Str(&event.customer_id)),
                // A timestamp: left to the interpreter.
                "occurred_at" => return None,
                _ => Top::Json(event.attributes.get(field)?),
            })
        }
        Root::Customer => Some(match field {
            "id" => Top::Scalar(Scalar::Str(facts.customer_id)),
            _ => Top::Json(facts.profile?.attributes.get(field)?),
        }),
        Root::Progress => {
            let p = facts.progress;
            let int = |n: u64| Scalar::Int(i64::try_from(n).unwrap_or(i64::MAX));
            Some(Top::Scalar(match field {
                "count" => int(p.count),
                "sum" => Scalar::Double(p.sum),
                "distinct" => int(p.distinct),
                "streak" => int(p.streak),
                "step" => int(p.step),
                "cycle" => Scalar::Int(i64::from(p.cycle)),
                _ => return None,
            }))
        }
    }
}

/// The JSON at `fields` (after the first) below a top-level value.
fn descend<'a>(mut at: &'a Json, fields: &[Box<str>]) -> Option<&'a Json> {
    for f in fields {
        at = at.as_object()?.get(&**f)?;
    }
    Some(at)
}

fn read<'a>(facts: &Facts<'a>, root: Root, fields: &[Box<str>]) -> Option<Scalar<'a>> {
    let (first, rest) = fields.split_first()?;
    match top(facts, root, first)? {
        Top::Scalar(s) if rest.is_empty() => Some(s),
        Top::Scalar(_) => None,
        Top::Json(j) => json_scalar(descend(j, rest)?),
    }
}

fn has(facts: &Facts<'_>, root: Root, fields: &[Box<str>]) -> Option<bool> {
    let (last, parents) = fields.split_last()?;
    let Some((first, between)) = parents.split_first() else {
        // `has(root.f)`: the root variables are maps with known keys.
        return Some(match root {
            Root::Event => {
                let event = facts.event?;
                matches!(&**last, "id" | "type" | "customer_id" | "occurred_at")
                    || event.attributes.contains_key(&**last)
            }
            Root::Customer => {
                &**last == "id"
                    || facts
                        .profile
                        .is_some_and(|p| p.attributes.contains_key(&**last))
            }
            Root::Progress => matches!(
                &**last,
                "count" | "sum" | "distinct" | "streak" | "step" | "cycle"
            ),
        });
    };
    let Top::Json(j) = top(facts, root, first)? else {
        return None;
    };
    Some(descend(j, between)?.as_object()?.contains_key(&**last))
}

/// JSON as the bindings convert it: integers that fit `int` are ints, other numbers doubles.
fn json_scalar(value: &Json) -> Option<Scalar<'_>> {
    Some(match value {
        Json::Null => Scalar::Null,
        Json::Bool(b) => Scalar::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Scalar::Int(i),
            None => Scalar::Double(n.as_f64()?),
        },
        Json::String(s) => Scalar::Str(s),
        Json::Array(_) | Json::Object(_) => return None,
    })
}

/// CEL equality as the `cel` crate has it: numbers compare across int, uint and double (`NaN`
/// equals nothing), other kinds only with their own kind.
fn equals(a: Scalar<'_>, b: Scalar<'_>) -> bool {
    match (a, b) {
        (Scalar::Null, Scalar::Null) => true,
        (Scalar::Bool(x), Scalar::Bool(y)) => x == y,
        (Scalar::Str(x), Scalar::Str(y)) => x == y,
        _ => numeric_order(a, b) == Some(Ordering::Equal),
    }
}

/// CEL ordering: numbers across kinds, strings by bytes; `None` where the interpreter fails.
fn order(a: Scalar<'_>, b: Scalar<'_>) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Str(x), Scalar::Str(y)) => Some(x.cmp(y)),
        _ => numeric_order(a, b),
    }
}

fn numeric_order(a: Scalar<'_>, b: Scalar<'_>) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => Some(x.cmp(&y)),
        (Scalar::UInt(x), Scalar::UInt(y)) => Some(x.cmp(&y)),
        (Scalar::Int(x), Scalar::UInt(y)) => {
            Some(u64::try_from(x).map_or(Ordering::Less, |x| x.cmp(&y)))
        }
        (Scalar::UInt(x), Scalar::Int(y)) => {
            Some(i64::try_from(x).map_or(Ordering::Greater, |x| x.cmp(&y)))
        }
        (Scalar::Double(x), Scalar::Double(y)) => x.partial_cmp(&y),
        (Scalar::Int(x), Scalar::Double(y)) => (x as f64).partial_cmp(&y),
        (Scalar::Double(x), Scalar::Int(y)) => x.partial_cmp(&(y as f64)),
        (Scalar::UInt(x), Scalar::Double(y)) => (x as f64).partial_cmp(&y),
        (Scalar::Double(x), Scalar::UInt(y)) => x.partial_cmp(&(y as f64)),
        _ => None,
    }
}
