// The console's entry: sign-in, the navigation, and a route per page (`#/campaigns`,
// `#/campaign/<key>`, `#/new`, `#/customer/<id>`, `#/audit`, `#/webhooks`,
// `#/webhooks/<endpoint id>`). Routes live in the fragment, so the server serves one page and a
// key never appears in a URL.

import { gql, session, can } from "./api.js";
import { h, fill, $, say, field } from "./dom.js";

const VIEWER = "query { viewer { name scopes } }";
const main = $("main");

async function signIn(key) {
  session.signIn(key);
  try {
    session.viewer = (await gql(VIEWER)).viewer;
    return null;
  } catch (e) {
    session.signOut();
    return e.message;
  }
}

function signInPage(message) {
  const key = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
  });
  const error = h("p", { id: "sign-in-error", class: "error", role: "alert" }, message || "");
  const form = h(
    "form",
    {
      class: "card sign-in",
      "aria-labelledby": "sign-in-title",
      onsubmit: async (e) => {
        e.preventDefault();
        const problem = await signIn(key.value.trim());
        if (problem) {
          error.textContent = `Not signed in: ${problem}`;
          key.focus();
        } else if (!location.hash || location.hash === "#/sign-in") {
          location.hash = "#/campaigns"; // the hashchange routes
        } else {
          route();
        }
      },
    },
    h("h1", { id: "sign-in-title" }, "Sign in to Offerflow"),
    h("p", {}, "Use an API key: the admin key the server printed at its first start, or one from ", h("code", {}, "offerflow keys create"), "."),
    field("API key", key, "Kept in this tab only and sent to this server alone; closing the tab signs you out."),
    error,
    h("button", { type: "submit", class: "primary", id: "sign-in" }, "Sign in"),
  );
  $("nav").hidden = true;
  $("who").hidden = true;
  fill(main, form);
  key.focus();
  markReady();
}

function chrome(section) {
  $("nav").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `${session.viewer.name} · ${session.viewer.scopes.map((s) => s.toLowerCase()).join(", ")}`;
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function auditPage() {
  const { auditTable } = await import("./author.js");
  fill(main, h("header", { class: "page-head" }, h("h1", {}, "Audit log")));
  const verdict = can("author");
  if (!verdict.ok) {
    main.appendChild(h("p", { class: "why" }, verdict.reason));
    return;
  }
  try {
    const d = await gql(`query { auditLog(first: 100) { nodes { id at actor action campaign details } } }`);
    main.appendChild(auditTable(d.auditLog.nodes, true));
  } catch (e) {
    main.appendChild(h("p", { class: "error" }, e.message));
  }
}

async function route() {
  if (!session.key()) return signInPage();
  if (!session.viewer) {
    const problem = await signIn(session.key());
    if (problem) return signInPage(`Signed out: ${problem}`);
  }
  const [, page = "campaigns", ...rest] = location.hash.replace(/^#/, "").split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
  main.setAttribute("aria-busy", "true");
  try {
    switch (page) {
      case "campaign":
        chrome("campaigns");
        await (await import("./author.js")).authorPage(main, arg);
        break;
      case "new":
        chrome("new");
        await (await import("./author.js")).authorPage(main, null);
        break;
      case "customer":
        chrome("customer");
        await (await import("./customer.js")).customerPage(main, arg);
        break;
      case "audit":
        chrome("audit");
        await auditPage();
        break;
      case "webhooks":
        chrome("webhooks");
        await (await import("./webhooks.js")).webhooksPage(arg);
        break;
      default:
        chrome("campaigns");
        await (await import("./campaigns.js")).campaignsPage(main);
    }
  } catch (e) {
    fill(main, h("h1", {}, "Something went wrong"), h("p", { class: "error" }, e.message));
  } finally {
    main.removeAttribute("aria-busy");
  }
  document.title = `${main.querySelector("h1")?.textContent || "Console"} · Offerflow`;
  markReady();
}

// When the first page became usable, for the browser test (and anyone's DevTools).
function markReady() {
  if (!performance.getEntriesByName("offerflow:ready").length) performance.mark("offerflow:ready");
}

$("sign-out").addEventListener("click", () => {
  session.signOut();
  say("Signed out.");
  location.hash = "#/sign-in";
  signInPage();
});
window.addEventListener("hashchange", route);
route();
