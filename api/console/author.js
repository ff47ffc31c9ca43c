// One campaign: write it (YAML or form, checked as the marketer types), save the draft,
// simulate it, see what publishing changes, steer its lifecycle, read its versions and audit.

import { gql, can, ApiError } from "./api.js";
import { h, fill, say, when, guarded, badge, table, confirmAction } from "./dom.js";
import { createEditor } from "./editor.js";
import { createForm } from "./form.js";
import { toYaml } from "./yaml.js";
import { diffLines } from "./diff.js";
import { simulatePanel } from "./simulate.js";

const CAMPAIGN = `query($key: String!) { campaign(key: $key) {
  key name status version hasUnpublishedChanges draft published startsAt endsAt
  rewardsIssued budgetLeft
  versions { version publishedAt spec }
} }`;
const AUDIT = `query($key: String!) { auditLog(campaign: $key, first: 50) {
  nodes { id at actor action details } } }`;
const VALIDATE = `query($source: String!) { validateCampaign(source: $source) {
  valid spec diagnostics { path code message line column } } }`;
const CREATE = `mutation($source: String!) { createCampaign(source: $source) { key } }`;
const UPDATE = `mutation($key: String!, $source: String!) {
  updateCampaign(key: $key, source: $source) { key } }`;

const STARTER = `key: my-campaign
name: Order 3 times in a week, get 500 points
goal:
  kind: count
  when: 'event.type == "order.completed"'
  target: 3
  within: 7d
rewards:
  - kind: points
    amount: 500
limits:
  per_customer: 1
`;

// What each lifecycle step does, as the confirmation says it (docs/api.md).
const STEPS = {
  publish: {
    label: "Publish",
    mutation: "publishCampaign",
    allowed: (c) => ["DRAFT", "PUBLISHED", "PAUSED"].includes(c.status),
    says: (c) =>
      c.version === 0
        ? `Version 1 goes live now: every event sent from now on counts toward it, and customers who complete it earn its rewards.`
        : `The draft becomes version ${c.version + 1}; it replaces version ${c.version} for every event from now on. Progress customers made so far is kept.`,
  },
  pause: {
    label: "Pause",
    mutation: "pauseCampaign",
    allowed: (c) => c.status === "PUBLISHED",
    says: () => `Events stop counting until you resume it; progress and rewards so far are kept.`,
  },
  resume: {
    label: "Resume",
    mutation: "resumeCampaign",
    allowed: (c) => c.status === "PAUSED",
    says: () => `Events count again from now on; events sent while it was paused are not counted.`,
  },
  end: {
    label: "End",
    mutation: "endCampaign",
    allowed: (c) => ["PUBLISHED", "PAUSED"].includes(c.status),
    says: () =>
      `The campaign stops for good: no more progress or rewards, and customers see it as expired. This cannot be undone.`,
  },
  archive: {
    label: "Archive",
    mutation: "archiveCampaign",
    allowed: (c) => ["DRAFT", "ENDED"].includes(c.status),
    says: () => `The campaign is put away: it leaves the list of active campaigns; its history stays.`,
  },
};

