// Webhooks (DESIGN §9), scope admin: the endpoints, each one's signing secret (shown once, when
// it is created or rotated) and each one's delivery log. The NATS reward stream is listed as an
// endpoint of transport NATS: it follows the server's `nats_url`, so it is not edited, rotated
// or deleted here (it can be disabled, enabled, recovered and redelivered).

import { gql, can } from "./api.js";
import { h, fill, $, say, field, guarded, when, badge, table, confirmAction } from "./dom.js";

/** Where the page is drawn: the console's <main>. */
const main = $("main");

const ENDPOINT = "id url transport description campaigns kinds enabled disabledReason createdAt";
const ENDPOINTS = `query { webhookEndpoints { ${ENDPOINT} } }`;
const CREATE_ENDPOINT = `mutation($input: WebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { ${ENDPOINT} } } }`;
const UPDATE_ENDPOINT = `mutation($id: ID!, $input: WebhookEndpointPatch!) {
  updateWebhookEndpoint(id: $id, input: $input) { ${ENDPOINT} } }`;
const DELIVERIES = `query($id: ID!, $status: WebhookDeliveryStatus, $first: Int!, $after: String) {
  webhookDeliveries(endpointId: $id, status: $status, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id webhookId status nextAttemptAt issuedAt body attempts { at httpStatus error durationMs } }
  } }`;
const REWARD_KINDS = ["POINTS", "COUPON", "BADGE", "DISCOUNT", "CUSTOM"];
const DELIVERY_STATUSES = ["PENDING", "DELIVERED", "FAILED"];
const DELIVERY_PAGE = 20;

const lower = (s) => s.toLowerCase();
const plural = (n, one) => `${n} ${one}${n === 1 ? "" : "s"}`;
const allOr = (list) => (list.length ? list.join(", ") : "all");

/** Whether an endpoint is sent to, and if not, why. */
const endpointState = (e) =>
  e.enabled ? badge("enabled") : [badge("disabled"), e.disabledReason ? h("span", { class: "reason" }, e.disabledReason) : null];

export async function webhooksPage(id) {
  const verdict = can("admin");
  if (id) return endpointPage(id, verdict);
  const secretBox = h("div", { id: "secret-box" });
  const formBox = h("div", { id: "endpoint-form-box" });
  const list = h("div", { id: "endpoint-list" });
  const add = h(
    "button",
    { type: "button", class: "primary", id: "add-endpoint", "aria-controls": "endpoint-form-box", "aria-expanded": "false" },
    "Add an endpoint",
  );
  const closeForm = () => {
    formBox.replaceChildren();
    add.setAttribute("aria-expanded", "false");
  };
  add.addEventListener("click", () => {
    add.setAttribute("aria-expanded", "true");
    fill(
      formBox,
      endpointForm(
        null,
        async (created) => {
          closeForm();
          showSecret(secretBox, `Signing secret of ${created.endpoint.url}`, created.secret, add);
          await load();
        },
        () => {
          closeForm();
          add.focus();
        },
      ),
    );
    $("endpoint-url").focus();
  });

  async function load() {
    try {
      const endpoints = (await gql(ENDPOINTS)).webhookEndpoints;
      fill(
        list,
        endpoints.length
          ? table(
              `${plural(endpoints.length, "endpoint")}, oldest first; open one for its deliveries and actions`,
              ["URL", "Description", "Campaigns", "Reward kinds", "Status", "Created"],
              endpoints.map((e) => [
                h("a", { href: `#/webhooks/${encodeURIComponent(e.id)}`, class: "name url" }, e.url),
                e.description || "—",
                allOr(e.campaigns),
                allOr(e.kinds.map(lower)),
                endpointState(e),
                when(e.createdAt),
              ]),
              { id: "endpoints-table", class: "endpoints" },
            )
          : h("p", { class: "empty" }, "No endpoints yet: rewards are not posted anywhere. Add one to have them sent to your systems."),
      );
    } catch (e) {
      fill(list, h("p", { class: "error" }, e.message));
    }
  }

  fill(
    main,
    h(
      "header",
      { class: "page-head" },
      h(
        "div",
        {},
        h("h1", {}, "Webhooks"),
        h("p", { class: "facts" }, "Every reward is posted to each endpoint that matches it, signed, and retried until a 2xx answers."),
      ),
      h("div", { class: "actions" }, guarded(add, verdict)),
    ),
    secretBox,
    formBox,
    list,
  );
  if (!verdict.ok) {
    fill(list, h("p", { class: "why" }, `Endpoints cannot be listed: ${verdict.reason}`));
    return;
  }
  await load();
}

