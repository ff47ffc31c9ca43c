// A customer: profile, offers with progress and what is still missing, rewards, and their
// latest events with what each did, so "why did they not get it" has an answer.

import { gql, can } from "./api.js";
import { h, fill, when, badge, table } from "./dom.js";
import { toYaml } from "./yaml.js";

const CUSTOMER = `query($id: String!) { customer(id: $id) {
  id attributes
  offers { campaign name status missing cyclesCompleted perCustomer
    progress { current target percent }
    rewardsEarned { kind amount } }
  rewards(first: 50) { nodes { id campaign eventId cycle kind amount code issuedAt } }
  events(first: 20) { processedAt
    outcome { eventId status error { field reason }
      outcomes { campaign result reason cycle errors { path message } }
      rewards { campaign kind amount } } }
} }`;

const words = (s) => (s ? s.toLowerCase().replaceAll("_", " ") : "");

export async function customerPage(main, id) {
  const input = h("input", { id: "customer-id", type: "search", value: id || "", autocomplete: "off", required: true });
  const verdict = can("customer");
  const out = h("div", { id: "customer", "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "lookup",
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        const v = input.value.trim();
        if (v) location.hash = `#/customer/${encodeURIComponent(v)}`;
      },
    },
    h("label", { for: "customer-id" }, "Customer id"),
    input,
    h("button", { type: "submit", class: "primary", id: "lookup", disabled: !verdict.ok }, "Look up"),
  );
  fill(main, h("header", { class: "page-head" }, h("h1", {}, "Customers")), form, out);
  if (!verdict.ok) {
    input.disabled = true;
    fill(out, h("p", { class: "why" }, verdict.reason));
    return;
  }
  if (!id) {
    input.focus();
    return;
  }
  fill(out, h("p", {}, "Loading…"));
  try {
    const c = (await gql(CUSTOMER, { id })).customer;
    fill(out, render(c));
  } catch (e) {
    fill(out, h("p", { class: "error" }, e.message));
  }
}

function render(c) {
  const attrs = c.attributes && Object.keys(c.attributes).length ? toYaml(c.attributes) : null;
  return h(
    "div",
    { class: "customer" },
    h("h2", { id: "customer-title" }, `Customer ${c.id}`),
    h(
      "section",
      { "aria-labelledby": "profile-title" },
      h("h3", { id: "profile-title" }, "Profile"),
      attrs ? h("pre", { class: "code" }, attrs) : h("p", {}, "No profile stored: audiences see no attributes."),
    ),
    h(
      "section",
      { "aria-labelledby": "offers-title" },
      h("h3", { id: "offers-title" }, "Offers"),
      c.offers.length
        ? table(
            "Campaigns this customer can see",
            ["Campaign", "Status", "Progress", "Still missing", "Completed", "Earned"],
            c.offers.map((o) => [
              h("a", { href: `#/campaign/${encodeURIComponent(o.campaign)}` }, o.name),
              badge(words(o.status), o.status.toLowerCase()),
              h(
                "span",
                { class: "progress" },
                h("progress", { max: 100, value: o.progress.percent, "aria-label": `${Math.round(o.progress.percent)} percent` }),
                ` ${o.progress.current} / ${o.progress.target}`,
              ),
              o.missing || "—",
              `${o.cyclesCompleted} of ${o.perCustomer}`,
              o.rewardsEarned.map((r) => `${r.amount} ${r.kind.toLowerCase()}`).join(", ") || "—",
            ]),
            { id: "offers-table" },
          )
        : h("p", {}, "No published campaign is open to this customer."),
    ),
    h(
      "section",
      { "aria-labelledby": "rewards-title" },
      h("h3", { id: "rewards-title" }, "Rewards"),
      c.rewards.nodes.length
        ? table(
            "Rewards earned, in issue order",
            ["Issued", "Campaign", "Reward", "Cycle", "Event", "Code"],
            c.rewards.nodes.map((r) => [
              when(r.issuedAt),
              r.campaign,
              `${r.amount} ${r.kind.toLowerCase()}`,
              String(r.cycle),
              r.eventId,
              r.code || "—",
            ]),
            { id: "rewards-table" },
          )
        : h("p", {}, "No rewards yet."),
    ),
    h(
      "section",
      { "aria-labelledby": "events-title" },
      h("h3", { id: "events-title" }, "Latest events"),
      c.events.length
        ? table(
            "What each event did, newest first",
            ["Processed", "Event", "Status", "What it did"],
            c.events.map((e) => [
              when(e.processedAt),
              e.outcome.eventId,
              badge(words(e.outcome.status), e.outcome.status.toLowerCase()),
              e.outcome.error
                ? `${e.outcome.error.field}: ${e.outcome.error.reason}`
                : h(
                    "ul",
                    { class: "plain" },
                    e.outcome.outcomes.map((o) =>
                      h(
                        "li",
                        {},
                        h("code", {}, o.campaign),
                        `: ${words(o.result)}${o.reason ? ` (${words(o.reason)})` : ""}`,
                        o.errors.map((x) => `; ${x.path}: ${x.message}`).join(""),
                      ),
                    ),
                    e.outcome.outcomes.length ? null : h("li", {}, "No campaign could use it."),
                  ),
            ]),
            { id: "events-table" },
          )
        : h("p", {}, "No events processed for this customer."),
    ),
  );
}