/** Renders the campaign `key` (or a new one when `key` is null) into `main`. */
export async function authorPage(main, key) {
  let campaign = null;
  if (key) {
    try {
      campaign = (await gql(CAMPAIGN, { key })).campaign;
    } catch (e) {
      fill(main, h("h1", {}, "Campaign"), h("p", { class: "error" }, e.message));
      return;
    }
    if (!campaign) {
      fill(main, h("h1", {}, "No such campaign"), h("p", {}, `There is no campaign with key ${key}.`));
      return;
    }
  }
  const mayAuthor = can("author");
  const state = {
    spec: campaign ? campaign.draft : null,
    saved: campaign ? toYaml(campaign.draft) : null,
    checking: 0,
  };

  const dirty = h("span", { class: "dirty", id: "dirty" });
  const editor = createEditor({
    label: "Campaign spec (YAML)",
    onInput: () => {
      markDirty();
      check();
    },
  });
  const form = createForm({
    onInput: () => {
      editor.value = toYaml(form.read(state.spec));
      markDirty();
      check();
    },
  });

  function markDirty() {
    const changed = state.saved === null || editor.value !== state.saved;
    dirty.textContent = changed ? (campaign ? "Unsaved changes" : "Not saved yet") : "Saved";
    dirty.className = changed ? "dirty on" : "dirty";
  }

  let timer = null;
  function check() {
    clearTimeout(timer);
    timer = setTimeout(validate, 250);
  }

  async function validate() {
    const ticket = ++state.checking;
    const source = editor.value;
    try {
      const r = (await gql(VALIDATE, { source })).validateCampaign;
      if (ticket !== state.checking) return; // a later check is under way
      editor.show(r.diagnostics);
      if (r.valid) {
        state.spec = r.spec;
        if (!form.el.contains(document.activeElement)) form.set(r.spec);
      } else if (!form.el.contains(document.activeElement)) {
        form.set(null, "Fix the problems in the YAML to edit it with the form.");
      }
    } catch (e) {
      if (ticket === state.checking) editor.show(`The spec could not be checked: ${e.message}`);
    }
  }

  async function save() {
    const source = editor.value;
    try {
      const r = campaign
        ? await gql(UPDATE, { key: campaign.key, source })
        : await gql(CREATE, { source });
      say(`Draft of ${r.createCampaign?.key || r.updateCampaign?.key} saved.`, "good");
      const saved = (r.createCampaign || r.updateCampaign).key;
      if (!campaign) {
        location.hash = `#/campaign/${encodeURIComponent(saved)}`;
      } else {
        await authorPage(main, saved);
      }
    } catch (e) {
      if (e instanceof ApiError && e.diagnostics.length) editor.show(e.diagnostics);
      say(`Not saved: ${e.message}`, "bad");
    }
  }

  const saveButton = guarded(
    h("button", { type: "button", class: "primary", id: "save-draft", onclick: save }, "Save draft"),
    mayAuthor,
  );

  // Tabs: spec, simulate, changes, versions, audit.
  const panels = [
    ["spec", "Spec", () => specPanel()],
    ["simulate", "Simulate", () => simulatePanel(() => editor.value)],
  ];
  if (campaign) {
    panels.push(
      ["changes", "Changes to publish", () => changesPanel(campaign)],
      ["versions", "Versions", () => versionsPanel(campaign)],
      ["audit", "Audit log", () => auditPanel(campaign)],
    );
  }

  function specPanel() {
    return h(
      "div",
      { class: "author-grid" },
      h("section", { "aria-labelledby": "yaml-title" }, h("h2", { id: "yaml-title" }, "YAML"), editor.el),
      h("section", { "aria-labelledby": "form-title" }, h("h2", { id: "form-title" }, "Form"), form.el),
    );
  }

  const header = h(
    "header",
    { class: "page-head" },
    h(
      "div",
      {},
      h("p", { class: "crumbs" }, h("a", { href: "#/campaigns" }, "Campaigns"), " / ", campaign ? campaign.key : "new"),
      h("h1", { id: "campaign-title" }, campaign ? campaign.name : "New campaign"),
      campaign
        ? h(
            "p",
            { class: "facts" },
            badge(campaign.status),
            campaign.version ? ` version ${campaign.version}` : " never published",
            campaign.hasUnpublishedChanges && campaign.version > 0 ? " · draft differs from the published version" : "",
            ` · ${campaign.rewardsIssued} reward${campaign.rewardsIssued === 1 ? "" : "s"} issued`,
            campaign.budgetLeft === null ? "" : ` · ${campaign.budgetLeft} left in budget`,
          )
        : null,
    ),
    h("div", { class: "actions" }, dirty, saveButton, campaign ? lifecycle(campaign) : null),
  );

  function lifecycle(c) {
    // A published campaign whose draft is its running version has nothing to publish.
    const nothingNew = c.version > 0 && !c.hasUnpublishedChanges;
    return Object.entries(STEPS)
      .filter(([name, s]) => s.allowed(c) && !(name === "publish" && nothingNew))
      .map(([name, s]) => {
        const button = h(
          "button",
          { type: "button", id: `action-${name}`, onclick: () => steer(c, name, s) },
          s.label,
        );
        return guarded(button, mayAuthor);
      });
  }

  async function steer(c, name, step) {
    if (name === "publish" && editor.value !== state.saved) {
      say("Save the draft first: publishing publishes the saved draft.", "bad");
      return;
    }
    const body = [h("p", {}, step.says(c))];
    if (name === "publish") body.push(h("h3", {}, "What changes"), diffView(c));
    const ok = await confirmAction(`${step.label} ${c.name}?`, body, step.label);
    if (!ok) return;
    try {
      await gql(`mutation($key: String!) { ${step.mutation}(key: $key) { key status version } }`, {
        key: c.key,
      });
      say(`${c.name}: ${step.label.toLowerCase()} done.`, "good");
      await authorPage(main, c.key);
    } catch (e) {
      say(`${step.label} refused: ${e.message}`, "bad");
    }
  }

  const tabs = tabbed(panels);
  fill(main, header, tabs);
  editor.value = campaign ? state.saved : STARTER;
  markDirty();
  if (!mayAuthor.ok) {
    editor.show(mayAuthor.reason);
    form.set(null, mayAuthor.reason);
  } else {
    form.set(null, "Checking the spec…");
    validate();
  }
}