/** Shows a signing secret in `box`, this once, with a way to copy it; focus goes back to `back`. */
function showSecret(box, title, secret, back) {
  const input = h("input", { id: "webhook-secret", class: "code", readonly: true, value: secret, spellcheck: "false", autocomplete: "off" });
  const copy = async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(secret);
      say("Secret copied.", "good");
    } catch {
      say("The secret is selected: press Ctrl+C (⌘C on a Mac) to copy it.");
    }
  };
  fill(
    box,
    h(
      "section",
      { class: "card secret", "aria-labelledby": "secret-title" },
      h("h2", { id: "secret-title" }, title),
      h(
        "p",
        { id: "secret-note" },
        h("strong", {}, "Copy it now: it is not shown again. "),
        "Your receiver checks each message's webhook-signature header with it (Standard Webhooks).",
      ),
      h(
        "div",
        { class: "secret-row" },
        field("Signing secret", input, "Keep it where your receiver reads its configuration, not in code."),
        h("button", { type: "button", id: "copy-secret", onclick: copy }, "Copy"),
      ),
      h(
        "button",
        {
          type: "button",
          class: "quiet",
          id: "secret-done",
          onclick: () => {
            box.replaceChildren();
            (back?.isConnected ? back : main).focus();
          },
        },
        "I have copied it",
      ),
    ),
  );
  input.setAttribute("aria-describedby", `secret-note ${input.getAttribute("aria-describedby")}`);
  input.focus();
  input.select();
}

/**
 * The form that creates an endpoint (`endpoint` null) or changes one; `saved` gets the API's
 * answer, `cancel` is called on Cancel. A refused input shows the API's message in the form.
 */
