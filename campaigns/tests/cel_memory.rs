//! CEL that allocates (issue 13, item 3): the memory an evaluation builds is bounded, not only
//! its iterations. Each hostile expression fails quickly with the budget error, counted as an
//! evaluation error like any other.
//!
//! Memory is checked strictly: the global allocator is `cap`'s counting one, and while an
//! evaluation runs it refuses any allocation past [`PEAK_BOUND`] more than was held before, so
//! an evaluation that held more would abort this test binary. The tests take turns (one lock),
//! so nothing else allocates meanwhile. The peak resident memory (VmHWM, reset before each
//! evaluation) is printed beside it.

use campaigns::expr::{Expr, MAX_EVAL_BYTES, Scope, Variables};
use campaigns::{
    Bindings, CampaignSpec, CompiledCampaign, Customer, EvalError, Event, ProgressView,
};
use cap::Cap;
use serde_json::{Value, json};
use std::alloc::System;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Every test holds this for its whole run, so that measurements see only their own work.
fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A figure from /proc/self/status, in bytes.
fn status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Runs `f` allowed at most [`PEAK_BOUND`] bytes more than are held now (past that the
/// allocator refuses, and the process aborts), and returns its result with the growth of the
/// peak resident memory while it ran.
fn measure<T>(f: impl FnOnce() -> T) -> (T, u64) {
    measure_within(PEAK_BOUND, f)
}

/// [`measure`], allowed `bound` bytes.
fn measure_within<T>(bound: u64, f: impl FnOnce() -> T) -> (T, u64) {
    // Resets VmHWM to the current resident size (Linux 4.0 and later).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status("VmRSS");
    let limit = ALLOCATOR.allocated() + bound as usize;
    ALLOCATOR.set_limit(limit).unwrap();
    let out = f();
    ALLOCATOR.set_limit(usize::MAX).unwrap();
    (out, status("VmHWM").saturating_sub(before))
}

/// What any evaluation may hold at its peak: the budget, plus what it does not count (values of
/// fixed size not kept, the interpreter's scopes and argument lists), with a margin. The
/// issue's expression held gigabytes.
const PEAK_BOUND: u64 = MAX_EVAL_BYTES + (4 << 20);

/// How long a refusal may take, in a debug build on a busy machine.
const QUICK: Duration = Duration::from_secs(10);

fn event(attributes: Value) -> Event {
    Event::from_json(&json!({"id": "e", "customer_id": "c", "type": "t",
        "occurred_at": "2026-12-01T10:00:00Z", "attributes": attributes}))
    .unwrap()
}

/// The issue's event: a 60,000-character `s`, a 200-element `l`, 61 KB in all.
fn big_event() -> Event {
    big_event_with("x", "")
}

/// [`big_event`] with one more string attribute: a pattern reaches `matches` at run time only
/// from the event (a constant one that does not compile is refused when the campaign is
/// written).
fn big_event_with(key: &str, value: &str) -> Event {
    let l: Vec<u32> = (0..200).collect();
    let e = event(
        json!({"s": "x".repeat(60_000), "l": l, "b": "y".repeat(1000),
        "p": "x".repeat(200), key: value}),
    );
    assert!(serde_json::to_string(&e.attributes).unwrap().len() < 64 * 1024);
    e
}

fn compile(spec: Value) -> CompiledCampaign {
    CompiledCampaign::compile(CampaignSpec::from_value(&spec).unwrap()).unwrap()
}

/// A two-step sequence: step 0 builds the event's CEL values (once per event, not counted),
/// step 1 is `when`, measured.
fn sequence(when: &str) -> CompiledCampaign {
    compile(json!({"key": "k", "name": "n",
        "goal": {"kind": "sequence", "steps": [
            {"name": "warm", "when": "size(event) >= 0 && size(customer) >= 0"},
            {"name": "hostile", "when": when}]},
        "rewards": [{"kind": "points", "amount": 1}]}))
}

/// Evaluates `when` on `event`, timed and measured.
fn run(when: &str, event: &Event) -> (Result<bool, EvalError>, u64, Duration) {
    let campaign = sequence(when);
    let bindings = Bindings::new(event, None);
    let progress = ProgressView::default();
    assert_eq!(campaign.condition_holds(0, &bindings, progress), Ok(true));
    let started = Instant::now();
    let (result, peak) = measure(|| campaign.condition_holds(1, &bindings, progress));
    (result, peak, started.elapsed())
}

/// `when` fails with the memory budget's error, quickly, within [`PEAK_BOUND`].
fn refused(when: &str, event: &Event) -> EvalError {
    let (result, peak, took) = run(when, event);
    let error = result.expect_err(when);
    assert_eq!(error.path, "goal.steps[1].when");
    assert!(
        error
            .message
            .contains("evaluation exceeded its memory budget"),
        "{when}: {}",
        error.message
    );
    assert!(peak <= PEAK_BOUND, "{when}: held {peak} bytes");
    assert!(took < QUICK, "{when}: took {took:?}");
    println!("{when}: refused in {took:?} (resident growth {peak} bytes)");
    error
}

#[test]
fn the_issue_expression_is_refused_within_the_budget() {
    let _alone = alone();
    let e = big_event();
    let error = refused(
        "size(event.l.map(x, event.l.map(y, event.s + event.s + event.s + event.s))) > 0",
        &e,
    );
    assert!(error.message.contains("16 MiB"), "{}", error.message);
}

#[test]
fn string_concatenation_in_every_comprehension() {
    let _alone = alone();
    let e = big_event();
    for when in [
        "event.l.map(x, event.s + event.s).size() > 0",
        "size(event.l.filter(x, size(event.s + event.s + string(x)) > 0)) > 0",
        "event.l.exists(x, event.l.exists(y, event.s + event.s == \"\"))",
        "event.l.all(x, event.l.all(y, size(event.s + event.s + event.s) > 0))",
        "event.l.exists_one(x, event.l.all(y, event.s + event.s != \"\"))",
        "event.l.map(x, event.l.filter(y, event.s + event.b != \"\")).size() > 0",
        "size(event.l.map(x, event.b + event.b + event.b + event.b)) > 0 && size(event.l.map(x, event.l.map(y, event.b + event.b))) > 0",
    ] {
        refused(when, &e);
    }
}

#[test]
fn lists_built_in_loops() {
    let _alone = alone();
    let e = big_event();
    for when in [
        // List concatenation nested in map.
        "size(event.l.map(x, event.l.map(y, event.l + event.l))) > 0",
        "size(event.l.map(x, event.l + event.l + event.l)) > 0",
        // Lists of lists.
        "size(event.l.map(x, event.l.map(y, event.l))) > 0",
        "size(event.l.map(x, event.l.map(y, [event.s]))) > 0",
        "size(event.l.map(x, [event.s + event.s, event.s + event.s])) > 0",
        "size(event.l.map(x, event.l.map(y, [x, y, event.b]))) > 0",
        // Maps.
        "size(event.l.map(x, {\"a\": event.s + event.s, \"b\": event.s})) > 0",
        "size(event.l.map(x, event.l.map(y, {\"k\": event.l}))) > 0",
        // A range copied into the iteration variable.
        "event.l.all(x, [event.s + event.b, event.b + event.s].all(y, size(y) > 0))",
    ] {
        refused(when, &e);
    }
}

#[test]
fn conversions_and_sizes_of_big_values() {
    let _alone = alone();
    let e = big_event();
    for when in [
        "size(event.l.map(x, string(bytes(event.s)))) > 0",
        "event.l.all(x, event.l.all(y, size(string(bytes(event.s + event.s))) > 0))",
        "event.l.all(x, size(event.s + event.s + event.s + event.s + event.s + event.s) > 0)",
        "size(event.l.map(x, bytes(event.s) + bytes(event.s))) > 0",
        "event.l.all(x, size(bytes(event.s) + bytes(event.s) + bytes(event.s)) > 0)",
        "event.l.all(x, string(event.s + event.s) != \"\")",
        "event.l.all(x, dyn(event.s + event.s) != \"\")",
    ] {
        refused(when, &e);
    }
}

#[test]
fn a_long_duration_is_charged_for_its_parse() {
    let _alone = alone();
    // "1s" 30,000 times, then 32 of those: a 1.9 MB string that `duration()` would parse into
    // a list of 960,000 components (15 MB, 30 MB as the list grows) before adding them up.
    let e = event(json!({"d": "1s".repeat(30_000)}));
    let group = format!("({})", ["event.d"; 4].join(" + "));
    let long = format!("({})", [group.as_str(); 8].join(" + "));
    refused(&format!("duration({long}) > duration(\"0s\")"), &e);
    // A short one is as cheap as ever; the event's own (30,000 components) fits.
    let (result, _, _) = run("duration(\"1h30m\") > duration(\"1h\")", &e);
    assert_eq!(result, Ok(true));
    let (result, _, _) = run("duration(event.d) == duration(\"30000s\")", &e);
    assert_eq!(result, Ok(true));
}

#[test]
fn one_expression_without_any_comprehension() {
    let _alone = alone();
    // No loop, but a long sum of the biggest string: 500 copies would be 30 MB.
    let e = big_event();
    let terms = vec!["event.s"; 500].join("+");
    let when = format!("size({terms}) > 0");
    assert!(when.len() <= campaigns::expr::MAX_EXPR_BYTES);
    // The tree depth limit refuses a flat chain: nest it in balanced groups instead.
    let group = format!("({})", vec!["event.s"; 16].join("+"));
    let when_ok = format!("size({}) > 0", vec![group.as_str(); 16].join("+"));
    assert!(Expr::compile(&when, Scope::Event).is_err());
    refused(&when_ok, &e);
    // Lists: each `event.l` is copied into the literal, 500 times.
    let lists = format!("size([{}]) > 0", vec!["event.l"; 450].join(","));
    let (result, peak, _) = run(&lists, &e);
    assert!(peak <= PEAK_BOUND, "held {peak}");
    assert!(result.is_err() || result == Ok(true));
}

#[test]
fn regular_expressions_are_bounded_in_size_and_count() {
    let _alone = alone();
    // A pattern that compiles to more than the limit fails as itself (not a crash, not the
    // budget), with its first characters named: when it is written, if it is constant...
    let errors = Expr::compile("\"a\".matches(\"((a{50}){50}){50}\")", Scope::Event).unwrap_err();
    assert!(
        errors[0].message.contains("limit for a regular expression"),
        "{errors:?}"
    );
    // ... and when it runs, if it comes from the event.
    let e = big_event_with("re", "((a{50}){50}){50}");
    let (result, peak, took) = run("\"a\".matches(event.re)", &e);
    let error = result.unwrap_err();
    assert!(
        error.message.contains("limit for a regular expression"),
        "{}",
        error.message
    );
    assert!(peak <= PEAK_BOUND && took < QUICK, "{peak} {took:?}");
    // The event's 60,000-character string as a pattern is refused before it is compiled (the
    // parser alone would hold hundreds of megabytes for some patterns that long).
    refused("event.s.matches(event.s)", &e);
    refused("event.s.matches(event.s + event.s)", &e);
    // A 200-character one compiles and runs.
    let (result, _, _) = run("(event.p + event.s).matches(event.p)", &e);
    assert_eq!(result, Ok(true));
    // A different pattern in every iteration: each is charged, and the budget stops them.
    refused(
        "event.l.exists(x, event.s.matches(\"^(x{1,\" + string(x + 200) + \"}){2,50}y\"))",
        &e,
    );
    // The same constant pattern in a loop compiles once per evaluation.
    let (result, _, _) = run("event.l.all(x, string(x).matches(\"^[0-9]+$\"))", &e);
    assert_eq!(result, Ok(true));
    // A bad pattern is still an error with its message, not a panic; a long one is cut.
    let (result, _, _) = run("event.s.matches(\"(\" + event.p)", &e);
    let message = result.unwrap_err().message;
    assert!(
        message.len() < 1100 && message.contains("not a valid regex"),
        "{message}"
    );
}

#[test]
fn regex_memory_stays_under_its_charge() {
    use campaigns::expr::{REGEX_BYTE_CHARGE, REGEX_CHARGE};
    let _alone = alone();
    // The densest patterns found: Unicode classes the parser expands, counted repetitions the
    // compiler expands, and both, short and long.
    for unit in [
        r"\\W",
        r"\\PL",
        r"[\\w\\W]",
        r"(?i)\\w",
        r"\\w{10}",
        r"(a{30}){30}{30}",
        r"(.*a){30}",
        r"(?i)(\\w+\\s*){10}$",
        r"\\b\\w{9}\\b",
        // Capture groups: a search keeps a slot per group per state, unless it needs none.
        r"(x{10}){10}",
        r"(x)",
        r"(x*)",
    ] {
        for n in [1, 4, 16, 64] {
            let pattern = unit.repeat(n);
            let unescaped = pattern.replace(r"\\", r"\");
            let charge = REGEX_CHARGE + REGEX_BYTE_CHARGE * unescaped.len() as u64;
            if charge > MAX_EVAL_BYTES {
                continue;
            }
            let e = big_event_with("re", &unescaped);
            let when = "event.s.matches(event.re) || true";
            let campaign = sequence(when);
            let bindings = Bindings::new(&e, None);
            assert!(
                campaign
                    .condition_holds(0, &bindings, ProgressView::default())
                    .is_ok()
            );
            let (result, peak) = measure_within(charge, || {
                campaign.condition_holds(1, &bindings, ProgressView::default())
            });
            println!("{unescaped}: {result:?}, resident growth {peak}, charged {charge}");
        }
    }
}

#[test]
fn every_kind_of_expression_is_bounded() {
    let _alone = alone();
    let e = big_event();
    let hostile = "size(event.l.map(x, event.l.map(y, event.s + event.s + event.s + event.s)))";
    let profile: Customer = serde_json::from_value(json!({"id": "c", "attributes": {
        "s": "x".repeat(60_000), "l": (0..200).collect::<Vec<u32>>()}}))
    .unwrap();
    let campaign = compile(json!({"key": "k", "name": "n",
        "audience": hostile.replace("event.", "customer.") + " > 0",
        "goal": {"kind": "sum", "when": format!("{hostile} > 0"), "value": hostile, "target": 10},
        "rewards": [{"kind": "points", "amount_expr": hostile}]}));
    let bindings = Bindings::new(&e, Some(&profile));
    let progress = ProgressView::default();
    let budget = |m: &str| m.contains("evaluation exceeded its memory budget");
    let (audience, peak) = measure(|| campaign.audience_holds(&bindings));
    let audience = audience.unwrap_err();
    assert_eq!(audience.path, "audience");
    assert!(
        budget(&audience.message) && peak <= PEAK_BOUND + (8 << 20),
        "{peak}"
    );
    let (when, peak) = measure(|| campaign.condition_holds(0, &bindings, progress));
    let when = when.unwrap_err();
    assert_eq!(when.path, "goal.when");
    assert!(budget(&when.message) && peak <= PEAK_BOUND, "{peak}");
    let (value, peak) = measure(|| campaign.goal_value(&bindings, progress));
    let value = value.unwrap_err();
    assert_eq!(value.path, "goal.value");
    assert!(budget(&value.message) && peak <= PEAK_BOUND, "{peak}");
    let (amount, peak) = measure(|| campaign.reward_amount(0, &bindings, progress));
    let amount = amount.unwrap_err();
    assert_eq!(amount.path, "rewards[0].amount_expr");
    assert!(budget(&amount.message) && peak <= PEAK_BOUND, "{peak}");
}

#[test]
fn each_evaluation_starts_with_the_whole_budget() {
    let _alone = alone();
    // 3 MB kept (50 strings of 60,000 characters), 6 MB counted: fits once, and again.
    let e = big_event();
    let when = "size(event.l.filter(x, x < 50).map(x, event.s + string(x))) == 50";
    for _ in 0..3 {
        let (result, peak, _) = run(when, &e);
        assert_eq!(result, Ok(true));
        assert!(peak <= PEAK_BOUND, "{peak}");
    }
    // Once spent, an error absorbed by `||` buys nothing more: the next charge fails too.
    let spent = "size(event.l.map(x, event.l.map(y, event.s + event.s))) > 0 || size(event.s + event.s) > 0";
    refused(spent, &e);
}

#[test]
fn ordinary_expressions_are_unaffected() {
    let _alone = alone();
    let e = event(json!({
        "items": [{"sku": "A1", "qty": 2, "price": 9.5}, {"sku": "B7", "qty": 1, "price": 30.0}],
        "tags": ["new", "promo"], "note": "hello", "n": 3,
    }));
    for when in [
        "event.items.map(i, i.sku + \"-\" + string(i.qty)).exists(k, k == \"A1-2\")",
        "size(event.tags.map(t, t + \"!\").filter(t, t.endsWith(\"!\"))) == 2",
        "[event.note, event.note + \" world\"][1] == \"hello world\"",
        "{\"a\": event.n, \"b\": [event.tags]}.b[0][1] == \"promo\"",
        "event.items.all(i, i.sku.matches(\"^[A-Z][0-9]$\"))",
        "string(event.n) + \"x\" == \"3x\" && bytes(event.note) + b\"!\" == b\"hello!\"",
        "event.tags + [\"x\"] == [\"new\", \"promo\", \"x\"]",
        "event.items.map(i, double(i.qty) * i.price).exists(t, t > 18.0)",
        "timestamp(\"2026-12-01T00:00:00Z\") + duration(\"1h\") < now",
        "[1, 2, 3].exists_one(x, x + 1 == 3)",
    ] {
        let (result, _, _) = run(when, &e);
        assert_eq!(result, Ok(true), "{when}");
    }
    // `map` still appends in place (a copy of the whole list per element would be quadratic):
    // 30,000 elements, the most a 64 KiB event holds, in well under a second.
    let long = event(json!({"n": vec![0u8; 30_000]}));
    let (result, _, took) = run(
        "size(long_map) == 30000"
            .replace("long_map", "event.n.map(x, x * 2).filter(y, y == 0)")
            .as_str(),
        &long,
    );
    assert_eq!(result, Ok(true));
    assert!(took < QUICK, "{took:?}");
    // A moderate string built in a loop: 200 strings of 1,000 characters.
    let (result, peak, _) = run(
        "size(event.l.map(x, event.b + string(x))) == 200",
        &big_event(),
    );
    assert_eq!(result, Ok(true));
    assert!(peak < 2 << 20, "{peak}");
}

#[test]
fn type_errors_of_plus_name_types_not_values() {
    let _alone = alone();
    let e = big_event();
    let (result, _, _) = run("event.s + 1 == \"\"", &e);
    let message = result.unwrap_err().message;
    assert!(
        message.contains("'_+_'") && message.contains("(string, int)"),
        "{message}"
    );
    // Other operators put the operands in their message: it is cut, never built whole.
    let (result, peak, _) = run("event.s - 1 == 0", &e);
    let message = result.unwrap_err().message;
    assert!(message.len() <= 1100, "{}", message.len());
    assert!(peak <= PEAK_BOUND);
}

#[test]
fn what_the_budget_does_not_cover_is_refused() {
    let _alone = alone();
    for source in [
        "event.?a.hasValue()",
        "[?event.?a] == []",
        "{?\"a\": event.?a} == {}",
    ] {
        let errors = Expr::compile(source, Scope::Event).unwrap_err();
        assert!(errors[0].message.contains("unsupported syntax"), "{source}");
    }
    // A function whose result can be larger than its arguments is registered only with a
    // wrapper charging its result (the strings extension's, see campaigns/src/budget/strings.rs
    // and `the_strings_extension_is_bounded`); `repeat` has none.
    let source = "\"a\".repeat(1000000) == \"\"";
    let errors = Expr::compile(source, Scope::Event).unwrap_err();
    assert!(
        errors[0].message.contains("unknown function"),
        "{source}: {errors:?}"
    );
    // Without an event, evaluation needs no bindings.
    let e = Expr::compile("[1, 2] + [3] == [1, 2, 3]", Scope::Event).unwrap();
    assert_eq!(
        e.evaluate(&Variables::default()),
        Ok(cel::Value::Bool(true))
    );
}

#[test]
fn errors_held_by_or_carry_no_copies() {
    let _alone = alone();
    let e = big_event();
    // `v` is a 3.6 MB list; each `||` holds its left side's error while it evaluates its right
    // side. Errors that copied `v` (as the interpreter's own do for `-` on a list, or for a list
    // indexed by 0.5) would hold 18 copies at once.
    let big = "event.l.filter(x, x < 60).map(x, event.s)";
    for term in [
        "v - 1 == 0",
        "v[0.5] == 0",
        "v[v] == 0",
        "{v: 1}[v[0]] == 1",
        "v < 1",
        "v[0] >= 1",
        "v * 2 == v",
        "now.getHours(v[0] + v[1]) == 1",
    ] {
        let mut chain = format!("({term})");
        for _ in 0..17 {
            chain = format!("({term} || {chain})");
        }
        let when = format!("[{big}].exists(v, {chain})");
        assert!(Expr::compile(&when, Scope::Event).is_ok(), "{when}");
        let (result, peak, _) = run(&when, &e);
        let message = result.unwrap_err().message;
        assert!(message.len() <= 1100, "{}", message.len());
        println!("{term}: {message} (resident growth {peak})");
    }
    // Duplicate map keys and missing string keys quote the key: it is charged.
    refused(
        "event.l.all(x, event.l.all(y, {event.s + event.s: 1, event.s + event.s: 2}.size() == 2))",
        &e,
    );
}

/// Hostile inputs for the strings extension: what would build more than the budget fails
/// before building it, and the searches are linear.
#[test]
fn the_strings_extension_is_bounded() {
    let _alone = alone();
    let e = big_event();
    // Every character of a 60,000-character attribute as a value of its own.
    refused("size(event.s.split(\"\")) > 0", &e);
    // 200 characters between every character: 12 MB.
    refused("event.s.replace(\"\", event.p) == \"\"", &e);
    // Each of 60,000 characters replaced by 1,000.
    refused("event.s.replace(\"x\", event.b) == \"\"", &e);
    // Joins and formats that fit once, in a loop.
    refused(
        "event.l.all(x, [event.s, event.s].join(event.s).size() > 0)",
        &e,
    );
    refused(
        "event.l.all(x, \"%s%s\".format([event.s, event.l]).size() > 0)",
        &e,
    );
    // Nested calls: each is charged.
    refused(
        "event.l.all(x, event.s.upperAscii().lowerAscii().reverse().trim().size() > 0)",
        &e,
    );
    // What fits runs: 20,000 characters split, a replace, a format, a join.
    for when in [
        "size(event.s.substring(0, 20000).split(\"\")) == 20000",
        "event.s.replace(\"x\", \"yz\").size() == 120000",
        "\"%s\".format([event.l]).startsWith(\"[0, 1, 2\")",
        "event.l.map(x, string(x)).join(\",\").size() == 689",
        "strings.quote(event.s).size() == 60002",
    ] {
        let (result, peak, took) = run(when, &e);
        assert_eq!(result, Ok(true), "{when}");
        assert!(peak <= PEAK_BOUND, "{when}: held {peak} bytes");
        println!("{when}: {took:?} (resident growth {peak} bytes)");
    }
}

/// `indexOf` and `lastIndexOf` on a needle made to make a naive search quadratic: 30,000
/// characters searched for 15,000 that almost match at every position, 200 times.
#[test]
fn searches_are_linear() {
    let _alone = alone();
    let l: Vec<u32> = (0..200).collect();
    let e = event(
        json!({"a": "a".repeat(30_000), "n": format!("{}b", "a".repeat(15_000)),
        "m": format!("b{}", "a".repeat(15_000)), "l": l}),
    );
    for when in [
        "event.l.all(x, event.a.indexOf(event.n) == -1)",
        "event.l.all(x, event.a.lastIndexOf(event.m) == -1)",
        "event.l.all(x, event.a.indexOf(event.n, 10) == -1)",
        "event.l.all(x, event.a.lastIndexOf(event.m, 29000) == -1)",
    ] {
        let (result, peak, took) = run(when, &e);
        assert_eq!(result, Ok(true), "{when}");
        assert!(took < QUICK, "{when}: took {took:?}");
        println!("{when}: {took:?} (resident growth {peak} bytes)");
    }
}
