//! Safe CEL: every expression is bounded before it is parsed, parsed where a deep tree cannot
//! overflow a stack, checked for depth and for the variables it may use, and evaluated with
//! panics turned into errors.
//!
//! The bounds, in order: at most [`MAX_EXPR_BYTES`] of text and [`MAX_NESTING`] levels of
//! brackets (counted by a scan that allocates nothing), then parsing on a thread with a
//! [`PARSE_STACK_BYTES`] stack, then a parsed tree at most [`MAX_TREE_DEPTH`] deep, walked with
//! a heap stack. Evaluation recurses over the tree, so its depth bound is what keeps it within
//! a thread's stack in debug and release builds alike.
//!
//! Work and memory are bounded too (see `campaigns/src/budget.rs`): at compile time, every
//! comprehension's range and every step that builds a value (`+`, literals, `map`, `filter`,
//! `string()`, `matches`...) is routed through an internal function that charges it, before it
//! runs, to a per-evaluation budget of [`MAX_COMPREHENSION_STEPS`] iterations and
//! [`MAX_EVAL_BYTES`] bytes. Seven nested `map`s over ten elements fail after 100,000
//! iterations instead of running ten million; four copies of a 60,000-character string in two
//! nested `map`s over 200 elements fail after 16 MiB instead of building gigabytes.

use crate::budget;
use crate::diagnostic::Position;
use crate::fast::{Facts, Fast, Scalar};
use crate::typecheck::Type;
use cel::common::ast::SourceInfo;
use cel::common::ast::{EntryExpr, Expr as Node, IdedExpr, LiteralValue};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Env, Value};
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};

/// The longest expression accepted, in bytes.
pub const MAX_EXPR_BYTES: usize = 4096;
/// The deepest bracket nesting accepted (parentheses, lists, maps, calls).
pub const MAX_NESTING: usize = 32;
/// The deepest parsed tree accepted (a `+` chain of n terms is n - 1 deep).
pub const MAX_TREE_DEPTH: usize = 40;

// The fast path compiles every tree validation allows.
const _: () = assert!(crate::fast::MAX_DEPTH == MAX_TREE_DEPTH);
/// The stack the parser runs on: room for the bounded input, with a wide margin.
pub const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Type names CEL lets an expression mention (`type(event.qty) == int`).
const TYPE_NAMES: [&str; 10] = [
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
];

pub use crate::budget::{
    MAX_COMPREHENSION_STEPS, MAX_ERROR_BYTES, MAX_EVAL_BYTES, MAX_REGEX_BYTES, REGEX_BYTE_CHARGE,
    REGEX_CHARGE,
};

/// The environment: CEL's standard library without the optional syntax (see
/// `campaigns/src/budget.rs`), the strings and math extensions, and the budget's internal
/// functions.
pub(crate) static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib().with_optional_support(false);
    let registered = env
        .add_extension(cel::extensions::strings)
        .and_then(|()| env.add_extension(cel::extensions::math))
        .and_then(|()| budget::register(&mut env));
    if let Err(e) = registered {
        unreachable!(
            "a fresh standard environment takes the extensions and the budget's functions: {e:?}"
        );
    }
    Arc::new(env)
});

/// Which variables an expression may use (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `customer` and `now`: an audience is decided before any event is looked at.
    Audience,
    /// `event`, `customer`, `progress` and `now`.
    Event,
}

impl Scope {
    fn variables(self) -> &'static [&'static str] {
        match self {
            Scope::Audience => &["customer", "now"],
            Scope::Event => &["event", "customer", "progress", "now"],
        }
    }
}

/// A problem with an expression, at a position inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// What is wrong.
    pub message: String,
    /// Where, inside the expression.
    pub position: Position,
}

impl ExprError {
    fn at(position: Position, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            position,
        }
    }
}

/// A compiled expression: immutable, shareable, evaluated any number of times.
#[derive(Debug, Clone)]
pub struct Expr {
    source: Arc<str>,
    tree: Arc<IdedExpr>,
    /// The tree with its work and memory bounded (see `campaigns/src/budget.rs`), when it builds
    /// anything.
    bounded: Option<Arc<IdedExpr>>,
    /// The type of the expression's value, when it is known without an event.
    ty: Option<Type>,
    /// The surface variables the expression mentions; only those are bound to evaluate it.
    uses: Vec<&'static str>,
    /// The fast path, when some of the expression is covered by it.
    fast: Option<Arc<Fast>>,
}

