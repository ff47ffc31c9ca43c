// The form for the five mechanics. It reads and writes the same spec document as the YAML:
// `set(spec)` shows a spec, `read(base)` answers `base` with the form's fields put in, so
// what the form does not show (schedule, audience, more rewards) is kept.

import { h, field, fill } from "./dom.js";

const KINDS = ["count", "sum", "distinct", "streak", "sequence"];
const REWARDS = ["points", "coupon", "badge", "discount", "custom"];
// Which goal fields each mechanic takes (DESIGN §4).
const TAKES = {
  count: ["when", "target", "within"],
  sum: ["when", "value", "target", "within"],
  distinct: ["when", "value", "target", "within"],
  streak: ["when", "period", "target"],
  sequence: ["steps", "within"],
};

const input = (id, attrs = {}) => h("input", { id, type: "text", ...attrs });
const select = (id, options) =>
  h("select", { id }, options.map((o) => h("option", { value: o }, o)));

export function createForm({ onInput }) {
  const f = {
    key: input("form-key", { pattern: "[a-z0-9-]{1,64}" }),
    name: input("form-name"),
    description: h("textarea", { id: "form-description", rows: 2 }),
    kind: select("form-kind", KINDS),
    when: input("form-when", { class: "code" }),
    value: input("form-value", { class: "code" }),
    target: input("form-target", { inputmode: "decimal" }),
    within: input("form-within", { placeholder: "7d" }),
    period: select("form-period", ["day", "week"]),
    rewardKind: select("form-reward-kind", REWARDS),
    amount: input("form-amount", { inputmode: "decimal" }),
    perCustomer: input("form-per-customer", { inputmode: "numeric" }),
    maxRewards: input("form-max-rewards", { inputmode: "numeric", placeholder: "no cap" }),
  };
  const steps = h("ol", { class: "steps", id: "form-steps" });
  const rows = {
    when: field("Which events count (CEL)", f.when, 'e.g. event.type == "order.completed"'),
    value: field("Value (CEL)", f.value, "what is summed or collected, e.g. event.amount"),
    target: field("Target", f.target),
    within: field("Within", f.within, "a rolling window: 30m, 12h, 7d, 2w (empty: none)"),
    period: field("Period", f.period),
    steps: h(
      "fieldset",
      { class: "steps-box" },
      h("legend", {}, "Steps, in order"),
      steps,
      h("button", { type: "button", class: "quiet", id: "add-step", onclick: () => addStep("", "", true) }, "Add a step"),
    ),
  };
  const note = h("p", { class: "hint", id: "form-note" });
  const set = h(
    "fieldset",
    { class: "form-grid", id: "mechanics-form" },
    h("legend", {}, "Campaign"),
    field("Key", f.key, "lowercase letters, digits and -"),
    field("Name", f.name),
    field("Description", f.description),
    field("Mechanic", f.kind),
    Object.values(rows),
    h(
      "div",
      { class: "row" },
      field("Reward", f.rewardKind),
      field("Amount", f.amount),
    ),
    h(
      "div",
      { class: "row" },
      field("Completions per customer", f.perCustomer),
      field("Most rewards in all", f.maxRewards),
    ),
  );

  function addStep(name, when, announce) {
    const n = steps.children.length + 1;
    const nameInput = input(`form-step-name-${n}`, { "data-step": "name", value: name });
    const whenInput = input(`form-step-when-${n}`, { "data-step": "when", class: "code", value: when });
    const li = h(
      "li",
      {},
      field(`Step ${n} name`, nameInput),
      field(`Step ${n} event (CEL)`, whenInput),
      h(
        "button",
        {
          type: "button",
          class: "quiet",
          "aria-label": `Remove step ${n}`,
          onclick: () => {
            li.remove();
            onInput();
          },
        },
        "Remove",
      ),
    );
    steps.appendChild(li);
    if (announce) {
      nameInput.focus();
      onInput();
    }
  }

  function showKind() {
    const takes = TAKES[f.kind.value] || [];
    for (const [name, row] of Object.entries(rows)) row.hidden = !takes.includes(name);
  }

  set.addEventListener("input", (e) => {
    if (e.target === f.kind) showKind();
    onInput();
  });
  set.addEventListener("change", (e) => {
    if (e.target === f.kind) {
      showKind();
      onInput();
    }
  });

  const text = (v) => (v === undefined || v === null ? "" : String(v));
  const num = (v) => (v.trim() === "" || Number.isNaN(Number(v)) ? v.trim() : Number(v));

  return {
    el: h("div", { class: "form-wrap" }, note, set),
    /** Shows `spec`; `null` with a reason disables the form. */
    set(spec, reason) {
      set.disabled = !spec;
      note.textContent = reason || "The form and the YAML edit the same spec.";
      if (!spec) return;
      const g = spec.goal || {};
      const r = (spec.rewards || [])[0] || {};
      const l = spec.limits || {};
      f.key.value = text(spec.key);
      f.name.value = text(spec.name);
      f.description.value = text(spec.description);
      f.kind.value = g.kind || "count";
      f.when.value = text(g.when);
      f.value.value = text(g.value);
      f.target.value = text(g.target);
      f.within.value = text(g.within);
      f.period.value = g.period || "day";
      f.rewardKind.value = r.kind || "points";
      f.amount.value = text(r.amount);
      f.perCustomer.value = text(l.per_customer ?? 1);
      f.maxRewards.value = text(l.max_rewards);
      fill(steps);
      for (const s of g.steps || []) addStep(s.name, s.when, false);
      showKind();
    },
    /** `base` with the form's fields put in. */
    read(base) {
      const spec = structuredClone(base || {});
      spec.key = f.key.value.trim();
      spec.name = f.name.value;
      if (f.description.value.trim()) spec.description = f.description.value;
      else delete spec.description;
      const kind = f.kind.value;
      const goal = { kind };
      const takes = TAKES[kind];
      if (takes.includes("when")) goal.when = f.when.value;
      if (takes.includes("value")) goal.value = f.value.value;
      if (takes.includes("period")) goal.period = f.period.value;
      if (takes.includes("target")) goal.target = num(f.target.value);
      if (takes.includes("steps")) {
        goal.steps = [...steps.children].map((li) => ({
          name: li.querySelector('[data-step="name"]').value,
          when: li.querySelector('[data-step="when"]').value,
        }));
      }
      if (takes.includes("within") && f.within.value.trim()) goal.within = f.within.value.trim();
      spec.goal = goal;
      const rewards = Array.isArray(spec.rewards) ? spec.rewards : [];
      const first = { ...(rewards[0] || {}), kind: f.rewardKind.value };
      if (f.amount.value.trim()) {
        first.amount = num(f.amount.value);
        delete first.amount_expr;
      } else delete first.amount;
      spec.rewards = [first, ...rewards.slice(1)];
      const limits = { per_customer: num(f.perCustomer.value || "1") };
      if (f.maxRewards.value.trim()) limits.max_rewards = num(f.maxRewards.value);
      spec.limits = limits;
      return spec;
    },
  };
}
