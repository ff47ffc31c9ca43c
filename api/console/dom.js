// Building the page: every value goes in as text (createTextNode / textContent), never as
// markup, so a campaign named `<img src=x onerror=alert(1)>` shows those characters.

/**
 * An element: `h("button", {class: "primary", onclick: f}, "Save")`. Attributes starting
 * with `on` are listeners; `true`/`false` set or leave boolean attributes; strings and numbers
 * among the children become text nodes; arrays are flattened; null and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else if (name === "value") {
      el.value = String(value);
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces `el`'s children with `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The element with id `id`. */
export const $ = (id) => document.getElementById(id);

/** A short-lived message for everyone, screen readers included. */
export function say(text, kind = "info") {
  const box = $("status");
  fill(box, h("p", { class: `toast ${kind}` }, text));
  clearTimeout(say.timer);
  say.timer = setTimeout(() => box.replaceChildren(), 4000);
}

/** A date-time as the marketer's locale writes it, or a dash. */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** A labelled field: `<label>` tied to its control by id, with an optional hint. */
export function field(label, control, hint) {
  const id = control.id || `f-${++field.n}`;
  control.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint`, class: "hint" }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}
field.n = 0;

/**
 * A button the viewer's scopes may forbid: disabled, with the reason next to it and read
 * out with it, rather than a button that fails.
 */
export function guarded(button, verdict) {
  if (verdict.ok) return button;
  button.disabled = true;
  const id = `why-${++field.n}`;
  button.setAttribute("aria-describedby", id);
  button.title = verdict.reason;
  return h("span", { class: "guarded" }, button, h("small", { id, class: "why" }, verdict.reason));
}

/** A status badge. */
export const badge = (text, kind = String(text).toLowerCase()) =>
  h("span", { class: `badge ${kind}` }, text);

/** A table with a caption, header cells and rows of cells. */
export function table(caption, headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))),
  );
}

/**
 * Asks before doing something that matters: the dialog says what will happen; answers true
 * when the marketer confirms. Escape or Cancel answers false.
 */
export function confirmAction(title, body, okLabel) {
  const dialog = $("confirm");
  fill($("confirm-title"), title);
  fill($("confirm-body"), body);
  const ok = $("confirm-ok");
  const cancel = $("confirm-cancel");
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    const done = (answer) => {
      ok.removeEventListener("click", yes);
      cancel.removeEventListener("click", no);
      dialog.removeEventListener("cancel", no);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const yes = () => done(true);
    const no = () => done(false);
    ok.addEventListener("click", yes);
    cancel.addEventListener("click", no);
    dialog.addEventListener("cancel", no);
    dialog.showModal();
    cancel.focus();
  });
}
