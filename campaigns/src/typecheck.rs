//! Type checks when a campaign is written: what fails for every event is a diagnostic, with its
//! position, instead of an error counted on every event once the campaign runs.
//!
//! CEL types most of an expression only at run time (`event.amount` is whatever the event
//! holds), so the checks follow what is known without an event: literals, the reserved event
//! fields (`event.type` is a string, `event.occurred_at` a timestamp), `customer.id`, the
//! fields of `progress`, `now`, and what calls of those give. Nothing is decided from a type
//! table of its own: a call whose operand types are all known is *probed*, called by the
//! interpreter on stand-in values of those types, and refused only when the interpreter finds
//! no overload for them; a part of the expression made of literals only is evaluated (with the
//! evaluation's budget), and refused when it fails, which is how a constant regular expression
//! that does not compile is found. So the checks are exactly CEL's, and an expression is never
//! refused for a type only an event could tell.
//!
//! A part that fails for every event is refused even where `||` or `&&` could absorb its error
//! for some events: `event.vip || "x".matches("(")` is true for a VIP, but its right side is a
//! mistake all the same.

use crate::budget;
use crate::diagnostic::Position;
use crate::expr::{ENV, ExprError};
use cel::common::ast::{
    CallExpr, EntryExpr, Expr as Node, IdedExpr, ListExpr, LiteralValue, MapEntryExpr, MapExpr,
};
use cel::{Context, ExecutionError, Value};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What is known of a value's type without an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Bool,
    Null,
    List,
    Map,
    Timestamp,
    Duration,
    Type,
}

impl Type {
    /// How a diagnostic names the type.
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "int",
            Type::Uint => "uint",
            Type::Double => "double",
            Type::String => "string",
            Type::Bytes => "bytes",
            Type::Bool => "bool",
            Type::Null => "null",
            Type::List => "list",
            Type::Map => "map",
            Type::Timestamp => "timestamp",
            Type::Duration => "duration",
            Type::Type => "type",
        }
    }

    /// The name with its article: "an int", "a string".
    pub fn with_article(self) -> String {
        let article = if self == Type::Int { "an" } else { "a" };
        format!("{article} {}", self.name())
    }

    /// Whether the type is a number (`int`, `uint` or `double`).
    pub fn is_number(self) -> bool {
        matches!(self, Type::Int | Type::Uint | Type::Double)
    }

    fn of(value: &Value) -> Option<Type> {
        Some(match value {
            Value::Int(_) => Type::Int,
            Value::UInt(_) => Type::Uint,
            Value::Float(_) => Type::Double,
            Value::String(_) => Type::String,
            Value::Bytes(_) => Type::Bytes,
            Value::Bool(_) => Type::Bool,
            Value::Null => Type::Null,
            Value::List(_) => Type::List,
            Value::Map(_) => Type::Map,
            Value::Timestamp(_) => Type::Timestamp,
            Value::Duration(_) => Type::Duration,
            _ => return None,
        })
    }

    /// A value of this type, for a probe.
    fn stand_in(self) -> IdedExpr {
        let node = |expr| IdedExpr { id: 0, expr };
        let literal = |l| node(Node::Literal(l));
        let call = |f: &str, arg: &str| {
            node(Node::Call(CallExpr {
                func_name: f.to_owned(),
                target: None,
                args: vec![literal(LiteralValue::String(arg.to_owned().into()))],
            }))
        };
        match self {
            Type::Int => literal(LiteralValue::Int(1.into())),
            Type::Uint => literal(LiteralValue::UInt(1.into())),
            Type::Double => literal(LiteralValue::Double(1.0.into())),
            Type::String => literal(LiteralValue::String("a".to_owned().into())),
            Type::Bytes => literal(LiteralValue::Bytes(vec![b'a'].into())),
            Type::Bool => literal(LiteralValue::Boolean(true.into())),
            Type::Null => literal(LiteralValue::Null),
            Type::List => node(Node::List(ListExpr::new(Vec::new()))),
            Type::Map => node(Node::Map(MapExpr {
                entries: Vec::new(),
            })),
            Type::Timestamp => call("timestamp", "2026-01-01T00:00:00Z"),
            Type::Duration => call("duration", "1s"),
            Type::Type => node(Node::Ident("int".to_owned())),
        }
    }
}

/// What the checks learned about a node.
#[derive(Debug, Clone, Copy)]
struct Info {
    /// Its type, when known without an event.
    ty: Option<Type>,
    /// Whether it is made of literals only (so its value is known too).
    constant: bool,
    /// Whether an error was reported inside it (its parents are then not checked again).
    failed: bool,
}

