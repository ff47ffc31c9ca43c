//! The CEL surface of DESIGN §3: what `event`, `customer`, `progress` and `now` hold.

use campaigns::{Bindings, CompiledCampaign, Customer, Event, GoalValue, ProgressView, parse};
use serde_json::json;

fn event(attributes: serde_json::Value) -> Event {
    Event::from_json(
        &json!({"id": "evt-42", "customer_id": "c-7", "type": "order.completed",
        "occurred_at": "2026-12-01T10:00:00Z", "attributes": attributes}),
    )
    .unwrap()
}

fn campaign(goal: &str, extra: &str) -> CompiledCampaign {
    let text =
        format!("key: k\nname: n\ngoal: {goal}\nrewards: [{{kind: points, amount: 1}}]\n{extra}");
    CompiledCampaign::compile(parse(&text).unwrap()).unwrap()
}

fn holds(when: &str, e: &Event, customer: Option<&Customer>) -> Result<bool, String> {
    let goal = format!("{{kind: count, target: 1, when: '{when}'}}");
    campaign(&goal, "")
        .condition_holds(0, &Bindings::new(e, customer), ProgressView::default())
        .map_err(|e| e.message)
}

#[test]
fn event_holds_attributes_and_reserved_keys() {
    let e = event(json!({"amount": 30.5, "category": "shoes", "qty": 2, "tags": ["a", "b"]}));
    for when in [
        "event.id == \"evt-42\"",
        "event.type == \"order.completed\"",
        "event.customer_id == \"c-7\"",
        "event.occurred_at == timestamp(\"2026-12-01T10:00:00Z\")",
        "now == event.occurred_at",
        "event.amount >= 25",
        "event.amount >= 25.0",
        "event.qty == 2",
        "event.qty >= 1.5",
        "event.qty + 1 == 3",
        "type(event.qty) == int",
        "type(event.amount) == double",
        "\"b\" in event.tags",
        "event.category.startsWith(\"sh\")",
        "has(event.category) && !has(event.colour)",
        "now.getFullYear() == 2026",
        "customer.id == \"c-7\"",
    ] {
        assert_eq!(holds(when, &e, None), Ok(true), "{when}");
    }
}

#[test]
fn customer_holds_the_profile_and_id() {
    let e = event(json!({}));
    let c = Customer {
        id: "c-7".into(),
        attributes: json!({"tier": "gold", "age": 31})
            .as_object()
            .unwrap()
            .clone(),
    };
    assert_eq!(
        holds(
            "customer.tier == \"gold\" && customer.age > 30 && customer.id == \"c-7\"",
            &e,
            Some(&c)
        ),
        Ok(true)
    );
    // Without a profile, only the id.
    assert_eq!(holds("has(customer.tier)", &e, None), Ok(false));
}

#[test]
fn a_missing_key_is_an_error_the_caller_sees() {
    let e = event(json!({}));
    let err = holds("event.amount > 3", &e, None).unwrap_err();
    assert!(err.contains("amount"), "{err}");
    // A condition whose type only the event tells (`event.type` is always a string, so that
    // one is refused when written).
    let e = event(json!({"category": "shoes"}));
    let err = holds("event.category", &e, None).unwrap_err();
    assert!(err.contains("true or false"), "{err}");
}

#[test]
fn progress_holds_the_state() {
    let c = campaign(
        "{kind: count, target: 5, when: 'progress.count == 2 && progress.cycle == 3 && progress.sum == 1.5 && progress.streak == 0 && progress.step == 0 && progress.distinct == 0'}",
        "",
    );
    let p = ProgressView {
        count: 2,
        sum: 1.5,
        cycle: 3,
        ..ProgressView::default()
    };
    let e = event(json!({}));
    assert_eq!(c.condition_holds(0, &Bindings::new(&e, None), p), Ok(true));
}

