//! The fast path against the CEL interpreter, on random expressions over random events,
//! profiles and progress: wherever the fast path gives a value, it is the interpreter's, and
//! evaluation through [`Bindings`] (fast path first) always gives what the interpreter alone
//! gives, errors included.

use crate::compiled::Bindings;
use crate::event::{Customer, Event};
use crate::expr::{Expr, Scope};
use crate::progress::ProgressView;
use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift64*), so a failure names its case and reruns.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Values an attribute may take: every JSON kind, numbers at the edges of `int` and `uint`.
fn scalar_json(r: &mut Rng) -> Value {
    match r.below(12) {
        0 => json!(null),
        1 => json!(r.chance(50)),
        2 => json!(*r.pick(&[0i64, 1, 24, 25, 26, -3, i64::MAX, i64::MIN])),
        3 => json!(*r.pick(&[u64::MAX, 9_223_372_036_854_775_808u64])),
        4 => json!(*r.pick(&[24.5f64, 25.0, 25.5, -0.0, 1e300, 0.1])),
        5 => json!(*r.pick(&["gold", "silver", "", "t1", "golden", "old"])),
        6 => json!([1, "gold"]),
        7 => json!({"source": "app", "n": 3}),
        _ => json!(r.below(60) as i64),
    }
}

fn attributes(r: &mut Rng, keys: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for k in keys {
        if r.chance(80) {
            out.insert((*k).to_owned(), scalar_json(r));
        }
    }
    out
}

fn event(r: &mut Rng, i: usize) -> Event {
    let mut attributes = attributes(r, &["amount", "category", "tags", "meta", "flag"]);
    if r.chance(60) {
        let nested = json!({"source": r.pick(&["app", "web", "store"]), "n": scalar_json(r)});
        attributes.insert("meta".into(), nested);
    }
    Event {
        id: format!("e{i}"),
        customer_id: (*r.pick(&["c1", "gold", "c3"])).to_owned(),
        kind: (*r.pick(&["t1", "t2", "order.completed"])).to_owned(),
        occurred_at: chrono::DateTime::from_timestamp(1_790_000_000 + i as i64, 0)
            .unwrap_or_default(),
        attributes,
    }
}

fn profile(r: &mut Rng, id: &str) -> Option<Customer> {
    r.chance(75).then(|| Customer {
        id: id.to_owned(),
        attributes: attributes(r, &["tier", "age", "id", "meta"]),
    })
}

fn progress(r: &mut Rng) -> ProgressView {
    ProgressView {
        count: r.below(5) as u64,
        sum: *r.pick(&[0.0, 25.0, 24.5, f64::NAN]),
        distinct: r.below(4) as u64,
        streak: r.below(3) as u64,
        step: r.below(3) as u64,
        cycle: 1 + r.below(2) as u32,
    }
}

const PATHS: &[&str] = &[
    "event.type",
    "event.id",
    "event.customer_id",
    "event.amount",
    "event.category",
    "event.flag",
    "event.meta.source",
    "event.meta.n",
    "event[\"amount\"]",
    "event[\"meta\"][\"n\"]",
    "event.meta[\"source\"]",
    "event.`amount`",
    "event.meta.`source`",
    "event.missing",
    "event.tags",
    "event.occurred_at",
    "customer.tier",
    "customer.id",
    "customer.age",
    "customer.meta.source",
    "progress.count",
    "progress.sum",
    "progress.step",
    "progress.cycle",
    "progress.nope",
    "now",
];

const LITERALS: &[&str] = &[
    "25",
    "25u",
    "25.0",
    "24.5",
    "-3",
    "0",
    "\"gold\"",
    "\"t1\"",
    "\"app\"",
    "\"\"",
    "true",
    "false",
    "null",
    "18446744073709551615u",
    "9223372036854775807",
    "-9223372036854775808",
    "1e300",
];

/// Shapes the fast path does not cover, mixed in so `&&` and `||` meet uncovered operands.
const SLOW: &[&str] = &[
    "size(event.category) > 2",
    "event.amount + 1 > 3",
    "[1, 2].exists(x, x == event.amount)",
    "event.occurred_at > timestamp(\"2026-01-01T00:00:00Z\")",
    "(event.amount > 3 ? true : false)",
    "event.category.matches(\"^g\")",
    "int(event.amount) >= 25",
    // The extensions: left to the interpreter.
    "event.category.lowerAscii() == \"gold\"",
    "event.category.indexOf(\"ol\") >= 1",
    "event.category.split(\"l\").size() > 1",
    "\"%s!\".format([event.category]) == \"gold!\"",
    "event.category.replace(\"o\", \"\").trim() == \"gld\"",
    "math.greatest(event.amount, 3) > 10",
];

fn value(r: &mut Rng) -> String {
    if r.chance(55) {
        (*r.pick(PATHS)).to_owned()
    } else {
        (*r.pick(LITERALS)).to_owned()
    }
}

