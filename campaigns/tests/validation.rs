//! Every validation rule of DESIGN §4, each asserting the exact path of its diagnostic.

use campaigns::{Code, Diagnostic, Position, parse};

const VALID: &str = r#"
key: three-orders-week
name: Order 3 times in a week
schedule: {starts_at: 2026-12-01T00:00:00Z, ends_at: 2027-01-01T00:00:00Z, timezone: America/New_York}
audience: 'customer.tier in ["gold", "silver"]'
goal:
  kind: count
  when: 'event.type == "order.completed" && event.amount >= 25'
  target: 3
  within: 7d
rewards:
  - {kind: points, amount: 500}
limits: {per_customer: 1, max_rewards: 10000}
priority: 10
"#;

/// The diagnostics for `text`, which must be invalid.
fn problems(text: &str) -> Vec<Diagnostic> {
    match parse(text) {
        Ok(spec) => panic!("expected diagnostics, got a valid spec: {spec:?}"),
        Err(d) => d.0,
    }
}

/// The paths of the diagnostics for `text`.
fn paths(text: &str) -> Vec<String> {
    problems(text).into_iter().map(|d| d.path).collect()
}

/// A goal mapping in the flow style, substituted into an otherwise valid spec.
fn with_goal(goal: &str) -> String {
    format!("key: k\nname: n\ngoal: {goal}\nrewards: [{{kind: points, amount: 1}}]\n")
}

fn with(field: &str, value: &str) -> String {
    let base = "key: k\nname: n\ngoal: {kind: count, when: 'true', target: 1}\nrewards: [{kind: points, amount: 1}]\n";
    format!("{base}{field}: {value}\n")
}

#[test]
fn the_design_example_is_valid() {
    let spec = parse(VALID).unwrap();
    assert_eq!(spec.key, "three-orders-week");
    assert_eq!(spec.limits.max_rewards, Some(10_000));
    assert_eq!(spec.schedule.timezone, chrono_tz::America::New_York);
    assert_eq!(spec.goal.within().unwrap().seconds(), 7 * 86_400);
}

#[test]
fn json_and_yaml_read_into_the_same_spec() {
    let yaml = parse(VALID).unwrap();
    let json = serde_json::to_string_pretty(&yaml).unwrap();
    assert_eq!(parse(&json).unwrap(), yaml);
    // And the typed form validates and round-trips through serde.
    yaml.validate().unwrap();
    let back: campaigns::CampaignSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, yaml);
}

#[test]
fn key_format_and_presence() {
    assert_eq!(
        paths(&VALID.replace("key: three-orders-week\n", "")),
        ["key"]
    );
    for bad in ["Three", "a_b", "'x y'", "''", &"a".repeat(65), "7"] {
        let text = VALID.replace("three-orders-week", bad);
        assert_eq!(paths(&text), ["key"], "{bad}");
    }
    assert!(parse(&VALID.replace("three-orders-week", &"a".repeat(64))).is_ok());
}

#[test]
fn required_top_level_fields() {
    let d = problems("description: nothing else\n");
    let mut got: Vec<_> = d.iter().map(|d| (d.path.as_str(), d.code)).collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("goal", Code::MissingField),
            ("key", Code::MissingField),
            ("name", Code::MissingField),
            ("rewards", Code::MissingField),
        ]
    );
}

#[test]
fn unknown_fields_everywhere() {
    assert_eq!(paths(&with("colour", "red")), ["colour"]);
    assert_eq!(
        paths(&with("schedule", "{start: 2026-12-01}")),
        ["schedule.start"]
    );
    assert_eq!(paths(&with("limits", "{per_user: 1}")), ["limits.per_user"]);
    let text = "key: k\nname: n\ngoal: {kind: count, when: 'true', target: 1}\nrewards: [{kind: points, amount: 1, colour: red}]\n";
    assert_eq!(paths(text), ["rewards[0].colour"]);
}

#[test]
fn each_goal_kind_needs_its_fields() {
    let cases: &[(&str, &[&str])] = &[
        ("{kind: count}", &["goal.when", "goal.target"]),
        ("{kind: sum, when: 'true'}", &["goal.value", "goal.target"]),
        ("{kind: distinct, when: 'true', target: 2}", &["goal.value"]),
        ("{kind: streak, when: 'true', target: 2}", &["goal.period"]),
        ("{kind: sequence}", &["goal.steps"]),
        ("{when: 'true'}", &["goal.kind"]),
        ("{kind: ladder, when: 'true'}", &["goal.kind"]),
    ];
    for (goal, expected) in cases {
        assert_eq!(paths(&with_goal(goal)), *expected, "{goal}");
    }
}