#[test]
fn goal_values_and_amounts() {
    let c = campaign(
        "{kind: sum, target: 100, when: 'true', value: 'event.amount'}",
        "",
    );
    let e1 = event(json!({"amount": 30}));
    let b = Bindings::new(&e1, None);
    assert_eq!(
        c.goal_value(&b, ProgressView::default()),
        Ok(GoalValue::Number(30.0))
    );
    let d = campaign(
        "{kind: distinct, target: 3, when: 'true', value: 'event.category'}",
        "",
    );
    let e2 = event(json!({"category": "shoes"}));
    let b = Bindings::new(&e2, None);
    assert_eq!(
        d.goal_value(&b, ProgressView::default()).unwrap().key(),
        "s:shoes"
    );
    // Numbers are one key however they are written.
    assert_eq!(GoalValue::Number(3.0).key(), "n:3");

    let text = "key: k\nname: n\ngoal: {kind: count, target: 1, when: 'true'}\nrewards:\n  - {kind: points, amount_expr: 'int(event.amount) * 2 + progress.count'}\n  - {kind: badge, amount: 1}\n";
    let c = CompiledCampaign::compile(parse(text).unwrap()).unwrap();
    let e3 = event(json!({"amount": 30.7}));
    let b = Bindings::new(&e3, None);
    let p = ProgressView {
        count: 1,
        cycle: 1,
        ..ProgressView::default()
    };
    assert_eq!(c.reward_amount(0, &b, p).unwrap().get(), 61.0);
    assert_eq!(c.reward_amount(1, &b, p).unwrap().get(), 1.0);
    let e4 = event(json!({}));
    let b = Bindings::new(&e4, None);
    assert_eq!(
        c.reward_amount(0, &b, p).unwrap_err().path,
        "rewards[0].amount_expr"
    );
}

#[test]
fn the_audience_sees_customer_and_now() {
    let c = campaign(
        "{kind: count, target: 1, when: 'true'}",
        "audience: 'customer.tier in [\"gold\", \"silver\"]'\n",
    );
    let gold = Customer {
        id: "c".into(),
        attributes: json!({"tier": "gold"}).as_object().unwrap().clone(),
    };
    let e = event(json!({}));
    assert_eq!(c.audience_holds(&Bindings::new(&e, Some(&gold))), Ok(true));
    // A missing attribute is an error, which the engine counts as false.
    assert!(c.audience_holds(&Bindings::new(&e, None)).is_err());
}

#[test]
fn event_type_index_is_read_off_the_tree() {
    let types = |when: &str| {
        campaign(&format!("{{kind: count, target: 1, when: '{when}'}}"), "")
            .event_types()
            .map(|t| t.iter().cloned().collect::<Vec<_>>())
    };
    assert_eq!(types("event.type == \"a\""), Some(vec!["a".into()]));
    assert_eq!(
        types("\"a\" == event.type && event.amount > 1"),
        Some(vec!["a".into()])
    );
    assert_eq!(
        types("event.type in [\"a\", \"b\"] && event.type == \"b\""),
        Some(vec!["b".into()])
    );
    assert_eq!(
        types("event.type == \"a\" || event.type == \"b\""),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(types("event.type == \"a\" || event.amount > 1"), None);
    assert_eq!(types("event.type != \"a\""), None);
    assert_eq!(types("!(event.type == \"a\")"), None);
    assert_eq!(
        types("event.kind == \"a\""),
        None,
        "only event.type counts, never a naming convention"
    );
    let seq = campaign(
        "{kind: sequence, steps: [{name: a, when: 'event.type == \"a\"'}, {name: b, when: 'event.type == \"b\"'}]}",
        "",
    );
    assert!(seq.may_apply_to("a") && seq.may_apply_to("b") && !seq.may_apply_to("c"));
}

/// `Bindings` stays covariant in its lifetime: the engine hands a `&Bindings<'long>` to code
/// that takes a `&Bindings<'short>` (a cell of values borrowing `'a` would make it invariant).
#[test]
fn bindings_are_covariant() {
    fn shorten<'short, 'long: 'short>(
        b: &'short campaigns::Bindings<'long>,
    ) -> &'short campaigns::Bindings<'short> {
        b
    }
    let _ = shorten;
}
