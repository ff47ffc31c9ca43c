// The campaigns list: status, version, schedule, rewards issued and budget left; filtered by
// status on the server, searched by key or name in what was read.

import { gql, can } from "./api.js";
import { h, fill, field, when, badge, table, guarded } from "./dom.js";

const LIST = `query($status: CampaignStatus, $after: String) {
  campaigns(status: $status, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { key name status version hasUnpublishedChanges startsAt endsAt rewardsIssued budgetLeft }
  } }`;
const STATUSES = ["DRAFT", "PUBLISHED", "PAUSED", "ENDED", "ARCHIVED"];

export async function campaignsPage(main) {
  const status = h(
    "select",
    { id: "filter-status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s }, s.toLowerCase())),
  );
  const search = h("input", { id: "search", type: "search", placeholder: "Key or name", autocomplete: "off" });
  const body = h("div", { id: "campaign-list", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "quiet", id: "more", hidden: true }, "Show more");
  let items = [];
  let cursor = null;

  function render() {
    const q = search.value.trim().toLowerCase();
    const shown = q
      ? items.filter((c) => c.key.toLowerCase().includes(q) || c.name.toLowerCase().includes(q))
      : items;
    if (!shown.length) {
      fill(body, h("p", { class: "empty" }, items.length ? "No campaign matches." : "No campaigns yet."));
      return;
    }
    fill(
      body,
      table(
        `${shown.length} campaign${shown.length === 1 ? "" : "s"}`,
        ["Name", "Key", "Status", "Version", "Schedule", "Rewards issued", "Budget left"],
        shown.map((c) => [
          h("a", { href: `#/campaign/${encodeURIComponent(c.key)}`, class: "name" }, c.name),
          h("code", {}, c.key),
          badge(c.status),
          c.version === 0
            ? "—"
            : `v${c.version}${c.hasUnpublishedChanges ? " + draft" : ""}`,
          c.startsAt || c.endsAt ? `${when(c.startsAt)} → ${when(c.endsAt)}` : "Always",
          String(c.rewardsIssued),
          c.budgetLeft === null ? "No cap" : String(c.budgetLeft),
        ]),
        { class: "campaigns", id: "campaigns-table" },
      ),
    );
  }

  async function load(reset) {
    if (reset) {
      items = [];
      cursor = null;
    }
    try {
      const d = await gql(LIST, { status: status.value || null, after: cursor });
      items = items.concat(d.campaigns.nodes);
      cursor = d.campaigns.pageInfo.endCursor;
      more.hidden = !d.campaigns.pageInfo.hasNextPage;
      render();
    } catch (e) {
      fill(body, h("p", { class: "error" }, e.message));
    }
  }

  status.addEventListener("change", () => load(true));
  search.addEventListener("input", render);
  more.addEventListener("click", () => load(false));

  fill(
    main,
    h(
      "header",
      { class: "page-head" },
      h("h1", {}, "Campaigns"),
      h(
        "div",
        { class: "actions" },
        guarded(
          h("button", { type: "button", class: "primary", id: "new-campaign", onclick: () => (location.hash = "#/new") }, "New campaign"),
          can("author"),
        ),
      ),
    ),
    h("div", { class: "filters" }, field("Status", status), field("Search", search)),
    body,
    more,
  );
  const verdict = can("read");
  if (!verdict.ok) {
    status.disabled = true;
    search.disabled = true;
    fill(body, h("p", { class: "why" }, `Campaigns cannot be listed: ${verdict.reason}`));
    return;
  }
  await load(true);
}