#[test]
fn fields_a_kind_cannot_use() {
    let cases: &[(&str, &str)] = &[
        (
            "{kind: count, when: 'true', target: 1, value: 'event.amount'}",
            "goal.value",
        ),
        (
            "{kind: count, when: 'true', target: 1, period: day}",
            "goal.period",
        ),
        (
            "{kind: streak, when: 'true', target: 2, period: day, within: 7d}",
            "goal.within",
        ),
        (
            "{kind: sum, when: 'true', value: '1', target: 2, steps: []}",
            "goal.steps",
        ),
        (
            "{kind: sequence, when: 'true', steps: [{name: a, when: 'true'}, {name: b, when: 'true'}]}",
            "goal.when",
        ),
        (
            "{kind: sequence, target: 2, steps: [{name: a, when: 'true'}, {name: b, when: 'true'}]}",
            "goal.target",
        ),
        (
            "{kind: count, when: 'true', target: 1, colour: red}",
            "goal.colour",
        ),
    ];
    for (goal, path) in cases {
        let d = problems(&with_goal(goal));
        assert_eq!(d.len(), 1, "{goal}: {d:?}");
        assert_eq!(d[0].path, *path, "{goal}");
        assert_eq!(d[0].code, Code::UnknownField, "{goal}");
    }
}

#[test]
fn targets_must_be_positive() {
    for goal in [
        "{kind: count, when: 'true', target: 0}",
        "{kind: count, when: 'true', target: -3}",
        "{kind: count, when: 'true', target: 1.5}",
        "{kind: count, when: 'true', target: three}",
        "{kind: sum, when: 'true', value: 'event.amount', target: 0}",
        "{kind: sum, when: 'true', value: 'event.amount', target: -0.5}",
        "{kind: distinct, when: 'true', value: 'event.sku', target: 0}",
        "{kind: streak, when: 'true', period: day, target: 0}",
    ] {
        assert_eq!(paths(&with_goal(goal)), ["goal.target"], "{goal}");
    }
    assert!(
        parse(&with_goal(
            "{kind: sum, when: 'true', value: 'event.amount', target: 0.5}"
        ))
        .is_ok()
    );
}

#[test]
fn within_must_be_a_positive_duration() {
    for within in ["0d", "-1d", "7", "7x", "1.5h", "[]", "600w"] {
        let goal = format!("{{kind: count, when: 'true', target: 1, within: {within}}}");
        assert_eq!(paths(&with_goal(&goal)), ["goal.within"], "{within}");
    }
    for within in ["45s", "30m", "36h", "7d", "2w"] {
        let goal = format!("{{kind: count, when: 'true', target: 1, within: {within}}}");
        assert!(parse(&with_goal(&goal)).is_ok(), "{within}");
    }
}

#[test]
fn streak_period_must_be_day_or_week() {
    let goal = "{kind: streak, when: 'true', period: month, target: 2}";
    assert_eq!(paths(&with_goal(goal)), ["goal.period"]);
}

#[test]
fn sequence_steps() {
    let one = "{kind: sequence, steps: [{name: a, when: 'true'}]}";
    assert_eq!(paths(&with_goal(one)), ["goal.steps"]);
    let bad = "{kind: sequence, steps: [{name: a, when: 'true'}, {when: 'event.x ==' }, {name: c, when: 'true', colour: red}]}";
    assert_eq!(
        paths(&with_goal(bad)),
        [
            "goal.steps[1].name",
            "goal.steps[1].when",
            "goal.steps[2].colour"
        ]
    );
}

#[test]
fn timezone_must_be_known() {
    let d = problems(&with("schedule", "{timezone: Mars/Olympus_Mons}"));
    assert_eq!(d[0].path, "schedule.timezone");
    assert!(d[0].message.contains("Mars/Olympus_Mons"));
    assert!(parse(&with("schedule", "{timezone: Asia/Shanghai}")).is_ok());
}