impl Expr {
    /// Compiles `source` for `scope`, or says everything that is wrong with it.
    pub fn compile(source: &str, scope: Scope) -> Result<Expr, Vec<ExprError>> {
        check_bounds(source)?;
        let parsed = parse(source)?;
        let uses = check_tree(&parsed, source, scope)?;
        let ty = crate::typecheck::check(&parsed.tree, |id| parsed.position(source, id))?;
        Ok(Expr {
            ty,
            source: source.into(),
            bounded: budget::budgeted(&parsed.tree).map(Arc::new),
            fast: Fast::compile(&parsed.tree).map(Arc::new),
            tree: Arc::new(parsed.tree),
            uses,
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression mentions surface variable `name` (`event`, `progress`...).
    pub fn uses(&self, name: &str) -> bool {
        self.uses.contains(&name)
    }

    /// The parsed tree.
    pub fn tree(&self) -> &IdedExpr {
        &self.tree
    }

    /// The type of the expression's value, when it is the same for every event (`event.type`
    /// is a string, `size(x) > 2` a bool; `event.amount` is not known).
    pub fn value_type(&self) -> Option<Type> {
        self.ty
    }

    /// The literal this expression is, if it is one (`3`, `"x"`, `true`).
    pub fn literal(&self) -> Option<&LiteralValue> {
        match &self.tree().expr {
            Node::Literal(l) => Some(l),
            _ => None,
        }
    }

    /// The value by the fast path, when it is certain (see [`crate::fast`]); `None` means the
    /// interpreter must decide.
    pub(crate) fn fast<'a>(&'a self, facts: &Facts<'a>) -> Option<Scalar<'a>> {
        self.fast.as_deref()?.evaluate(facts)
    }

    /// Whether the fast path covers any of the expression.
    pub fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// Evaluates with the given variables; a runtime error or panic becomes an error message.
    pub fn evaluate(&self, variables: &Variables<'_>) -> Result<Value, String> {
        let mut context = Context::with_env(ENV.clone());
        context.set_variable_resolver(variables);
        let run = || match &self.bounded {
            Some(tree) => {
                budget::start();
                let result = budget::resolve(tree, &context);
                budget::finish();
                result
            }
            None => Value::resolve(&self.tree, &context),
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(budget::message(&e)),
            Err(_) => {
                Err("the expression failed unexpectedly (the CEL interpreter panicked)".into())
            }
        }
    }
}

/// Variables bound by reference for one evaluation: nothing is copied or converted, so one
/// event's values serve every campaign evaluated for it.
#[derive(Debug, Default)]
pub struct Variables<'a> {
    /// The four surface variables at most: a fixed array, no allocation per evaluation.
    entries: [Option<(&'static str, &'a dyn Val)>; 4],
}

impl<'a> Variables<'a> {
    /// Binds `name` to `value` (a fifth variable is ignored: the surface has four).
    pub fn with(mut self, name: &'static str, value: &'a dyn Val) -> Self {
        if let Some(free) = self.entries.iter_mut().find(|e| e.is_none()) {
            *free = Some((name, value));
        }
        self
    }
}

impl VariableResolver for Variables<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        self.entries
            .iter()
            .flatten()
            .find(|(name, _)| *name == variable)
            .map(|(_, value)| CowVal::Borrowed(*value))
    }
}

