//! Hostile expressions each give a diagnostic and the process lives (DESIGN §3).
//!
//! These run in the default test harness, on its 2 MiB threads, in debug builds: nothing here
//! may rely on a large stack.

use campaigns::expr::{Expr, MAX_EXPR_BYTES, MAX_NESTING, MAX_TREE_DEPTH, Scope};
use campaigns::{Code, parse};

/// Compiles `source` as a goal condition and returns the first error's message.
fn refused(source: &str) -> String {
    match Expr::compile(source, Scope::Event) {
        Ok(_) => panic!("accepted {} bytes", source.len()),
        Err(errors) => {
            assert!(!errors.is_empty());
            errors[0].message.clone()
        }
    }
}

/// The same expression through the whole spec reader, as a file would bring it.
fn refused_in_spec(source: &str) -> campaigns::Diagnostic {
    let spec = serde_json::json!({
        "key": "k", "name": "n",
        "goal": {"kind": "count", "when": source, "target": 1},
        "rewards": [{"kind": "points", "amount": 1}],
    });
    let d = campaigns::CampaignSpec::from_value(&spec).unwrap_err().0;
    assert_eq!(d[0].path, "goal.when");
    assert_eq!(d[0].code, Code::Cel);
    d[0].clone()
}

#[test]
fn ten_thousand_nested_parentheses() {
    let source = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(
        refused(&source).contains("limit"),
        "length is checked first"
    );
    // Within the length limit, the nesting limit speaks.
    let source = format!("{}true{}", "(".repeat(1_000), ")".repeat(1_000));
    assert!(refused(&source).contains("nest deeper"));
    refused_in_spec(&source);
}

#[test]
fn five_thousand_nested_lists() {
    let source = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    refused(&source);
    let source = format!(
        "{}1{} == []",
        "[".repeat(MAX_NESTING + 1),
        "]".repeat(MAX_NESTING + 1)
    );
    let message = refused(&source);
    assert!(message.contains("nest deeper"), "{message}");
    let d = refused_in_spec(&source);
    assert_eq!(
        d.expression_position.unwrap().column,
        u32::try_from(MAX_NESTING + 1).unwrap()
    );
}

#[test]
fn a_five_thousand_term_plus_chain() {
    let source = format!("{} == 1", vec!["1"; 5_000].join(" + "));
    refused(&source);
    refused_in_spec(&source);
    // A chain that fits in the length limit is stopped by the tree depth limit.
    let source = format!("{} == 1", vec!["1"; 1_000].join("+"));
    assert!(source.len() <= MAX_EXPR_BYTES);
    assert!(refused(&source).contains("nests deeper"));
    // And one just within the depth limit compiles and evaluates.
    let ok = format!("{} > 0", vec!["event.n"; MAX_TREE_DEPTH - 2].join(" + "));
    Expr::compile(&ok, Scope::Event).unwrap();
}

#[test]
fn a_two_and_a_half_megabyte_or_chain() {
    let term = "event.type == \"x\"";
    let n = 2_500_000 / (term.len() + 4) + 1;
    let source = vec![term; n].join(" || ");
    assert!(source.len() >= 2_500_000);
    assert!(refused(&source).contains("limit"));
    refused_in_spec(&source);
}

#[test]
fn incomplete_input_unterminated_string_and_empty() {
    for source in [
        "event.type == ",
        "event.type == \"order",
        "",
        "   ",
        "(",
        ")",
        "event.",
        "[1, 2",
        "{\"a\": ",
        "1 +",
        "!",
    ] {
        let errors = Expr::compile(source, Scope::Event).unwrap_err();
        assert!(!errors.is_empty(), "{source:?}");
        for e in &errors {
            assert!(
                e.position.line >= 1 && e.position.column >= 1,
                "{source:?}: {e:?}"
            );
        }
    }
    assert!(refused("").contains("empty"));
}