#[test]
fn ends_at_after_starts_at() {
    let same = "{starts_at: 2026-12-01T00:00:00Z, ends_at: 2026-12-01T00:00:00Z}";
    assert_eq!(paths(&with("schedule", same)), ["schedule.ends_at"]);
    let before = "{starts_at: 2026-12-02T00:00:00Z, ends_at: 2026-12-01T00:00:00Z}";
    assert_eq!(paths(&with("schedule", before)), ["schedule.ends_at"]);
    assert_eq!(
        paths(&with("schedule", "{starts_at: next tuesday}")),
        ["schedule.starts_at"]
    );
}

#[test]
fn local_times_are_read_in_the_schedule_timezone() {
    let text = with(
        "schedule",
        "{starts_at: '2026-12-01', ends_at: '2027-01-01T00:00:00', timezone: America/New_York}",
    );
    let spec = parse(&text).unwrap();
    assert_eq!(
        spec.schedule.starts_at.unwrap().to_rfc3339(),
        "2026-12-01T05:00:00+00:00"
    );
    // 02:30 on 2027-03-14 does not exist in New York (clocks jump from 2:00 to 3:00).
    let gap = with(
        "schedule",
        "{starts_at: '2027-03-14T02:30:00', timezone: America/New_York}",
    );
    assert_eq!(paths(&gap), ["schedule.starts_at"]);
}

#[test]
fn rewards_need_an_amount_or_expression() {
    let base = "key: k\nname: n\ngoal: {kind: count, when: 'true', target: 1}\n";
    assert_eq!(paths(&format!("{base}rewards: []\n")), ["rewards"]);
    assert_eq!(paths(base), ["rewards"]);
    assert_eq!(
        paths(&format!("{base}rewards: [{{kind: points}}]\n")),
        ["rewards[0].amount"]
    );
    let both = format!("{base}rewards: [{{kind: points, amount: 1, amount_expr: '2'}}]\n");
    assert_eq!(paths(&both), ["rewards[0].amount_expr"]);
    let kind = format!("{base}rewards: [{{kind: cash, amount: 1}}, {{amount: 2}}]\n");
    assert_eq!(paths(&kind), ["rewards[0].kind", "rewards[1].kind"]);
    let negative = format!("{base}rewards: [{{kind: points, amount: -5}}]\n");
    assert_eq!(paths(&negative), ["rewards[0].amount"]);
    let expr = format!("{base}rewards: [{{kind: points, amount_expr: 'progress.count * 10'}}]\n");
    assert!(parse(&expr).is_ok());
}

#[test]
fn limits_must_be_positive() {
    assert_eq!(
        paths(&with("limits", "{per_customer: 0}")),
        ["limits.per_customer"]
    );
    assert_eq!(
        paths(&with("limits", "{max_rewards: 0}")),
        ["limits.max_rewards"]
    );
    assert_eq!(paths(&with("priority", "high")), ["priority"]);
}

#[test]
fn cel_must_compile_with_a_position_in_the_expression_and_the_file() {
    let text = "key: k\nname: n\ngoal:\n  kind: count\n  when: 'event.type == '\n  target: 1\nrewards: [{kind: points, amount: 1}]\n";
    let d = problems(text);
    assert_eq!(d[0].path, "goal.when");
    assert_eq!(d[0].code, Code::Cel);
    let at = d[0].expression_position.unwrap();
    assert_eq!(at.line, 1);
    // The file position is the expression position shifted past `  when: '`.
    assert_eq!(d[0].position, Some(Position::new(5, 10 + at.column - 1)));
}

#[test]
fn cel_in_a_block_scalar_is_placed_on_its_own_line() {
    let text = "key: k\nname: n\ngoal:\n  kind: count\n  when: |\n    event.type == \"a\" &&\n      unknown.x > 1\n  target: 1\nrewards: [{kind: points, amount: 1}]\n";
    let d = problems(text);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].expression_position, Some(Position::new(2, 3)));
    assert_eq!(d[0].position, Some(Position::new(7, 7)));
    assert!(d[0].message.contains("unknown variable `unknown`"));
}

#[test]
fn cel_may_use_only_the_allowed_variables() {
    let d = problems(&with_goal(
        "{kind: count, when: 'order.amount > 3 && event.x', target: 1}",
    ));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "goal.when");
    assert_eq!(d[0].expression_position, Some(Position::new(1, 1)));
    // Comprehension variables are fine; the four surface variables are fine.
    let ok = "{kind: count, when: 'event.items.exists(i, i.sku == customer.id) && progress.count < 3 && now > event.occurred_at - duration(\"1h\")', target: 1}";
    assert!(parse(&with_goal(ok)).is_ok());
}

