//! CEL's strings and math extensions and backtick-quoted fields, as campaign authors write them:
//! the examples of the CEL specification's own conformance tests for each function, evaluated
//! through the same entry points as a campaign condition, both on literals and on the event's
//! attributes (where nothing is known before the event arrives).

use campaigns::expr::{Expr, Scope};
use campaigns::{Bindings, CampaignSpec, CompiledCampaign, Event, ProgressView};
use serde_json::{Value, json};

fn event(attributes: Value) -> Event {
    Event::from_json(&json!({"id": "e", "customer_id": "c", "type": "t",
        "occurred_at": "2026-12-01T10:00:00Z", "attributes": attributes}))
    .unwrap()
}

fn campaign(when: &str) -> CompiledCampaign {
    let spec = json!({"key": "k", "name": "n",
        "goal": {"kind": "count", "when": when, "target": 1},
        "rewards": [{"kind": "points", "amount": 1}]});
    let spec = CampaignSpec::from_value(&spec).unwrap_or_else(|d| panic!("{when}: {d}"));
    CompiledCampaign::compile(spec).unwrap()
}

/// Whether condition `when` holds for an event with `attributes`.
fn holds(when: &str, attributes: Value) -> Result<bool, String> {
    let e = event(attributes);
    campaign(when)
        .condition_holds(0, &Bindings::new(&e, None), ProgressView::default())
        .map_err(|e| e.message)
}

/// The specification's examples: each must hold.
const EXAMPLES: &[&str] = &[
    // charAt
    "'tacocat'.charAt(3) == 'o'",
    "'tacocat'.charAt(7) == ''",
    "'©αT'.charAt(0) == '©' && '©αT'.charAt(1) == 'α' && '©αT'.charAt(2) == 'T'",
    // indexOf
    "'tacocat'.indexOf('') == 0",
    "'tacocat'.indexOf('ac') == 1",
    "'tacocat'.indexOf('none') == -1",
    "'tacocat'.indexOf('', 3) == 3",
    "'tacocat'.indexOf('a', 3) == 5",
    "'tacocat'.indexOf('at', 3) == 5",
    "'ta©o©αT'.indexOf('©') == 2",
    "'ta©o©αT'.indexOf('©', 3) == 4",
    "'ta©o©αT'.indexOf('©αT', 3) == 4",
    "'ta©o©αT'.indexOf('©α', 5) == -1",
    "'ijk'.indexOf('k') == 2",
    "'hello wello'.indexOf('hello wello') == 0",
    "'hello wello'.indexOf('ello', 6) == 7",
    "'hello wello'.indexOf('elbo room!!') == -1",
    // lastIndexOf
    "''.lastIndexOf('@@') == -1",
    "'tacocat'.lastIndexOf('') == 7",
    "'tacocat'.lastIndexOf('at') == 5",
    "'tacocat'.lastIndexOf('none') == -1",
    "'tacocat'.lastIndexOf('', 3) == 3",
    "'tacocat'.lastIndexOf('a', 3) == 1",
    "'ta©o©αT'.lastIndexOf('©') == 4",
    "'ta©o©αT'.lastIndexOf('©', 3) == 2",
    "'ta©o©αT'.lastIndexOf('©α', 4) == 4",
    "'hello wello'.lastIndexOf('ello', 6) == 1",
    "'hello wello'.lastIndexOf('low') == -1",
    "'hello wello'.lastIndexOf('elbo room!!') == -1",
    "'hello wello'.lastIndexOf('hello wello') == 0",
    "'bananananana'.lastIndexOf('nana', 7) == 6",
    // lowerAscii, upperAscii
    "'TacoCat'.lowerAscii() == 'tacocat'",
    "'TacoCÆt'.lowerAscii() == 'tacocÆt'",
    "'TacoCÆt Xii'.lowerAscii() == 'tacocÆt xii'",
    "'tacoCat'.upperAscii() == 'TACOCAT'",
    "'tacoCαt'.upperAscii() == 'TACOCαT'",
    "'TacoCÆt Xii'.upperAscii() == 'TACOCÆT XII'",
    // replace
    "'12 days 12 hours'.replace('{0}', '2') == '12 days 12 hours'",
    "'{0} days {0} hours'.replace('{0}', '2') == '2 days 2 hours'",
    "'{0} days {0} hours'.replace('{0}', '2', 1).replace('{0}', '23') == '2 days 23 hours'",
    "'1 ©αT taco'.replace('αT', 'o©α') == '1 ©o©α taco'",
    // split
    "'hello world'.split(' ') == ['hello', 'world']",
    "'hello world events!'.split(' ', 0) == []",
    "'hello world events!'.split(' ', 1) == ['hello world events!']",
    "'o©o©o©o'.split('©', -1) == ['o', 'o', 'o', 'o']",
    // substring
    "'tacocat'.substring(4) == 'cat'",
    "'tacocat'.substring(7) == ''",
    "'tacocat'.substring(0, 4) == 'taco'",
    "'tacocat'.substring(4, 4) == ''",
    "'ta©o©αT'.substring(2, 6) == '©o©α'",
    "'ta©o©αT'.substring(7, 7) == ''",
    // trim
    "' \\f\\n\\r\\t\\vtext  '.trim() == 'text'",
    "'\\u0085\\u00a0\\u1680text'.trim() == 'text'",
    "'text\\u2000\\u2001\\u2002\\u2003\\u2004\\u2004\\u2006\\u2007\\u2008\\u2009'.trim() == 'text'",
    "'\\u200atext\\u2028\\u2029\\u202F\\u205F\\u3000'.trim() == 'text'",
    // join
    "['x', 'y'].join() == 'xy'",
    "['x', 'y'].join('-') == 'x-y'",
    "[].join() == ''",
    "[].join('-') == ''",
    // strings.quote
    "strings.quote(\"first\\nsecond\") == \"\\\"first\\\\nsecond\\\"\"",
    "strings.quote(\"bell\\a\") == \"\\\"bell\\\\a\\\"\"",
    "strings.quote(\"verbatim\") == \"\\\"verbatim\\\"\"",
    "strings.quote(\"mid string \\\" quote\") == \"\\\"mid string \\\\\\\" quote\\\"\"",
    "strings.quote(\"завтра\") == \"\\\"завтра\\\"\"",
    "strings.quote(\"\") == '\"\"'",
    // format
    "\"no substitution\".format([]) == 'no substitution'",
    "\"str is %s and some more\".format([\"filler\"]) == 'str is filler and some more'",
    "\"%% and also %%\".format([]) == '% and also %'",
    "\"%d %d %d, %s %s %s\".format([1, 2, 3, \"A\", \"B\", \"C\"]) == '1 2 3, A B C'",
    "\"%.3f\".format([1.2345]) == '1.234'",
    "\"this is 5 in binary: %b\".format([5]) == 'this is 5 in binary: 101'",
    "\"%o\".format([11]) == '13'",
    "\"%x is 20 in hexadecimal\".format([30]) == '1e is 20 in hexadecimal'",
    "\"%X\".format([\"Hello world!\"]) == '48656C6C6F20776F726C6421'",
    "\"%.6e\".format([1052.032911275]) == '1.052033e+03'",
    "\"%f\".format([2.71828]) == '2.718280'",
    "\"%s\".format([null]) == 'null'",
    "\"%s\".format([duration(\"1h45m47s\")]) == '6347s'",
    "\"%s\".format([[\"abc\", 3.14, null, [9, 8, 7, 6]]]) == '[abc, 3.14, null, [9, 8, 7, 6]]'",
    // reverse (the extension's version 3)
    "'gums'.reverse() == 'smug'",
    "'John Smith'.reverse() == 'htimS nhoJ'",
    // the math extension
    "math.greatest(1, 2.5, 3u) == 3u",
    "math.least([-1.5, 2, 3]) == -1.5",
    "math.ceil(1.2) == 2.0 && math.floor(1.8) == 1.0 && math.round(2.5) == 3.0",
    "math.abs(-5) == 5 && math.sign(-2.5) == -1.0",
    "math.bitOr(1, 2) == 3 && math.bitShiftLeft(1, 4) == 16",
    "math.isNaN(double('NaN')) && math.isInf(double('Infinity'))",
    "math.sqrt(16) == 4.0",
];