function endpointForm(endpoint, saved, cancel) {
  const url = h("input", { id: "endpoint-url", type: "url", required: true, autocomplete: "off", spellcheck: "false", value: endpoint?.url || "" });
  const description = h("input", { id: "endpoint-description", autocomplete: "off", maxlength: 1000, value: endpoint?.description || "" });
  const campaigns = h("input", { id: "endpoint-campaigns", autocomplete: "off", spellcheck: "false", value: (endpoint?.campaigns || []).join(", ") });
  const kinds = REWARD_KINDS.map((k) =>
    h("input", { type: "checkbox", id: `endpoint-kind-${lower(k)}`, value: k, checked: Boolean(endpoint?.kinds.includes(k)) }),
  );
  const error = h("p", { id: "endpoint-error", class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", id: "endpoint-save" }, endpoint ? "Save changes" : "Create endpoint");
  // Which control an error's field (`input.url: ...`) is about.
  const controls = { "input.url": url, "input.description": description, "input.campaigns": campaigns };

  async function save(e) {
    e.preventDefault();
    for (const c of Object.values(controls)) c.removeAttribute("aria-invalid");
    error.textContent = "";
    const input = {
      url: url.value.trim(),
      description: description.value.trim(),
      campaigns: campaigns.value.split(/[\s,]+/).filter(Boolean),
      kinds: kinds.filter((k) => k.checked).map((k) => k.value),
    };
    submit.disabled = true;
    try {
      const answer = endpoint
        ? (await gql(UPDATE_ENDPOINT, { id: endpoint.id, input })).updateWebhookEndpoint
        : (await gql(CREATE_ENDPOINT, { input })).createWebhookEndpoint;
      await saved(answer);
    } catch (problem) {
      error.textContent = `Not saved: ${problem.message}`;
      const named = Object.keys(controls).find((f) => problem.message.startsWith(f));
      const control = named ? controls[named] : url;
      control.setAttribute("aria-invalid", "true");
      control.focus();
    } finally {
      submit.disabled = false;
    }
  }

  return h(
    "form",
    { class: "card endpoint-form", "aria-labelledby": "endpoint-form-title", onsubmit: save },
    h("h2", { id: "endpoint-form-title" }, endpoint ? "Edit the endpoint" : "New endpoint"),
    field("URL", url, "Where rewards are posted: your receiver's http or https address."),
    field("Description", description, "For people: what receives the rewards here."),
    field("Campaigns", campaigns, "Campaign keys, separated by commas; empty: every campaign."),
    h(
      "fieldset",
      { class: "kinds", "aria-describedby": "endpoint-kinds-hint" },
      h("legend", {}, "Reward kinds"),
      h("div", { class: "checks" }, kinds.map((k) => h("label", { class: "check" }, k, lower(k.value)))),
      h("small", { id: "endpoint-kinds-hint", class: "hint" }, "None checked: every kind."),
    ),
    error,
    h(
      "div",
      { class: "actions" },
      submit,
      h("button", { type: "button", class: "quiet", id: "endpoint-cancel", onclick: cancel }, "Cancel"),
    ),
  );
}

/** One endpoint: what it receives, its actions and its delivery log. */
async function endpointPage(id, verdict) {
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: "#/webhooks" }, "Webhooks"), ` / endpoint ${id}`);
  const headed = (title, ...rest) => fill(main, h("header", { class: "page-head" }, h("div", {}, crumbs, h("h1", {}, title))), ...rest);
  if (!verdict.ok) return headed("Webhook endpoint", h("p", { class: "why" }, `Endpoints cannot be read: ${verdict.reason}`));
  let endpoint;
  try {
    endpoint = (await gql(ENDPOINTS)).webhookEndpoints.find((e) => e.id === id);
  } catch (e) {
    return headed("Webhook endpoint", h("p", { class: "error" }, e.message));
  }
  if (!endpoint) return headed("No such endpoint", h("p", {}, `There is no webhook endpoint ${id}: it may have been deleted.`));

  const secretBox = h("div", { id: "secret-box" });
  const formBox = h("div", { id: "endpoint-form-box" });
  const again = () => endpointPage(id, verdict);

  async function act(run, done) {
    try {
      await run();
      say(done, "good");
      await again();
    } catch (e) {
      say(`Refused: ${e.message}`, "bad");
    }
  }

  function edit() {
    fill(
      formBox,
      endpointForm(
        endpoint,
        async () => {
          say("Endpoint saved.", "good");
          await again();
        },
        () => {
          formBox.replaceChildren();
          $("endpoint-edit").focus();
        },
      ),
    );
    $("endpoint-url").focus();
  }

  async function disable() {
    const reason = h("input", { id: "disable-reason", autocomplete: "off", maxlength: 200 });
    const body = [
      h(
        "p",
        {},
        "Nothing is sent to it until you enable it again: its pending messages wait, and rewards issued meanwhile are not queued for it (Recover since… sends them later).",
      ),
      field("Reason (optional)", reason, "Shown with the endpoint; without one, the name of your key."),
    ];
    if (!(await confirmAction(`Disable ${endpoint.url}?`, body, "Disable"))) return;
    const text = reason.value.trim() || null;
    await act(() => gql(`mutation($id: ID!, $r: String) { disableWebhookEndpoint(id: $id, reason: $r) { id } }`, { id, r: text }), "Endpoint disabled.");
  }

  async function enable() {
    const says =
      "Messages are sent to it again, its pending messages first. Rewards issued while it was disabled are not sent unless you recover them (Recover since…).";
    if (!(await confirmAction(`Enable ${endpoint.url}?`, h("p", {}, says), "Enable"))) return;
    await act(() => gql(`mutation($id: ID!) { enableWebhookEndpoint(id: $id) { id } }`, { id }), "Endpoint enabled.");
  }

  async function rotate() {
    const says =
      "A new secret signs every message from now on. For 24 hours each message also carries a signature made with the current secret, so your receiver keeps accepting them while you give it the new one. The new secret is shown once.";
    if (!(await confirmAction(`Rotate the secret of ${endpoint.url}?`, h("p", {}, says), "Rotate secret"))) return;
    try {
      const r = (await gql(`mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, { id })).rotateWebhookSecret;
      showSecret(secretBox, `New signing secret of ${endpoint.url}`, r.secret, $("endpoint-rotate"));
    } catch (e) {
      say(`Not rotated: ${e.message}`, "bad");
    }
  }

  async function remove() {
    let pending = "";
    try {
      const p = (await gql(DELIVERIES, { id, status: "PENDING", first: 100, after: null })).webhookDeliveries;
      const n = p.nodes.length;
      pending = ` (${p.pageInfo.hasNextPage ? "over 100" : n} now)`;
    } catch {
      // The count is a courtesy; the confirmation says what happens without it.
    }
    const says = `The endpoint is deleted with its delivery log, and its pending messages are dropped${pending}: they are never sent. Other endpoints go on receiving rewards. This cannot be undone.`;
    if (!(await confirmAction(`Delete ${endpoint.url}?`, h("p", {}, says), "Delete"))) return;
    try {
      await gql(`mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { id } }`, { id });
      say("Endpoint deleted; its pending messages were dropped.", "good");
      location.hash = "#/webhooks";
    } catch (e) {
      say(`Not deleted: ${e.message}`, "bad");
    }
  }

  const button = (name, label, onclick, allowed = verdict) =>
    guarded(h("button", { type: "button", id: `endpoint-${name}`, onclick }, label), allowed);
  // The NATS reward stream follows the server's settings, not the API.
  const settable =
    endpoint.transport === "NATS" && verdict.ok
      ? { ok: false, reason: "The NATS reward stream follows the server's nats_url setting" }
      : verdict;
  fill(
    main,
    h(
      "header",
      { class: "page-head" },
      h(
        "div",
        {},
        crumbs,
        h("h1", { id: "endpoint-title", class: "url" }, endpoint.url),
        h("p", { class: "facts", id: "endpoint-state" }, endpointState(endpoint), ` · created ${when(endpoint.createdAt)}`),
      ),
      h(
        "div",
        { class: "actions" },
        button("edit", "Edit", edit, settable),
        endpoint.enabled ? button("disable", "Disable", disable) : button("enable", "Enable", enable),
        button("rotate", "Rotate secret", rotate, settable),
        button("delete", "Delete", remove, settable),
      ),
    ),
    h(
      "dl",
      { class: "details" },
      h("dt", {}, "Description"),
      h("dd", { id: "endpoint-about" }, endpoint.description || "—"),
      h("dt", {}, "Campaigns"),
      h("dd", {}, allOr(endpoint.campaigns)),
      h("dt", {}, "Reward kinds"),
      h("dd", {}, allOr(endpoint.kinds.map(lower))),
    ),
    secretBox,
    formBox,
    deliveryLog(endpoint, verdict),
  );
}

/** `date` as a `datetime-local` input writes it (local time, to the minute). */
function localInput(date) {
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/**
 * An endpoint's messages, newest first, with their attempts: filtered by status, paged with
 * Load more, refreshed every 2 s while one is pending or none is there yet (every 10 s
 * otherwise) for as long as the page shows it; a message can be sent again, and the rewards
 * since a time recovered.
 */
function deliveryLog(endpoint, verdict) {
  const status = h(
    "select",
    { id: "delivery-status" },
    h("option", { value: "" }, "Any status"),
    DELIVERY_STATUSES.map((s) => h("option", { value: s }, lower(s))),
  );
  const since = h("input", {
    id: "recover-since",
    type: "datetime-local",
    required: true,
    "aria-describedby": "recover-hint",
    value: localInput(new Date(Date.now() - 864e5)),
  });
  const recoverError = h("p", { id: "recover-error", class: "error", role: "alert" });
  const summary = h("p", { id: "delivery-summary", class: "facts", "aria-live": "polite" });
  const log = h("div", { id: "delivery-log" }, h("p", {}, "Loading the deliveries…"));
  const more = h("button", { type: "button", class: "quiet", id: "more-deliveries", hidden: true }, "Load more");
  const opened = new Set(); // bodies shown, kept open across refreshes
  let items = [];
  let cursor = null;
  let hasMore = false;
  let shown = "";
  let busy = false;
  let ticket = 0;
  let timer = null;

  const fetchPage = async (first, after) =>
    (await gql(DELIVERIES, { id: endpoint.id, status: status.value || null, first, after })).webhookDeliveries;

  /** The first page again, as for a new filter. */
  async function reload() {
    const mine = ++ticket;
    busy = true;
    try {
      const p = await fetchPage(DELIVERY_PAGE, null);
      if (mine !== ticket) return;
      items = p.nodes;
      cursor = p.pageInfo.endCursor;
      hasMore = p.pageInfo.hasNextPage;
      render();
    } catch (e) {
      shown = "";
      fill(log, h("p", { class: "error" }, e.message));
    } finally {
      busy = false;
      schedule();
    }
  }

  /** What is shown, read again: the newest messages are new or changed, older pages stay. */
  async function refresh() {
    if (busy) return;
    const mine = ++ticket;
    try {
      const p = await fetchPage(Math.min(100, Math.max(DELIVERY_PAGE, items.length)), null);
      if (mine !== ticket) return;
      // Older pages loaded stay if this read reached the newest message shown before; if more
      // arrived than one read holds, keeping them would hide the ones between, so the list
      // starts again from the newest.
      const last = p.nodes.length ? Number(p.nodes[p.nodes.length - 1].id) : Infinity;
      const reaches = items.length > 0 && p.nodes.some((d) => d.id === items[0].id);
      const older = p.pageInfo.hasNextPage && reaches ? items.filter((d) => Number(d.id) < last) : [];
      items = p.nodes.concat(older);
      if (!older.length) {
        cursor = p.pageInfo.endCursor;
        hasMore = p.pageInfo.hasNextPage;
      }
      render();
    } catch {
      // A refresh that fails leaves the log as it was; the next one tries again.
    }
  }

  async function loadMore() {
    const mine = ++ticket;
    busy = true;
    more.disabled = true;
    try {
      const p = await fetchPage(DELIVERY_PAGE, cursor);
      if (mine !== ticket) return;
      items = items.concat(p.nodes);
      cursor = p.pageInfo.endCursor;
      hasMore = p.pageInfo.hasNextPage;
      render();
    } catch (e) {
      say(`Not loaded: ${e.message}`, "bad");
    } finally {
      busy = false;
      more.disabled = false;
    }
  }

  function schedule() {
    clearTimeout(timer);
    const waiting = !items.length || items.some((d) => d.status === "PENDING");
    timer = setTimeout(async () => {
      if (!log.isConnected) return; // the page was left
      await refresh();
      schedule();
    }, waiting ? 2000 : 10000);
  }

  function render() {
    const state = JSON.stringify([items, hasMore]);
    if (state === shown) return; // nothing changed: focus and open bodies stay as they are
    shown = state;
    const focused = log.contains(document.activeElement) ? document.activeElement.id : null;
    more.hidden = !hasMore;
    const counts = DELIVERY_STATUSES.map((s) => [s, items.filter((d) => d.status === s).length]).filter(([, n]) => n);
    summary.textContent = items.length
      ? `${plural(items.length, "message")} shown${hasMore ? " (more to load)" : ""}: ${counts.map(([s, n]) => `${n} ${lower(s)}`).join(", ")}.`
      : "";
    if (!items.length) {
      fill(
        log,
        h(
          "p",
          { class: "empty" },
          status.value
            ? `No ${lower(status.value)} messages.`
            : "No messages yet: each reward this endpoint matches is queued here when it is issued.",
        ),
      );
    } else {
      fill(
        log,
        table(
          "Messages to this endpoint, newest first",
          ["Issued", "Message", "Status", "Attempts", "Next try", "Each attempt", "Actions"],
          items.map(row),
          { id: "deliveries-table", class: "deliveries" },
        ),
      );
    }
    if (focused) $(focused)?.focus();
  }

  const attempt = (a) =>
    h(
      "li",
      {},
      `${when(a.at)} · `,
      a.httpStatus === null
        ? h("span", { class: "fail" }, a.error || "no answer")
        : h("span", { class: a.httpStatus >= 200 && a.httpStatus < 300 ? "ok" : "fail" }, `HTTP ${a.httpStatus}`),
      ` · ${a.durationMs} ms`,
    );

  const pretty = (body) => {
    try {
      return JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      return body;
    }
  };

  const row = (d) => [
    when(d.issuedAt),
    h("code", {}, d.webhookId),
    badge(lower(d.status)),
    String(d.attempts.length),
    d.status === "PENDING" ? when(d.nextAttemptAt) : "—",
    d.attempts.length ? h("ol", { class: "attempts" }, d.attempts.map(attempt)) : "Not tried yet",
    h(
      "div",
      { class: "row-actions" },
      guarded(
        h(
          "button",
          { type: "button", id: `redeliver-${d.id}`, "aria-label": `Redeliver ${d.webhookId}`, onclick: () => redeliver(d) },
          "Redeliver",
        ),
        verdict,
      ),
      h(
        "details",
        {
          open: opened.has(d.id),
          ontoggle: (e) => (e.target.open ? opened.add(d.id) : opened.delete(d.id)),
        },
        h("summary", { id: `body-${d.id}` }, "Body"),
        h("pre", { class: "code small" }, pretty(d.body)),
      ),
    ),
  ];

  async function redeliver(d) {
    const says = `It is posted to ${endpoint.url} again now, with the same webhook-id and body, and retried on the schedule from the start if that fails. A receiver that remembers the ids it handled ignores it if it already has it.`;
    if (!(await confirmAction(`Redeliver ${d.webhookId}?`, h("p", {}, says), "Redeliver"))) return;
    try {
      await gql(`mutation($id: ID!) { redeliverWebhook(id: $id) { id } }`, { id: d.id });
      say(`${d.webhookId} is being sent again.`, "good");
      await refresh();
      schedule();
    } catch (e) {
      say(`Not redelivered: ${e.message}`, "bad");
    }
  }

  async function recover(e) {
    e.preventDefault();
    recoverError.textContent = "";
    const at = new Date(since.value);
    if (!since.value || Number.isNaN(at.getTime())) {
      recoverError.textContent = "Choose the date and time to recover from.";
      since.focus();
      return;
    }
    const says = [
      h(
        "p",
        {},
        `Every reward issued since ${when(at.toISOString())} that this endpoint matches and did not get is sent to it again: messages that failed, and rewards issued before it existed or while it was disabled (as far back as the server keeps them). Messages delivered or still pending are not sent twice.`,
      ),
      endpoint.enabled ? null : h("p", {}, "The endpoint is disabled: they wait until you enable it."),
    ];
    if (!(await confirmAction(`Recover deliveries to ${endpoint.url}?`, says, "Recover"))) return;
    try {
      const n = (await gql(`mutation($id: ID!, $since: DateTime!) { recoverWebhookEndpoint(id: $id, since: $since) }`, {
        id: endpoint.id,
        since: at.toISOString(),
      })).recoverWebhookEndpoint;
      say(n ? `${plural(n, "message")} queued.` : "Nothing to recover: every matching reward since then was delivered or is pending.", "good");
      await refresh();
      schedule();
    } catch (problem) {
      recoverError.textContent = `Not recovered: ${problem.message}`;
    }
  }

  status.addEventListener("change", () => {
    shown = "";
    fill(log, h("p", {}, "Loading the deliveries…"));
    reload();
  });
  more.addEventListener("click", loadMore);
  const refreshButton = h("button", { type: "button", class: "quiet", id: "refresh-deliveries", onclick: () => refresh() }, "Refresh");
  const recoverButton = guarded(h("button", { type: "submit", id: "recover" }, "Recover…"), verdict);
  reload();
  return h(
    "section",
    { "aria-labelledby": "deliveries-title", class: "delivery-log" },
    h("h2", { id: "deliveries-title" }, "Deliveries"),
    h(
      "p",
      { class: "hint", id: "recover-hint" },
      "One message per matching reward, with every attempt. Recover since… sends again what this endpoint missed since a time: messages that failed, and rewards issued before it existed or while it was disabled.",
    ),
    h(
      "div",
      { class: "log-tools" },
      field("Status", status),
      refreshButton,
      h(
        "form",
        { class: "recover", "aria-label": "Recover deliveries", onsubmit: recover },
        field("Recover since", since),
        recoverButton,
      ),
    ),
    recoverError,
    summary,
    log,
    more,
  );
}