#[test]
fn the_audience_may_use_only_customer_and_now() {
    let d = problems(&with(
        "audience",
        "'customer.tier == \"gold\" && event.type == \"x\" && progress.count == 0'",
    ));
    assert_eq!(
        d.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(),
        ["audience", "audience"]
    );
    assert!(d[0].message.contains("`event`"));
    assert!(d[1].message.contains("`progress`"));
    assert!(
        parse(&with(
            "audience",
            "'has(customer.tier) && now.getFullYear() >= 2026'"
        ))
        .is_ok()
    );
}

#[test]
fn a_when_may_not_be_a_non_boolean_literal() {
    for literal in ["'3'", "'\"yes\"'", "'2.5'", "'null'", "7"] {
        let goal = format!("{{kind: count, when: {literal}, target: 1}}");
        let d = problems(&with_goal(&goal));
        assert_eq!(d[0].path, "goal.when", "{literal}");
        assert!(d[0].message.contains("true or false"), "{literal}: {d:?}");
    }
    assert!(parse(&with_goal("{kind: count, when: true, target: 1}")).is_ok());
    assert!(parse(&with_goal("{kind: count, when: 'false', target: 1}")).is_ok());
    assert_eq!(paths(&with("audience", "'\"gold\"'")), ["audience"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
key: Bad_Key
name: ""
schedule: {timezone: Nowhere/Land, starts_at: 2027-01-01T00:00:00Z, ends_at: 2026-01-01T00:00:00Z}
audience: 'event.type == "x"'
goal: {kind: count, when: 'event.type ==', target: 0, within: 0d}
rewards: [{kind: cash}]
limits: {per_customer: 0}
"#;
    let mut got = paths(text);
    got.sort();
    let mut expected = [
        "key",
        "name",
        "schedule.timezone",
        "schedule.ends_at",
        "audience",
        "goal.when",
        "goal.target",
        "goal.within",
        "rewards[0].kind",
        "rewards[0].amount",
        "limits.per_customer",
    ];
    expected.sort();
    assert_eq!(got, expected);
}

#[test]
fn type_errors_name_what_was_expected() {
    let d = problems(&with("limits", "[1, 2]"));
    assert_eq!(d[0].path, "limits");
    assert_eq!(d[0].code, Code::InvalidType);
    assert!(
        d[0].message.contains("expected a mapping, found a list"),
        "{d:?}"
    );
    let d = problems("- just\n- a list\n");
    assert_eq!(d[0].path, "");
}

#[test]
fn malformed_yaml_reports_its_own_line_and_column() {
    let d = problems("key: k\nname: n\ngoal: {kind: count\nrewards: []\n");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, Code::Syntax);
    assert!(d[0].position.unwrap().line >= 3, "{d:?}");
    let d = problems("key: k\n  name: [\n");
    assert_eq!(d[0].code, Code::Syntax);
    assert!(d[0].position.is_some());
}

#[test]
fn cel_may_call_only_known_functions() {
    for (when, name) in [
        ("nosuch(event.x)", "nosuch"),
        ("event.category.startsWithh(\"a\")", "startsWithh"),
        ("size(event.tags) > 1 && lenght(event.tags) > 1", "lenght"),
    ] {
        let d = problems(&with_goal(&format!(
            "{{kind: count, target: 1, when: '{when}'}}"
        )));
        assert_eq!(d.len(), 1, "{when}: {d:?}");
        assert_eq!(d[0].path, "goal.when");
        assert_eq!(d[0].message, format!("unknown function `{name}`"), "{when}");
    }
    for ok in [
        "size(event.tags) > 1",
        "event.category.startsWith(\"sh\") && event.category.endsWith(\"s\")",
        "event.sku.matches(\"^A[0-9]+$\")",
        "int(event.amount) > 3 && double(event.qty) < 2.5 && string(event.n) == \"1\"",
        "timestamp(event.at) < now && duration(\"1h\") > duration(\"1m\")",
        "now.getDayOfWeek(\"Europe/Paris\") == 1 && now.getHours() > 8",
        "event.tags.exists(t, t == \"x\") && event.tags.all(t, size(t) > 0)",
    ] {
        let text = with_goal(&format!("{{kind: count, target: 1, when: '{ok}'}}"));
        assert!(parse(&text).is_ok(), "{ok}: {:?}", parse(&text));
    }
}

/// Whether condition `when` is accepted in a count goal.
fn accepted(when: &str) -> Result<(), String> {
    let text = with_goal(&format!(
        "{{kind: count, target: 1, when: '{}'}}",
        when.replace('\'', "''")
    ));
    parse(&text)
        .map(|_| ())
        .map_err(|d| format!("{when}: {d:?}"))
}

/// The one diagnostic for condition `when`: its message and where in the expression it is.
fn cel_problem(when: &str) -> (String, Position) {
    let text = with_goal(&format!(
        "{{kind: count, target: 1, when: '{}'}}",
        when.replace('\'', "''")
    ));
    let d = problems(&text);
    assert_eq!(d.len(), 1, "{when}: {d:?}");
    assert_eq!(d[0].path, "goal.when", "{when}");
    assert_eq!(d[0].code, Code::Cel, "{when}");
    (d[0].message.clone(), d[0].expression_position.unwrap())
}

#[test]
fn type_errors_that_fail_for_every_event_are_found_when_written() {
    for (when, expected, column) in [
        // A known function's argument of the wrong type.
        (
            "event.type.startsWith(1)",
            "`startsWith` cannot be called on a string with (int): this fails for every event",
            22,
        ),
        ("size(1) > 0", "`size` does not take (int)", 5),
        (
            "event.sku.startsWith(\"a\") && event.type.endsWith(true)",
            "`endsWith` cannot be called on a string with (bool)",
            49,
        ),
        (
            "now.getHours() < \"12\"",
            "`<` does not take (int, string)",
            16,
        ),
        (
            "progress.sum + 1 > 10.0",
            "`+` does not take (double, int)",
            14,
        ),
        (
            "event.type.lowerAscii().charAt(\"0\") == \"a\"",
            "`charAt` cannot be called on a string with (string)",
            31,
        ),
        ("now > 5", "`>` does not take (timestamp, int)", 5),
        (
            "event.occurred_at + 1 > now",
            "`+` does not take (timestamp, int)",
            19,
        ),
        // A constant regular expression that does not compile, at the pattern.
        ("event.sku.matches(\"[a-z\")", "not a valid regex", 19),
        ("matches(event.sku, \"(\")", "not a valid regex", 20),
        // Literals compared across types.
        (
            "event.type == 3",
            "`==` compares a string with an int, which is always false",
            12,
        ),
        (
            "1 != \"1\"",
            "`!=` compares an int with a string, which is always true",
            3,
        ),
        // Constant parts that fail.
        (
            "event.n > 1 / 0",
            "this fails for every event: Division by zero",
            13,
        ),
        (
            "\"abc\".charAt(10) == \"\"",
            "this fails for every event: ",
            13,
        ),
        // `progress` has known fields.
        ("progress.cont > 1", "`progress` has no field `cont`", 9),
        // The condition of `? :`.
        (
            "(1 ? event.a : event.b) == 1",
            "the condition of `? :` must be a bool",
            2,
        ),
    ] {
        let (message, at) = cel_problem(when);
        assert!(message.contains(expected), "{when}: {message}");
        assert_eq!(at, Position::new(1, column), "{when}: {message}");
    }
}

#[test]
fn expressions_that_may_hold_for_some_event_stay_accepted() {
    for ok in [
        // Types only an event can tell.
        "event.amount + 1 > 10",
        "event.sku.startsWith(event.prefix)",
        "size(event.tags) > 1",
        "event.a == event.b",
        "event.qty >= 1.5 && event.amount < 100",
        "int(event.n) * 2 == 4",
        "event.t < now",
        "event.x == null || event.x == 3",
        // Numbers compare across kinds.
        "progress.count > 2.5 && progress.sum >= 10",
        "1 == 1.0",
        // `&&` and `||` take anything on the side their other side decides.
        "has(event.vip) || event.type == \"x\"",
        // Comprehension variables are not known.
        "event.items.exists(i, i.sku.startsWith(\"A\") && i.qty > 1)",
        "event.items.map(i, i.price * i.qty).exists(p, p > 100)",
        "[1, 2, 3].exists(x, x > 2)",
        "[\"a\", \"b\"].map(x, x + \"!\") == [\"a!\", \"b!\"]",
        // A regular expression that is not constant.
        "event.sku.matches(event.pattern)",
        "event.sku.matches(\"^A[0-9]+$\")",
        "has(progress.nosuch) == false",
        "dyn(event.n) == 3",
        "type(event.n) == int",
        "now.getDayOfWeek(\"Europe/Paris\") == 1",
        "duration(\"1h\") < duration(\"2h\") && timestamp(\"2026-01-01T00:00:00Z\") < now",
    ] {
        assert_eq!(accepted(ok), Ok(()));
    }
}

#[test]
fn values_and_amounts_must_be_able_to_be_numbers() {
    let sum = |value: &str| {
        with_goal(&format!(
            "{{kind: sum, when: \"true\", target: 10, value: '{}'}}",
            value.replace('\'', "''")
        ))
    };
    let d = problems(&sum("event.type"));
    assert_eq!(d[0].path, "goal.value");
    assert_eq!(
        d[0].message,
        "a sum's value must be a number, but this is always a string"
    );
    let d = problems(&sum("event.total > 3"));
    assert!(d[0].message.ends_with("always true or false"), "{d:?}");
    assert!(parse(&sum("event.total")).is_ok());
    assert!(parse(&sum("double(event.total.split(\" \")[0])")).is_ok());
    assert!(parse(&sum("progress.count * 2")).is_ok());

    let distinct = |value: &str| {
        with_goal(&format!(
            "{{kind: distinct, when: \"true\", target: 3, value: '{value}'}}"
        ))
    };
    assert!(parse(&distinct("event.type")).is_ok());
    let d = problems(&distinct("[event.type]"));
    assert!(d[0].message.contains("always a list"), "{d:?}");

    let amount = |expr: &str| {
        format!(
            "key: k\nname: n\ngoal: {{kind: count, when: 'true', target: 1}}\nrewards: [{{kind: points, amount_expr: '{expr}'}}]\n"
        )
    };
    let d = problems(&amount("event.type"));
    assert_eq!(d[0].path, "rewards[0].amount_expr");
    assert_eq!(
        d[0].message,
        "an amount must be a number, but this is always a string"
    );
    assert!(parse(&amount("event.points * 2")).is_ok());
    assert!(parse(&amount("progress.count * 10")).is_ok());

    // A condition whose type is known and not bool.
    let d = problems(&with_goal("{kind: count, target: 1, when: 'event.type'}"));
    assert!(
        d[0].message
            .contains("true or false, but this is always a string"),
        "{d:?}"
    );
    let d = problems(&with_goal(
        "{kind: count, target: 1, when: 'size(event.tags)'}",
    ));
    assert!(d[0].message.contains("always a number"), "{d:?}");
}

#[test]
fn extension_functions_and_backticks_validate() {
    for ok in [
        "event.sku.lowerAscii().startsWith(\"sale-\")",
        "event.tags.split(\",\").exists(t, t == \"vip\")",
        "event.`order-id`.size() > 0 && event.meta.`gift-card` == true",
        "strings.quote(event.sku).size() > 2",
        "math.greatest(event.a, event.b) > 3",
        "\"%s-%d\".format([event.sku, 3]) != \"\"",
    ] {
        assert_eq!(accepted(ok), Ok(()));
    }
}

#[test]
fn nesting_meets_the_specifications_minimums() {
    // CEL's language definition asks implementations to take 32 nested parentheses and 12
    // nested calls, lists, maps, selections and indexes; a `+` chain of 24 terms.
    let parens = format!("{}true{}", "(".repeat(32), ")".repeat(32));
    let lists = format!("size({}1{}) == 1", "[".repeat(12), "]".repeat(12));
    let calls = format!("{}event.x{} > 0", "int(".repeat(12), ")".repeat(12));
    let plus = format!("{} > 0", vec!["event.n"; 24].join(" + "));
    let ternary = format!("{}true", "event.a ? false : ".repeat(24));
    for ok in [parens, lists, calls, plus, ternary] {
        assert_eq!(accepted(&ok), Ok(()));
    }
    let (message, _) = cel_problem(&format!("{}true{}", "(".repeat(33), ")".repeat(33)));
    assert_eq!(message, "brackets nest deeper than 32 levels");
}