fn predicate(r: &mut Rng, depth: usize) -> String {
    let leaf = depth == 0 || r.chance(35);
    if leaf {
        return match r.below(9) {
            0..=3 => {
                let op = r.pick(&["==", "!=", "<", "<=", ">", ">="]);
                format!("{} {op} {}", value(r), value(r))
            }
            4 => {
                let items: Vec<String> = (0..r.below(4))
                    .map(|_| (*r.pick(LITERALS)).to_owned())
                    .collect();
                format!("{} in [{}]", value(r), items.join(", "))
            }
            5 => format!("has({})", r.pick(&PATHS[..PATHS.len() - 1])),
            6 => {
                let f = r.pick(&["startsWith", "endsWith", "contains"]);
                format!("{}.{f}({})", value(r), value(r))
            }
            7 => (*r.pick(SLOW)).to_owned(),
            _ => value(r),
        };
    }
    match r.below(3) {
        0 => format!(
            "({} && {})",
            predicate(r, depth - 1),
            predicate(r, depth - 1)
        ),
        1 => format!(
            "({} || {})",
            predicate(r, depth - 1),
            predicate(r, depth - 1)
        ),
        _ => format!("!({})", predicate(r, depth - 1)),
    }
}

/// The same value, `NaN` included (the same double bit for bit).
fn same(a: &cel::Value, b: &cel::Value) -> bool {
    match (a, b) {
        (cel::Value::Float(x), cel::Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

#[test]
fn the_fast_path_agrees_with_the_interpreter() {
    let mut r = Rng(0x5EED_CAFE_F00D_0001);
    let (mut cases, mut fast, mut inferred) = (0usize, 0usize, 0usize);
    // About 60% compile: the rest compare literals of different types (`"gold" == 25`) or
    // read a field `progress` does not have, which validation refuses.
    for i in 0..52_000 {
        let source = predicate(&mut r, 3);
        let Ok(expr) = Expr::compile(&source, Scope::Event) else {
            continue;
        };
        let event = event(&mut r, i);
        let profile = profile(&mut r, &event.customer_id);
        let progress = progress(&mut r);
        let bindings = Bindings::new(&event, profile.as_ref());
        let interpreted = bindings.interpret(&expr, progress, false);
        let evaluated = bindings.evaluate(&expr, progress, false);
        let quick = expr.fast(&bindings.facts(progress));
        let context = || {
            format!(
                "case {i}: `{source}`\nevent: {:?}\nprofile: {:?}\nprogress: {progress:?}\nfast: {quick:?}\ninterpreter: {interpreted:?}",
                event.attributes,
                profile.as_ref().map(|p| &p.attributes)
            )
        };
        cases += 1;
        if let Some(v) = quick {
            fast += 1;
            if interpreted.is_err() || SLOW.iter().any(|s| source.contains(s)) {
                inferred += 1;
            }
            let agree = matches!(&interpreted, Ok(w) if same(&v.to_cel(), w));
            assert!(agree, "{}", context());
        }
        match (&evaluated, &interpreted) {
            (Ok(a), Ok(b)) => assert!(same(a, b), "evaluated {a:?}\n{}", context()),
            // Both from the interpreter; its messages print maps in hash order, so only the
            // failure itself is compared.
            (Err(_), Err(_)) => {}
            _ => panic!("evaluated {evaluated:?}\n{}", context()),
        }
    }
    eprintln!(
        "{cases} expressions, {fast} decided by the fast path, {inferred} past uncovered operands or errors"
    );
    // The test means something only if it exercised the fast path broadly.
    assert!(cases > 30_000, "only {cases} expressions compiled");
    assert!(
        fast * 3 > cases,
        "the fast path decided only {fast} of {cases}"
    );
    assert!(
        inferred > 500,
        "only {inferred} decisions past uncovered operands"
    );
}

#[test]
fn audiences_outside_an_event_agree_too() {
    let mut r = Rng(0x5EED_CAFE_F00D_0002);
    let mut fast = 0;
    for i in 0..5_000 {
        let source = format!(
            "{} {} {}",
            r.pick(&[
                "customer.tier",
                "customer.age",
                "customer.id",
                "customer.meta.source"
            ]),
            r.pick(&["==", "!=", "<", ">="]),
            r.pick(LITERALS)
        );
        // A comparison across literal types (`customer.id != true`) is refused when written.
        let Ok(expr) = Expr::compile(&source, Scope::Audience) else {
            continue;
        };
        let profile = profile(&mut r, "c1");
        let now = chrono::DateTime::from_timestamp(1_790_000_000 + i, 0).unwrap_or_default();
        let bindings = Bindings::for_customer("c1", profile.as_ref(), now);
        let interpreted = bindings.interpret(&expr, ProgressView::default(), true);
        if let Some(v) = expr.fast(&bindings.facts(ProgressView::default())) {
            fast += 1;
            let agree = matches!(&interpreted, Ok(w) if same(&v.to_cel(), w));
            assert!(agree, "`{source}` on {profile:?}: {v:?} vs {interpreted:?}");
        }
    }
    assert!(fast > 1_000, "the fast path decided only {fast} audiences");
}

#[test]
fn common_campaign_conditions_take_the_fast_path() {
    for source in [
        r#"event.type == "order.completed" && event.amount >= 25 && customer.tier in ["gold", "silver"]"#,
        r#"event.type == "app.opened""#,
        r#"event.type in ["a", "b"] && has(event.coupon) && !event.coupon.startsWith("X")"#,
        "event.amount",
        "event.category",
        "progress.count >= 2 || event.amount > 100.5",
    ] {
        let expr = Expr::compile(source, Scope::Event).expect("compiles");
        assert!(expr.has_fast_path(), "{source}");
    }
    let uncovered =
        Expr::compile("event.items.exists(i, i.sku == \"x\")", Scope::Event).expect("compiles");
    assert!(!uncovered.has_fast_path());
}