impl Info {
    const UNKNOWN: Info = Info {
        ty: None,
        constant: false,
        failed: false,
    };
}

/// Checks `tree`; `position` places a node. Returns the expression's type when it is known.
pub(crate) fn check(
    tree: &IdedExpr,
    position: impl Fn(u64) -> Position,
) -> Result<Option<Type>, Vec<ExprError>> {
    let mut checker = Checker {
        errors: Vec::new(),
        position: &position,
        bound: Vec::new(),
    };
    let info = checker.node(tree);
    if checker.errors.is_empty() {
        Ok(info.ty)
    } else {
        checker
            .errors
            .sort_by_key(|e| (e.position.line, e.position.column));
        Err(checker.errors)
    }
}

struct Checker<'a> {
    errors: Vec<ExprError>,
    position: &'a dyn Fn(u64) -> Position,
    /// Names bound by enclosing comprehensions, innermost last, with their types if known.
    bound: Vec<(String, Option<Type>)>,
}

/// The type of a `progress` field.
fn progress_field(field: &str) -> Option<Type> {
    match field {
        "sum" => Some(Type::Double),
        "count" | "distinct" | "streak" | "step" | "cycle" => Some(Type::Int),
        _ => None,
    }
}

impl Checker<'_> {
    fn error(&mut self, id: u64, message: String) -> Info {
        self.errors.push(ExprError {
            message,
            position: (self.position)(id),
        });
        Info {
            ty: None,
            constant: false,
            failed: true,
        }
    }

    /// Recursion follows the tree, whose depth validation bounds (`expr::MAX_TREE_DEPTH`).
    fn node(&mut self, node: &IdedExpr) -> Info {
        match &node.expr {
            Node::Literal(l) => Info {
                ty: literal_type(l),
                constant: true,
                failed: false,
            },
            Node::Ident(name) => {
                if let Some((_, ty)) = self.bound.iter().rev().find(|(n, _)| n == name) {
                    return Info {
                        ty: *ty,
                        ..Info::UNKNOWN
                    };
                }
                let ty = match name.as_str() {
                    "now" => Some(Type::Timestamp),
                    "event" | "customer" | "progress" => Some(Type::Map),
                    _ => None,
                };
                Info {
                    ty,
                    ..Info::UNKNOWN
                }
            }
            Node::Select(s) => {
                let operand = self.node(&s.operand);
                if operand.failed {
                    return operand;
                }
                if s.test {
                    return Info {
                        ty: Some(Type::Bool),
                        ..Info::UNKNOWN
                    };
                }
                let root = match &s.operand.expr {
                    Node::Ident(name) if !self.bound.iter().any(|(n, _)| n == name) => {
                        Some(name.as_str())
                    }
                    _ => None,
                };
                let ty = match (root, s.field.as_str()) {
                    (Some("event"), "id" | "type" | "customer_id") => Some(Type::String),
                    (Some("event"), "occurred_at") => Some(Type::Timestamp),
                    (Some("customer"), "id") => Some(Type::String),
                    (Some("progress"), field) => match progress_field(field) {
                        Some(ty) => Some(ty),
                        None => {
                            let message = format!(
                                "`progress` has no field `{field}`: it has count, sum, distinct, streak, step and cycle"
                            );
                            return self.error(node.id, message);
                        }
                    },
                    _ => None,
                };
                if operand.constant {
                    return self.constant(node);
                }
                Info {
                    ty,
                    ..Info::UNKNOWN
                }
            }
            Node::List(list) => {
                let items: Vec<Info> = list.elements.iter().map(|e| self.node(e)).collect();
                self.composite(node, Type::List, &items)
            }
            Node::Map(map) => {
                let mut items = Vec::new();
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(MapEntryExpr { key, value, .. }) = &entry.expr {
                        items.push(self.node(key));
                        items.push(self.node(value));
                    }
                }
                self.composite(node, Type::Map, &items)
            }
            Node::Comprehension(c) => {
                let range = self.node(&c.iter_range);
                let init = self.node(&c.accu_init);
                if range.failed || init.failed {
                    return Info {
                        failed: true,
                        ..Info::UNKNOWN
                    };
                }
                let depth = self.bound.len();
                self.bound.push((c.iter_var.clone(), None));
                if let Some(v) = &c.iter_var2 {
                    self.bound.push((v.clone(), None));
                }
                self.bound.push((c.accu_var.clone(), init.ty));
                let cond = self.node(&c.loop_cond);
                let step = self.node(&c.loop_step);
                let result = self.node(&c.result);
                self.bound.truncate(depth);
                Info {
                    ty: result.ty,
                    constant: false,
                    failed: cond.failed || step.failed || result.failed,
                }
            }
            Node::Call(call) => self.call(node, call),
            Node::Struct(_) | Node::Unspecified => Info::UNKNOWN,
        }
    }

    /// A list or map literal: constant when its parts are.
    fn composite(&mut self, node: &IdedExpr, ty: Type, items: &[Info]) -> Info {
        if items.iter().any(|i| i.failed) {
            return Info {
                failed: true,
                ..Info::UNKNOWN
            };
        }
        let info = Info {
            ty: Some(ty),
            constant: items.iter().all(|i| i.constant),
            failed: false,
        };
        if info.constant && !items.is_empty() {
            // A map literal may repeat a key, or use one of a kind maps do not take.
            return self.constant(node);
        }
        info
    }

    fn call(&mut self, node: &IdedExpr, call: &CallExpr) -> Info {
        let name = call.func_name.as_str();
        // A function of an extension's namespace (`math.abs(x)`): its target is no value.
        let bound = |t: &IdedExpr| matches!(&t.expr, Node::Ident(n) if self.bound.iter().any(|(b, _)| b == n));
        let qualified =
            crate::budget::namespaced(call).filter(|_| !call.target.as_deref().is_some_and(bound));
        let target = match (&call.target, &qualified) {
            (Some(t), None) => Some(self.node(t)),
            _ => None,
        };
        let args: Vec<Info> = call.args.iter().map(|a| self.node(a)).collect();
        if target.iter().chain(&args).any(|i| i.failed) {
            return Info {
                failed: true,
                ..Info::UNKNOWN
            };
        }
        let all = || target.iter().chain(&args);
        let constant = all().all(|i| i.constant);
        match name {
            // `&&` and `||` absorb an error, and a non-bool operand, from their other side.
            "_&&_" | "_||_" => {
                return Info {
                    ty: Some(Type::Bool),
                    ..Info::UNKNOWN
                };
            }
            "_==_" | "_!=_" => {
                if let (Some(a), Some(b)) = (args[0].ty, args[1].ty)
                    && a != b
                    && !(a.is_number() && b.is_number())
                {
                    let always = if name == "_==_" { "false" } else { "true" };
                    let op = if name == "_==_" { "==" } else { "!=" };
                    let message = format!(
                        "`{op}` compares {} with {}, which is always {always}",
                        a.with_article(),
                        b.with_article()
                    );
                    return self.error(node.id, message);
                }
            }
            "_?_:_" => {
                let (cond, a, b) = (args[0], args[1], args[2]);
                if let Some(ty) = cond.ty
                    && ty != Type::Bool
                {
                    let message = format!(
                        "the condition of `? :` must be a bool, but this is always {}",
                        ty.with_article()
                    );
                    return self.error(call.args[0].id, message);
                }
                if !constant {
                    let ty = if a.ty == b.ty { a.ty } else { None };
                    return Info {
                        ty,
                        ..Info::UNKNOWN
                    };
                }
            }
            _ => {}
        }
        if name == "matches"
            && let Some(pattern) = call.args.last()
            && matches!(pattern.expr, Node::Literal(LiteralValue::String(_)))
            && let Err(message) = evaluate(&matches_nothing(pattern))
        {
            return self.error(pattern.id, message);
        }
        let types: Option<Vec<Type>> = all().map(|i| i.ty).collect();
        let member = target.is_some();
        let function = qualified.as_deref().unwrap_or(name);
        let probed = match &types {
            Some(types) if name != "_?_:_" => probe(function, member, types),
            _ => Probe::Type(None),
        };
        match probed {
            Probe::Type(_) if constant => self.constant(node),
            Probe::Type(ty) => Info {
                ty: ty.or_else(|| result_type(function)),
                ..Info::UNKNOWN
            },
            Probe::Refused => {
                let types = types.unwrap_or_default();
                let names = |types: &[Type]| {
                    types
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let shown = display_name(function);
                let message = match types.split_first() {
                    Some((receiver, rest)) if member => format!(
                        "{shown} cannot be called on {} with ({}): this fails for every event",
                        receiver.with_article(),
                        names(rest)
                    ),
                    _ => format!(
                        "{shown} does not take ({}): this fails for every event",
                        names(&types)
                    ),
                };
                self.error(node.id, message)
            }
        }
    }

    /// A part made of literals only: evaluated now, as it will be for every event.
    fn constant(&mut self, node: &IdedExpr) -> Info {
        match evaluate(node) {
            Ok(value) => Info {
                ty: Type::of(&value),
                constant: true,
                failed: false,
            },
            Err(message) => self.error(node.id, format!("this fails for every event: {message}")),
        }
    }
}