#[test]
fn the_specifications_examples_hold() {
    for when in EXAMPLES {
        assert_eq!(holds(when, json!({})), Ok(true), "{when}");
    }
}

/// The same functions on the event's attributes: nothing is known before the event, so the
/// interpreter, with the budget, decides.
#[test]
fn on_event_attributes() {
    let attributes = json!({
        "sku": "SALE-123", "tags": "a,b,c", "name": "  Ada Lovelace ",
        "order-id": "o-7", "meta": {"gift-card": true, "source.app": "ios"},
        "items": ["x", "y"], "amount": 12.5, "pct": 0.25, "text": "ta©o©αT",
    });
    for when in [
        "event.sku.lowerAscii().startsWith('sale-')",
        "event.tags.split(',') == ['a', 'b', 'c']",
        "event.tags.split(',').size() == 3",
        "event.name.trim() == 'Ada Lovelace'",
        "event.name.trim().substring(0, 3).upperAscii() == 'ADA'",
        "event.name.indexOf('Love') == 6 && event.name.lastIndexOf('a') == 11",
        "event.text.indexOf('©', 3) == 4 && event.text.lastIndexOf('©α', 4) == 4",
        "event.text.charAt(5) == 'α'",
        "event.tags.replace(',', ';') == 'a;b;c'",
        "event.items.join('+') == 'x+y'",
        "'%s costs %.2f'.format([event.sku, event.amount]) == 'SALE-123 costs 12.50'",
        "strings.quote(event.sku) == '\"SALE-123\"'",
        "math.greatest(event.amount, 10) == 12.5",
        "math.round(event.pct * 100.0) == 25.0",
        // Backtick-quoted field names, for attribute keys that are not identifiers.
        "event.`order-id` == 'o-7'",
        "event.meta.`gift-card` && event.meta.`source.app` == 'ios'",
        "has(event.`order-id`) && !has(event.`no-such`)",
    ] {
        assert_eq!(holds(when, attributes.clone()), Ok(true), "{when}");
    }
}