/** The draft against the published version, line by line. */
function diffView(c) {
  const before = c.published ? toYaml(c.published) : "";
  const after = toYaml(c.draft);
  if (before === after) return h("p", {}, "The draft is the published version: nothing changes.");
  const lines = diffLines(before, after);
  return h(
    "pre",
    { class: "diff", "aria-label": "Differences, removed lines marked minus, added lines marked plus" },
    lines.map((l) =>
      h("span", { class: l.op === "+" ? "add" : l.op === "-" ? "del" : "same" }, `${l.op} ${l.text}\n`),
    ),
  );
}

function changesPanel(c) {
  const intro =
    c.version === 0
      ? "Not published yet: publishing makes all of this version 1."
      : `The saved draft against version ${c.version}, the one running now.`;
  return h("div", {}, h("p", {}, intro), diffView(c));
}

function versionsPanel(c) {
  if (!c.versions.length) return h("p", {}, "No version published yet.");
  return h(
    "ol",
    { class: "versions", reversed: true },
    [...c.versions].reverse().map((v) =>
      h(
        "li",
        {},
        h(
          "details",
          {},
          h("summary", {}, `Version ${v.version}, published ${when(v.publishedAt)}`),
          h("pre", { class: "code" }, toYaml(v.spec)),
        ),
      ),
    ),
  );
}

function auditPanel(c) {
  const box = h("div", { id: "campaign-audit" }, h("p", {}, "Loading the audit log…"));
  const verdict = can("author");
  if (!verdict.ok) return fill(box, h("p", { class: "why" }, verdict.reason));
  gql(AUDIT, { key: c.key })
    .then((d) => fill(box, auditTable(d.auditLog.nodes, false)))
    .catch((e) => fill(box, h("p", { class: "error" }, e.message)));
  return box;
}

/** Audit entries as a table: when, who, what, the details. */
export function auditTable(entries, withCampaign) {
  if (!entries.length) return h("p", {}, "No changes recorded yet.");
  const headers = ["When", "Who", "What", ...(withCampaign ? ["Campaign"] : []), "Details"];
  return table(
    "Who changed what, newest first",
    headers,
    entries.map((e) => [
      when(e.at),
      e.actor,
      h("code", {}, e.action),
      ...(withCampaign ? [e.campaign ? h("a", { href: `#/campaign/${encodeURIComponent(e.campaign)}` }, e.campaign) : "—"] : []),
      h("details", {}, h("summary", {}, "Show"), h("pre", { class: "code small" }, toYaml(e.details))),
    ]),
    { class: "audit", id: "audit-table" },
  );
}

/** An accessible tab set: arrow keys move between tabs; each panel is built when first shown. */
function tabbed(panels) {
  const list = h("div", { role: "tablist", class: "tabs", "aria-label": "Campaign sections" });
  const holder = h("div", {});
  const built = new Map();
  const buttons = panels.map(([id, label], i) => {
    const b = h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${id}`,
        "aria-controls": `panel-${id}`,
        "aria-selected": i === 0 ? "true" : "false",
        tabindex: i === 0 ? "0" : "-1",
        onclick: () => select(i),
        onkeydown: (e) => {
          const move = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
          if (move) {
            const next = (i + move + panels.length) % panels.length;
            select(next);
            buttons[next].focus();
          }
        },
      },
      label,
    );
    return b;
  });
  function select(i) {
    buttons.forEach((b, j) => {
      b.setAttribute("aria-selected", i === j ? "true" : "false");
      b.tabIndex = i === j ? 0 : -1;
    });
    for (const [, panel] of built) panel.hidden = true;
    const [id, , build] = panels[i];
    if (!built.has(id)) {
      const panel = h("section", { role: "tabpanel", id: `panel-${id}`, "aria-labelledby": `tab-${id}`, tabindex: "0" }, build());
      built.set(id, panel);
      holder.appendChild(panel);
    }
    built.get(id).hidden = false;
  }
  fill(list, buttons);
  select(0);
  return h("div", {}, list, holder);
}