/// The type a call of `function` gives whatever its operands, where that does not need them.
fn result_type(function: &str) -> Option<Type> {
    match function {
        "_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_" | "@in" | "!_" | "_&&_" | "_||_"
        | "contains" | "startsWith" | "endsWith" | "matches" => Some(Type::Bool),
        "size" => Some(Type::Int),
        _ => None,
    }
}

/// How a diagnostic names a function or operator.
fn display_name(function: &str) -> String {
    let operator = match function {
        "_+_" => "+",
        "_-_" | "-_" => "-",
        "_*_" => "*",
        "_/_" => "/",
        "_%_" => "%",
        "_<_" => "<",
        "_<=_" => "<=",
        "_>_" => ">",
        "_>=_" => ">=",
        "_[_]" => "[]",
        "!_" => "!",
        "@in" => "in",
        _ => return format!("`{function}`"),
    };
    format!("`{operator}`")
}

fn literal_type(l: &LiteralValue) -> Option<Type> {
    Some(match l {
        LiteralValue::Int(_) => Type::Int,
        LiteralValue::UInt(_) => Type::Uint,
        LiteralValue::Double(_) => Type::Double,
        LiteralValue::String(_) => Type::String,
        LiteralValue::Bytes(_) => Type::Bytes,
        LiteralValue::Boolean(_) => Type::Bool,
        LiteralValue::Null => Type::Null,
    })
}