#[test]
fn multiline_errors_point_at_the_right_line() {
    let errors = Expr::compile("event.type == \"a\" &&\n  nope > 1", Scope::Event).unwrap_err();
    assert_eq!(errors[0].position.line, 2);
    assert_eq!(errors[0].position.column, 3);
}

#[test]
fn hostile_specs_through_the_text_reader() {
    // The same inputs as a YAML file would bring them, with a file position.
    let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    let text = format!(
        "key: k\nname: n\ngoal: {{kind: count, target: 1, when: '{deep}'}}\nrewards: [{{kind: points, amount: 1}}]\n"
    );
    let d = parse(&text).unwrap_err().0;
    assert_eq!(d[0].path, "goal.when");
    assert_eq!(d[0].position.unwrap().line, 3);
}

#[test]
fn the_deepest_accepted_expressions_evaluate_on_a_small_stack() {
    use campaigns::{Bindings, CompiledCampaign, Event, ProgressView};
    let plus = format!("{} > 0", vec!["event.n"; MAX_TREE_DEPTH - 2].join(" + "));
    let lists = format!(
        "size({}event.n{}) == 1",
        "[".repeat(MAX_NESTING - 1),
        "]".repeat(MAX_NESTING - 1)
    );
    let parens = format!(
        "{}event.n > 0{}",
        "(".repeat(MAX_NESTING),
        ")".repeat(MAX_NESTING)
    );
    let event = Event::from_json(
        &serde_json::json!({"id": "e", "customer_id": "c", "type": "t",
        "occurred_at": "2026-12-01T10:00:00Z", "attributes": {"n": 1}}),
    )
    .unwrap();
    for when in [plus, lists, parens] {
        let spec = serde_json::json!({"key": "k", "name": "n",
            "goal": {"kind": "count", "when": when, "target": 1},
            "rewards": [{"kind": "points", "amount": 1}]});
        let campaign =
            CompiledCampaign::compile(campaigns::CampaignSpec::from_value(&spec).unwrap()).unwrap();
        let event = event.clone();
        // A quarter of the 2 MiB a tokio worker or test thread has.
        let result = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let bindings = Bindings::new(&event, None);
                campaign.condition_holds(0, &bindings, ProgressView::default())
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(result, Ok(true), "{when}");
    }
}

/// Evaluates `when` as a goal condition on an event with `attributes`.
fn holds(when: &str, attributes: serde_json::Value) -> Result<bool, campaigns::EvalError> {
    use campaigns::{Bindings, CompiledCampaign, Event, ProgressView};
    let event = Event::from_json(
        &serde_json::json!({"id": "e", "customer_id": "c", "type": "t",
        "occurred_at": "2026-12-01T10:00:00Z", "attributes": attributes}),
    )
    .unwrap();
    let spec = serde_json::json!({"key": "k", "name": "n",
        "goal": {"kind": "count", "when": when, "target": 1},
        "rewards": [{"kind": "points", "amount": 1}]});
    let campaign =
        CompiledCampaign::compile(campaigns::CampaignSpec::from_value(&spec).unwrap()).unwrap();
    campaign.condition_holds(0, &Bindings::new(&event, None), ProgressView::default())
}

