// Check before launch: the spec in the editor run over events pasted or uploaded (a JSON
// array or NDJSON), in memory on the server (`simulateCampaign`), with each event's outcome,
// the progress after it and the rewards.

import { gql, can } from "./api.js";
import { h, fill, field, guarded, badge, table } from "./dom.js";

const SIMULATE = `query($source: String!, $events: [JSON!]!, $customers: [CustomerInput!]!) {
  simulateCampaign(source: $source, events: $events, customers: $customers) {
    counts { processed duplicate conflict rejected }
    evaluationErrors
    rewards { customerId eventId kind amount code }
    events {
      customerId status cycle
      progress { current target percent }
      result { eventId status error { field reason }
        outcomes { result reason errors { path message } } rewards { kind amount } }
    }
  } }`;

const EXAMPLE = `{"id":"e1","customer_id":"c1","type":"order.completed","occurred_at":"2026-12-01T10:00:00Z","attributes":{"amount":30}}
{"id":"e2","customer_id":"c1","type":"order.completed","occurred_at":"2026-12-02T10:00:00Z","attributes":{"amount":40}}`;

/** Events from text: a JSON array, or one JSON object a line. Throws naming the bad line. */
export function parseEvents(text) {
  const t = text.trim();
  if (!t) throw new Error("Paste or upload at least one event.");
  if (t.startsWith("[")) {
    let list;
    try {
      list = JSON.parse(t);
    } catch (e) {
      throw new Error(`The JSON array does not parse: ${e.message}`);
    }
    if (!Array.isArray(list)) throw new Error("Expected a JSON array of events.");
    return list;
  }
  return t.split("\n").flatMap((line, i) => {
    if (!line.trim()) return [];
    try {
      return [JSON.parse(line)];
    } catch (e) {
      throw new Error(`Line ${i + 1} is not JSON: ${e.message}`);
    }
  });
}

/** The panel; `source()` answers the editor's text. */
export function simulatePanel(source) {
  const events = h("textarea", { id: "sim-events", class: "code", rows: 8, spellcheck: "false", placeholder: EXAMPLE });
  const customers = h("textarea", {
    id: "sim-customers",
    class: "code",
    rows: 2,
    spellcheck: "false",
    placeholder: '[{"id":"c1","attributes":{"tier":"gold"}}]',
  });
  const upload = h("input", { type: "file", id: "sim-file", accept: ".json,.ndjson,.jsonl,.txt,application/json" });
  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    if (file) events.value = await file.text();
  });
  const out = h("div", { id: "sim-result", "aria-live": "polite" });

  async function run() {
    let list;
    let profiles = [];
    try {
      list = parseEvents(events.value);
      if (customers.value.trim()) profiles = JSON.parse(customers.value);
    } catch (e) {
      fill(out, h("p", { class: "error" }, e.message));
      return;
    }
    fill(out, h("p", {}, "Simulating…"));
    try {
      const s = (await gql(SIMULATE, { source: source(), events: list, customers: profiles })).simulateCampaign;
      fill(out, result(s));
    } catch (e) {
      fill(out, h("p", { class: "error" }, `The simulation failed: ${e.message}`));
    }
  }

  const button = guarded(h("button", { type: "button", class: "primary", id: "simulate", onclick: run }, "Simulate"), can("author"));
  return h(
    "div",
    { class: "simulate" },
    h("p", {}, "Runs the spec in the editor (saved or not) over these events. Nothing is stored and no customer sees it."),
    field("Events: a JSON array, or one JSON object a line (NDJSON)", events),
    field("Or upload a file", upload),
    field("Customer profiles (optional JSON array), for audiences", customers),
    h(
      "div",
      { class: "actions" },
      button,
      h("button", { type: "button", class: "quiet", onclick: () => (events.value = EXAMPLE) }, "Use example events"),
    ),
    out,
  );
}

function outcome(r) {
  if (r.error) return `${r.status.toLowerCase()}: ${r.error.field ? `${r.error.field}: ` : ""}${r.error.reason}`;
  const o = r.outcomes[0];
  if (!o) return r.status.toLowerCase();
  const why = o.reason ? ` (${o.reason.toLowerCase().replaceAll("_", " ")})` : "";
  const errors = o.errors.map((e) => `; ${e.path}: ${e.message}`).join("");
  return `${o.result.toLowerCase().replaceAll("_", " ")}${why}${errors}`;
}

function result(s) {
  const c = s.counts;
  const rewards = s.rewards.length;
  return h(
    "div",
    {},
    h(
      "p",
      { class: "summary", id: "sim-summary" },
      `${c.processed} processed, ${c.rejected} rejected, ${c.duplicate} duplicate, ${c.conflict} conflict; `,
      `${rewards} reward${rewards === 1 ? "" : "s"} issued`,
      s.evaluationErrors ? `; ${s.evaluationErrors} expression errors` : "",
      ".",
    ),
    table(
      "Each event, in order",
      ["#", "Event", "Customer", "Outcome", "Progress after", "Offer", "Rewards"],
      s.events.map((e, i) => [
        String(i + 1),
        e.result.eventId || "—",
        e.customerId || "—",
        outcome(e.result),
        e.progress
          ? h(
              "span",
              { class: "progress" },
              h("progress", { max: 100, value: e.progress.percent, "aria-label": `${Math.round(e.progress.percent)} percent` }),
              ` ${e.progress.current} / ${e.progress.target}`,
            )
          : "—",
        e.status ? badge(e.status.replaceAll("_", " ").toLowerCase(), e.status.toLowerCase()) : "—",
        e.result.rewards.map((r) => `${r.amount} ${r.kind.toLowerCase()}`).join(", ") || "—",
      ]),
      { id: "sim-table" },
    ),
  );
}
