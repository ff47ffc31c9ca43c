//! Condition evaluation, side by side: the same rule over the same 1,000 facts through
//! Offerflow's compiled campaign, the raw `cel` crate and `zen-expression`. Each engine is
//! first checked to agree with the hand-written answer on every fact.
//!
//! Like for like: Offerflow's events are read (parsed, validated) before timing, as ingestion
//! does once per event, so zen is measured both ways: converting the JSON fact on every
//! evaluation (as before), and on values converted beforehand (like for like).
//!
//! Run: `cd bench && cargo bench --bench conditions`

use campaigns::{Bindings, CompiledCampaign, Customer, Event, ProgressView};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use offerflow_bench::{CEL, ZEN, expected, facts};
use serde_json::{Value, json};
use std::hint::black_box;

/// Offerflow: the fact as an event and a profile, bound once, then the compiled condition.
fn offerflow_inputs(facts: &[Value]) -> (CompiledCampaign, Vec<(Event, Customer)>) {
    let spec = json!({"key": "bench", "name": "bench",
        "goal": {"kind": "count", "when": CEL, "target": 1},
        "rewards": [{"kind": "points", "amount": 1}]});
    let campaign =
        CompiledCampaign::compile(campaigns::CampaignSpec::from_value(&spec).unwrap()).unwrap();
    let inputs = facts
        .iter()
        .map(|f| {
            let mut e = f["event"].clone();
            let attributes =
                json!({"amount": e["amount"].take(), "category": e["category"].take()});
            let event = Event::from_json(&json!({"id": e["id"], "customer_id": e["customer_id"],
                "type": e["type"], "occurred_at": e["occurred_at"], "attributes": attributes}))
            .unwrap();
            let customer = Customer {
                id: f["customer"]["id"].as_str().unwrap().to_owned(),
                attributes: f["customer"].as_object().unwrap().clone(),
            };
            (event, customer)
        })
        .collect();
    (campaign, inputs)
}

fn offerflow(campaign: &CompiledCampaign, event: &Event, customer: &Customer) -> bool {
    let bindings = Bindings::new(event, Some(customer));
    campaign
        .condition_holds(0, &bindings, ProgressView::default())
        .unwrap_or(false)
}

/// The raw crate as its docs suggest for repeated runs: one standard environment shared by
/// every context, the facts converted from JSON on each evaluation.
fn raw_cel(env: &std::sync::Arc<cel::Env>, program: &cel::Program, fact: &Value) -> bool {
    let mut context = cel::Context::with_env(std::sync::Arc::clone(env));
    context
        .add_variable("event", fact["event"].clone())
        .unwrap();
    context
        .add_variable("customer", fact["customer"].clone())
        .unwrap();
    matches!(program.execute(&context), Ok(cel::Value::Bool(true)))
}

fn zen(
    expression: &zen_expression::Expression<zen_expression::expression::Standard>,
    vm: &mut zen_expression::vm::VM,
    fact: &Value,
) -> bool {
    let variable: zen_expression::variable::Variable = fact.clone().into();
    matches!(
        expression.evaluate_with(variable, vm),
        Ok(zen_expression::variable::Variable::Bool(true))
    )
}

/// zen on a value converted beforehand: its variables are reference-counted, so the clone is
/// cheap, as Offerflow's parsed event is borrowed.
fn zen_converted(
    expression: &zen_expression::Expression<zen_expression::expression::Standard>,
    vm: &mut zen_expression::vm::VM,
    variable: &zen_expression::variable::Variable,
) -> bool {
    matches!(
        expression.evaluate_with(variable.clone(), vm),
        Ok(zen_expression::variable::Variable::Bool(true))
    )
}

fn conditions(c: &mut Criterion) {
    let facts = facts();
    let (campaign, inputs) = offerflow_inputs(&facts);
    let env = std::sync::Arc::new(cel::Env::stdlib());
    let program = env.compile(CEL).unwrap();
    let compiled_zen = zen_expression::compile_expression(ZEN).unwrap();
    let mut vm = zen_expression::vm::VM::new();
    let variables: Vec<zen_expression::variable::Variable> =
        facts.iter().map(|f| f.clone().into()).collect();
    for (i, fact) in facts.iter().enumerate() {
        let want = expected(fact);
        assert_eq!(
            offerflow(&campaign, &inputs[i].0, &inputs[i].1),
            want,
            "offerflow, fact {i}"
        );
        assert_eq!(raw_cel(&env, &program, fact), want, "cel, fact {i}");
        assert_eq!(zen(&compiled_zen, &mut vm, fact), want, "zen, fact {i}");
        for round in 0..2 {
            assert_eq!(
                zen_converted(&compiled_zen, &mut vm, &variables[i]),
                want,
                "zen on a converted value, fact {i}, round {round}"
            );
        }
    }
    let mut group = c.benchmark_group("condition over 1,000 facts");
    group.throughput(Throughput::Elements(facts.len() as u64));
    group.bench_function("offerflow compiled campaign", |b| {
        b.iter(|| {
            inputs
                .iter()
                .filter(|(e, cu)| offerflow(&campaign, black_box(e), cu))
                .count()
        })
    });
    group.bench_function("cel crate (raw)", |b| {
        b.iter(|| {
            facts
                .iter()
                .filter(|f| raw_cel(&env, &program, black_box(f)))
                .count()
        })
    });
    group.bench_function("zen-expression (values converted beforehand)", |b| {
        b.iter(|| {
            variables
                .iter()
                .filter(|v| zen_converted(&compiled_zen, &mut vm, black_box(v)))
                .count()
        })
    });
    group.bench_function("zen-expression (JSON converted per evaluation)", |b| {
        b.iter(|| {
            facts
                .iter()
                .filter(|f| zen(&compiled_zen, &mut vm, black_box(f)))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, conditions);
criterion_main!(benches);