#[test]
fn seven_nested_comprehensions_fail_after_the_comprehension_budget() {
    use campaigns::expr::MAX_COMPREHENSION_STEPS;
    let ten = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";
    let mut body = "x0 + x6 < 0".to_owned();
    for depth in (0..7).rev() {
        body = format!("{ten}.exists(x{depth}, {body})");
    }
    // Accepted when written (its cost depends on the data), refused when run: 10^7
    // iterations would take minutes.
    let error = holds(&body, serde_json::json!({})).unwrap_err();
    assert_eq!(error.path, "goal.when");
    assert!(error.message.contains("too much work"), "{}", error.message);
    assert!(error.message.contains(&MAX_COMPREHENSION_STEPS.to_string()));
    // Seven nested `map`s would also build ten million values: the memory budget (see
    // cel_memory.rs) or the iteration budget stops them, whichever is spent first.
    let mut body = "x6".to_owned();
    for depth in (0..7).rev() {
        body = format!("{ten}.map(x{depth}, {body})");
    }
    let message = holds(&format!("size({body}) == 10"), serde_json::json!({}))
        .unwrap_err()
        .message;
    assert!(
        message.contains("too much work") || message.contains("memory budget"),
        "{message}"
    );
    // The budget counts the data too: a pair of nested passes over a 400-element list is
    // 160,400 iterations and fails; over a short list it works.
    let xs: Vec<u32> = (0..400).collect();
    let pairs = "event.xs.all(a, event.xs.all(b, a + b >= 0))";
    let over = holds(pairs, serde_json::json!({ "xs": xs }));
    assert!(over.unwrap_err().message.contains("too much work"));
    assert_eq!(holds(pairs, serde_json::json!({"xs": [1, 2, 3]})), Ok(true));
    let within = holds(
        "event.xs.exists(x, x == 3) && event.xs.map(x, x * 2).filter(y, y > 2).all(z, z > 2)",
        serde_json::json!({"xs": [1, 2, 3]}),
    );
    assert_eq!(within, Ok(true));
    // Each evaluation starts with the whole budget.
    let nested = format!("{ten}.all(a, {ten}.all(b, {ten}.all(c, a + b + c >= 0)))");
    for _ in 0..3 {
        assert_eq!(holds(&nested, serde_json::json!({})), Ok(true));
    }
}

#[test]
fn the_deepest_budgeted_expressions_evaluate_on_a_small_stack() {
    use campaigns::{Bindings, CompiledCampaign, Event, ProgressView};
    // The budget wraps some nodes in an internal call (list elements, what `map` appends, a
    // comprehension's range): the deepest trees it makes must still fit.
    let mut maps = "[event.s]".to_owned();
    for depth in 0..9 {
        maps = format!("event.l.map(x{depth}, {maps})");
    }
    let maps = format!("size({maps}) > 0");
    let lists = format!(
        "size({}event.s{}) == 1",
        "[string([".repeat((MAX_NESTING - 2) / 5),
        "][0])][0]".repeat((MAX_NESTING - 2) / 5)
    );
    let elems = format!(
        "size({}[event.s]{}) == 1",
        "[event.s, ".repeat(MAX_NESTING - 2),
        "]".repeat(MAX_NESTING - 2)
    );
    let mixed = format!(
        "size({}event.l.exists(x, [x + 1, string(x) + event.s][0] == 1){}) > 0",
        "event.l.map(a, ".repeat(8),
        ")".repeat(8)
    );
    let event = Event::from_json(
        &serde_json::json!({"id": "e", "customer_id": "c", "type": "t",
        "occurred_at": "2026-12-01T10:00:00Z", "attributes": {"s": "x", "l": [1]}}),
    )
    .unwrap();
    type Outcome = Result<bool, campaigns::EvalError>;
    type Check<'a> = &'a dyn Fn(&Outcome) -> bool;
    let cases: [(String, Check); 4] = [
        (maps, &|r| *r == Ok(true)),
        (lists, &|r| *r == Ok(true)),
        (elems, &|r| *r == Ok(false)),
        (mixed, &|r| *r == Ok(true)),
    ];
    for (when, expected) in cases {
        let spec = serde_json::json!({"key": "k", "name": "n",
            "goal": {"kind": "count", "when": when, "target": 1},
            "rewards": [{"kind": "points", "amount": 1}]});
        let campaign = match campaigns::CampaignSpec::from_value(&spec) {
            Ok(spec) => CompiledCampaign::compile(spec).unwrap(),
            Err(d) => panic!("{when}: {d:?}"),
        };
        let event = event.clone();
        let result = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let bindings = Bindings::new(&event, None);
                campaign.condition_holds(0, &bindings, ProgressView::default())
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(expected(&result), "{when}: {result:?}");
    }
}
