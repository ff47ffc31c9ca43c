// The condition benchmark through json-rules-engine: the same rule as Offerflow's
// `event.type == "order.completed" && event.amount >= 25 && customer.tier in ["gold", "silver"]`
// over the same 1,000 facts (written by `cargo run --release --bin conditions-data`).
// Prints evaluations per second for several runs, and checks every answer.
'use strict';
const { Engine } = require('json-rules-engine');
const facts = require('./facts.json');

const rule = {
  conditions: {
    all: [
      { fact: 'event', path: '$.type', operator: 'equal', value: 'order.completed' },
      { fact: 'event', path: '$.amount', operator: 'greaterThanInclusive', value: 25 },
      { fact: 'customer', path: '$.tier', operator: 'in', value: ['gold', 'silver'] },
    ],
  },
  event: { type: 'qualifies' },
};

function expected(f) {
  return f.event.type === 'order.completed' && f.event.amount >= 25 &&
    (f.customer.tier === 'gold' || f.customer.tier === 'silver');
}

async function pass(engine) {
  let trues = 0;
  for (const f of facts) {
    const { events } = await engine.run({ event: f.event, customer: f.customer });
    if (events.length > 0) trues += 1;
  }
  return trues;
}

async function main() {
  const engine = new Engine([rule], { allowUndefinedFacts: true });
  for (const f of facts) {
    const { events } = await engine.run({ event: f.event, customer: f.customer });
    if ((events.length > 0) !== expected(f)) throw new Error(`disagrees on ${f.event.id}`);
  }
  for (let i = 0; i < 3; i++) await pass(engine); // warm up
  const rates = [];
  for (let run = 0; run < 7; run++) {
    const start = process.hrtime.bigint();
    const passes = 5;
    for (let p = 0; p < passes; p++) await pass(engine);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push((passes * facts.length) / seconds);
  }
  rates.sort((a, b) => a - b);
  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  console.log(`json-rules-engine ${require('json-rules-engine/package.json').version} on node ${process.version}: ` +
    `evaluations/s min ${fmt(rates[0])}, median ${fmt(rates[3])}, max ${fmt(rates[6])} ` +
    `(${(1e9 / rates[3]).toFixed(0)} ns per evaluation)`);
}

main().catch((e) => { console.error(e); process.exit(1); });