#[test]
fn extension_functions_work_in_every_kind_of_expression() {
    // An audience, a sum's value and a reward's amount_expr.
    let spec = json!({"key": "k", "name": "n",
        "audience": "customer.`loyalty-tier`.lowerAscii() == 'gold'",
        "goal": {"kind": "sum", "when": "event.type.startsWith('order')",
                 "value": "double(event.total.split(' ')[0])", "target": 100},
        "rewards": [{"kind": "points",
                     "amount_expr": "int(math.ceil(progress.sum / 10.0))"}]});
    let campaign = CompiledCampaign::compile(CampaignSpec::from_value(&spec).unwrap()).unwrap();
    let customer = campaigns::Customer {
        id: "c".into(),
        attributes: json!({"loyalty-tier": "GOLD"}).as_object().unwrap().clone(),
    };
    let e = Event::from_json(
        &json!({"id": "e", "customer_id": "c", "type": "order.completed",
        "occurred_at": "2026-12-01T10:00:00Z", "attributes": {"total": "123.4 EUR"}}),
    )
    .unwrap();
    let bindings = Bindings::new(&e, Some(&customer));
    assert_eq!(
        campaign.audience_holds(&bindings).map_err(|e| e.message),
        Ok(true)
    );
    let progress = ProgressView {
        sum: 123.4,
        ..ProgressView::default()
    };
    assert_eq!(
        campaign
            .goal_value(&bindings, progress)
            .map_err(|e| e.message),
        Ok(campaigns::GoalValue::Number(123.4))
    );
    assert_eq!(
        campaign
            .reward_amount(0, &bindings, progress)
            .map(|a| a.get())
            .map_err(|e| e.message),
        Ok(13.0)
    );
}

#[test]
fn runtime_errors_are_cels() {
    let attributes = json!({"s": "tacocat"});
    for (when, error) in [
        ("event.s.charAt(8) == ''", "index out of range: 8"),
        ("event.s.substring(3, 2) == ''", "invalid substring range"),
        ("event.s.indexOf('a', 9) == 0", "index out of range: 9"),
        (
            "event.s.lastIndexOf('a', -1) == 0",
            "index out of range: -1",
        ),
        (
            "'%q'.format([event.s]) == ''",
            "unrecognized formatting clause",
        ),
        (
            "'%d'.format([event.s]) == ''",
            "decimal clause can only be used",
        ),
        ("'%s %s'.format([event.s]) == ''", "index 1 out of range"),
        ("event.s.indexOf(1) == 0", "no matching overload"),
    ] {
        let message = holds(when, attributes.clone()).expect_err(when);
        assert!(message.contains(error), "{when}: {message}");
    }
    // No format width exists, and a precision is at most 100.
    let message = holds("'%10000000d'.format([event.n]) == ''", json!({"n": 1})).unwrap_err();
    assert!(
        message.contains("unrecognized formatting clause"),
        "{message}"
    );
    let message = holds("'%.1000000f'.format([event.n]) == ''", json!({"n": 1.5})).unwrap_err();
    assert!(
        message.contains("exceeds maximum allowed precision"),
        "{message}"
    );
}

#[test]
fn what_cel_defines_but_offerflow_does_not_is_refused_with_a_reason() {
    for (source, expected) in [
        (
            "{'a': 1}.all(k, v, v > 0)",
            "`all` with two variables (`all(k, v, ...)`) is not supported",
        ),
        (
            "[1].exists(i, v, v > 0)",
            "`exists` with two variables (`exists(k, v, ...)`) is not supported",
        ),
        (
            "{'a': 1}.transformMap(k, v, v + 1) == {}",
            "`transformMap` with two variables",
        ),
        ("event.a.?b == 1", "unsupported syntax"),
        ("strings.nosuch('a')", "unknown function `strings.nosuch`"),
        ("math.nosuch(1) == 1", "unknown function `math.nosuch`"),
        ("[1, 2].sort() == [1, 2]", "unknown function `sort`"),
    ] {
        let errors = Expr::compile(source, Scope::Event).unwrap_err();
        assert!(errors[0].message.contains(expected), "{source}: {errors:?}");
    }
}

/// A comprehension variable may be called like a namespace without being one.
#[test]
fn a_bound_name_is_not_a_namespace() {
    assert_eq!(
        holds(
            "event.l.exists(math, math.startsWith('a'))",
            json!({"l": ["b", "ab"]})
        ),
        Ok(true)
    );
}
