// The YAML editor: a plain textarea (the browser's own editing, undo and accessibility) with
// a line-number gutter that marks the lines `validateCampaign` found problems on, and the
// list of those problems, each a button that puts the caret at its line and column.

import { h, fill } from "./dom.js";

export function createEditor({ label, onInput }) {
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  const area = h("textarea", {
    id: "spec-yaml",
    class: "code",
    wrap: "off",
    spellcheck: "false",
    autocapitalize: "off",
    autocomplete: "off",
    "aria-label": label,
    "aria-describedby": "diag-summary",
  });
  const summary = h("p", { id: "diag-summary", class: "diag-summary" }, "Not checked yet.");
  const list = h("ul", { class: "diagnostics", id: "diagnostics" });
  const box = h("div", { class: "editor" }, gutter, area);
  let marks = new Map();

  function renumber() {
    const count = area.value.split("\n").length;
    const rows = [];
    for (let n = 1; n <= count; n++) {
      const problems = marks.get(n);
      rows.push(
        h(
          "span",
          {
            class: problems ? "ln error" : "ln",
            "data-line": n,
            title: problems ? problems.join("\n") : null,
          },
          String(n),
        ),
      );
    }
    fill(gutter, rows);
    gutter.scrollTop = area.scrollTop;
  }

  function focusAt(line, column) {
    const lines = area.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
    offset += Math.max(0, (column || 1) - 1);
    area.focus();
    area.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  area.addEventListener("input", () => {
    renumber();
    onInput(area.value);
  });
  area.addEventListener("scroll", () => {
    gutter.scrollTop = area.scrollTop;
  });

  return {
    el: h("div", { class: "editor-wrap" }, box, h("div", { class: "diag-box" }, summary, list)),
    get value() {
      return area.value;
    },
    set value(text) {
      area.value = text;
      renumber();
    },
    focusAt,
    /** Shows `diagnostics` (null: not checked; a string: the check itself failed). */
    show(diagnostics) {
      marks = new Map();
      list.replaceChildren();
      if (typeof diagnostics === "string") {
        summary.className = "diag-summary bad";
        summary.textContent = diagnostics;
      } else if (!diagnostics.length) {
        summary.className = "diag-summary good";
        summary.textContent = "No problems: the spec is valid.";
      } else {
        summary.className = "diag-summary bad";
        const n = diagnostics.length;
        summary.textContent = `${n} problem${n === 1 ? "" : "s"} found.`;
        for (const d of diagnostics) {
          const where = d.line ? `Line ${d.line}, column ${d.column || 1}` : "The document";
          if (d.line) marks.set(d.line, [...(marks.get(d.line) || []), d.message]);
          list.appendChild(
            h(
              "li",
              { class: "diagnostic", "data-line": d.line || "" },
              h(
                "button",
                {
                  type: "button",
                  class: "link",
                  onclick: () => d.line && focusAt(d.line, d.column),
                },
                where,
              ),
              d.path ? h("code", {}, d.path) : null,
              h("span", { class: "message" }, d.message),
            ),
          );
        }
      }
      renumber();
    },
  };
}