enum Probe {
    /// The call is possible; its result's type when the stand-ins tell it.
    Type(Option<Type>),
    /// No overload takes these types.
    Refused,
}

/// Calls `function` on stand-in values of `types` (the receiver first, for a member call).
fn probe(function: &str, member: bool, types: &[Type]) -> Probe {
    let mut values: Vec<IdedExpr> = types.iter().map(|t| t.stand_in()).collect();
    let target = if member {
        Some(Box::new(values.remove(0)))
    } else {
        None
    };
    let call = IdedExpr {
        id: 0,
        expr: Node::Call(CallExpr {
            func_name: function.to_owned(),
            target,
            args: values,
        }),
    };
    let context = Context::with_env(ENV.clone());
    match catch_unwind(AssertUnwindSafe(|| Value::resolve(&call, &context))) {
        Ok(Ok(value)) => Probe::Type(Type::of(&value)),
        Ok(Err(
            ExecutionError::NoSuchOverload(..)
            | ExecutionError::UnexpectedType { .. }
            | ExecutionError::ValuesNotComparable(..)
            | ExecutionError::UnsupportedBinaryOperator(..)
            | ExecutionError::UnsupportedIndex(..)
            | ExecutionError::UnsupportedTargetType { .. }
            | ExecutionError::NotSupportedAsMethod { .. },
        )) => Probe::Refused,
        // Another error is about the stand-in values, not their types (`1 / 1` is fine,
        // `"a".charAt(1)` is not): nothing is known.
        _ => Probe::Type(None),
    }
}

/// `"".matches(pattern)`: compiles `pattern` as every evaluation will.
fn matches_nothing(pattern: &IdedExpr) -> IdedExpr {
    let empty = IdedExpr {
        id: 0,
        expr: Node::Literal(LiteralValue::String(String::new().into())),
    };
    IdedExpr {
        id: 0,
        expr: Node::Call(CallExpr {
            func_name: "matches".to_owned(),
            target: Some(Box::new(empty)),
            args: vec![pattern.clone()],
        }),
    }
}

/// Evaluates a part made of literals, with the evaluation's budget.
fn evaluate(node: &IdedExpr) -> Result<Value, String> {
    let context = Context::with_env(ENV.clone());
    let run = || match budget::budgeted(node) {
        Some(tree) => {
            budget::start();
            let result = budget::resolve(&tree, &context);
            budget::finish();
            result
        }
        None => Value::resolve(node, &context),
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(budget::message(&e)),
        Err(_) => Err("the CEL interpreter panicked".to_owned()),
    }
}