/// Length and bracket nesting, before the parser sees anything.
fn check_bounds(source: &str) -> Result<(), Vec<ExprError>> {
    let start = Position::new(1, 1);
    if source.trim().is_empty() {
        return Err(vec![ExprError::at(start, "the expression is empty")]);
    }
    if source.len() > MAX_EXPR_BYTES {
        let message = format!(
            "the expression is {} bytes long; the limit is {MAX_EXPR_BYTES}",
            source.len()
        );
        return Err(vec![ExprError::at(start, message)]);
    }
    let (mut line, mut column) = (1u32, 0u32);
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        column += 1;
        if c == '\n' {
            line += 1;
            column = 0;
        }
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            // Backticks quote a field name (`` event.`order-id` ``).
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    let message = format!("brackets nest deeper than {MAX_NESTING} levels");
                    return Err(vec![ExprError::at(Position::new(line, column), message)]);
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses on a thread with a large stack, turning parser panics into errors.
fn parse(source: &str) -> Result<Parsed, Vec<ExprError>> {
    let owned = source.to_owned();
    let parsed = std::thread::Builder::new()
        .name("cel-parse".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(move || {
            catch_unwind(|| {
                ENV.parser()
                    .enable_ident_escape_syntax(true)
                    .parse_with_source_info(&owned)
                    .map(|(tree, info)| Parsed { tree, info })
                    .map_err(|e| parse_errors(&e))
            })
        })
        .map_err(|e| {
            vec![ExprError::at(
                Position::new(1, 1),
                format!("could not start the parser: {e}"),
            )]
        })?
        .join();
    match parsed {
        Ok(Ok(result)) => result,
        Ok(Err(_)) | Err(_) => Err(vec![ExprError::at(
            Position::new(1, 1),
            "the expression could not be parsed (the CEL parser panicked)",
        )]),
    }
}

fn parse_errors(errors: &cel::ParseErrors) -> Vec<ExprError> {
    let mut out: Vec<ExprError> = Vec::new();
    for e in &errors.errors {
        let line = u32::try_from(e.pos.0).unwrap_or(1).max(1);
        let column = u32::try_from(e.pos.1).unwrap_or(0) + 1;
        let message = if e.msg.contains("input '<EOF>'") {
            "the expression ends too early: an operand or closing bracket is missing".to_owned()
        } else {
            e.msg.clone()
        };
        let error = ExprError::at(Position::new(line, column), message);
        if !out.contains(&error) {
            out.push(error);
        }
    }
    if out.is_empty() {
        out.push(ExprError::at(Position::new(1, 1), "syntax error"));
    }
    out
}

/// The macros CEL also defines with two variables (`m.all(k, v, k == v)`), which the `cel`
/// crate does not implement.
const TWO_VARIABLE_MACROS: [&str; 7] = [
    "all",
    "exists",
    "exists_one",
    "existsOne",
    "transformList",
    "transformMap",
    "transformMapEntry",
];

/// Whether `node` is a name a comprehension bound.
fn is_bound(node: &IdedExpr, bound: &[&str]) -> bool {
    matches!(&node.expr, Node::Ident(name) if bound.contains(&name.as_str()))
}

/// Whether the standard library declares `name` (as a member function when `member`): calling
/// it with no arguments fails on its overloads, not on an undeclared name.
fn is_function(name: &str, member: bool) -> bool {
    // `strings.quote`: a namespace's function is called by its qualified name.
    let valid = name.split('.').all(|part| {
        part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    }) && (!member || !name.contains('.'));
    if !valid {
        return false;
    }
    let probe = if member {
        format!("1.{name}()")
    } else {
        format!("{name}()")
    };
    let Ok(program) = ENV.compile(&probe) else {
        return false;
    };
    let context = Context::with_env(ENV.clone());
    !matches!(
        catch_unwind(AssertUnwindSafe(|| program.execute(&context))),
        Ok(Err(cel::ExecutionError::UndeclaredReference(_)))
    )
}

/// A parsed expression, with where each of its nodes was written.
struct Parsed {
    tree: IdedExpr,
    info: SourceInfo,
}

impl Parsed {
    /// Where node `id` was written, from the parser's source offsets.
    fn position(&self, source: &str, id: u64) -> Position {
        position_in(&self.info, source, id)
    }
}

fn position_in(info: &SourceInfo, source: &str, id: u64) -> Position {
    let Some((start, _)) = info.offset_for(id) else {
        return Position::new(1, 1);
    };
    // Offsets count characters.
    let (mut line, mut column) = (1u32, 1u32);
    for c in source.chars().take(start as usize) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    Position::new(line, column)
}

/// Checks the tree's depth and that it uses only the variables `scope` allows; returns the
/// surface variables it uses.
fn check_tree(
    parsed: &Parsed,
    source: &str,
    scope: Scope,
) -> Result<Vec<&'static str>, Vec<ExprError>> {
    let allowed = scope.variables();
    let mut uses: Vec<&'static str> = Vec::new();
    let mut errors = Vec::new();
    let mut reported = HashSet::new();
    // (node, depth, names bound by enclosing comprehensions)
    let mut stack: Vec<(&IdedExpr, usize, Vec<&str>)> = vec![(&parsed.tree, 1, Vec::new())];
    while let Some((node, depth, bound)) = stack.pop() {
        if depth > MAX_TREE_DEPTH {
            let message = format!(
                "the expression nests deeper than {MAX_TREE_DEPTH} levels; split it or simplify it"
            );
            return Err(vec![ExprError::at(
                parsed.position(source, node.id),
                message,
            )]);
        }
        let next = depth + 1;
        match &node.expr {
            Node::Ident(name) => {
                if let Some(v) = allowed.iter().find(|v| **v == name.as_str())
                    && !bound.contains(&name.as_str())
                    && !uses.contains(v)
                {
                    uses.push(v);
                }
                let known = allowed.contains(&name.as_str())
                    || bound.contains(&name.as_str())
                    || TYPE_NAMES.contains(&name.as_str())
                    || name.starts_with('@');
                if !known && reported.insert(name.clone()) {
                    let message = if Scope::Event.variables().contains(&name.as_str()) {
                        format!(
                            "`{name}` is not available here: an audience may use only customer and now"
                        )
                    } else {
                        format!(
                            "unknown variable `{name}`: expressions may use {}",
                            allowed.join(", ")
                        )
                    };
                    errors.push(ExprError::at(parsed.position(source, node.id), message));
                }
            }
            Node::Call(call) => {
                let name = call.func_name.as_str();
                // `strings.quote(s)`, `math.abs(x)`: the target names a namespace, not a value.
                let qualified = budget::namespaced(call)
                    .filter(|_| !call.target.as_deref().is_some_and(|t| is_bound(t, &bound)));
                // Operators, and what macros expand to (`math.@max`), cannot be written.
                let internal = name.starts_with(['_', '!', '-']) || name.contains('@');
                let known = internal
                    || match &qualified {
                        Some(function) => is_function(function, false),
                        None => is_function(name, call.target.is_some()),
                    };
                if !known && reported.insert(name.to_owned()) {
                    let shown = qualified.as_deref().unwrap_or(name);
                    let message = if TWO_VARIABLE_MACROS.contains(&name) && call.args.len() == 3 {
                        format!(
                            "`{name}` with two variables (`{name}(k, v, ...)`) is not supported: Offerflow's CEL has the one-variable macros all, exists, exists_one, map and filter"
                        )
                    } else {
                        format!("unknown function `{shown}`")
                    };
                    errors.push(ExprError::at(parsed.position(source, node.id), message));
                }
                if let Some(t) = call.target.as_deref().filter(|_| qualified.is_none()) {
                    stack.push((t, next, bound.clone()));
                }
                for a in &call.args {
                    stack.push((a, next, bound.clone()));
                }
            }
            Node::Comprehension(c) => {
                let mut inner = bound.clone();
                inner.push(&c.iter_var);
                if let Some(v) = &c.iter_var2 {
                    inner.push(v);
                }
                inner.push(&c.accu_var);
                stack.push((&c.iter_range, next, bound.clone()));
                stack.push((&c.accu_init, next, bound.clone()));
                stack.push((&c.loop_cond, next, inner.clone()));
                stack.push((&c.loop_step, next, inner.clone()));
                stack.push((&c.result, next, inner));
            }
            Node::List(l) => {
                for e in &l.elements {
                    stack.push((e, next, bound.clone()));
                }
            }
            Node::Map(m) => {
                for entry in &m.entries {
                    if let EntryExpr::MapEntry(e) = &entry.expr {
                        stack.push((&e.key, next, bound.clone()));
                        stack.push((&e.value, next, bound.clone()));
                    }
                }
            }
            Node::Struct(s) => {
                for entry in &s.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        stack.push((&f.value, next, bound.clone()));
                    }
                }
            }
            Node::Select(s) => stack.push((&s.operand, next, bound)),
            Node::Literal(_) | Node::Unspecified => {}
        }
    }
    if errors.is_empty() {
        Ok(uses)
    } else {
        errors.sort_by_key(|e| (e.position.line, e.position.column));
        Err(errors)
    }
}
