// Spec documents (JSON, as the API answers them) written as YAML, the way marketers write
// them: block style, plain scalars where YAML reads them back as the same string, quotes
// elsewhere. The server parses YAML; the console only writes it.

const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i;
const PLAIN = /^[A-Za-z0-9_][A-Za-z0-9 _./:+,()!?'-]*$/;

function scalar(v) {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  const s = String(v);
  const plain =
    PLAIN.test(s) &&
    !RESERVED.test(s) &&
    !/^[-+.]?\d[\d_]*(\.\d*)?([eE][-+]?\d+)?$/.test(s) &&
    !s.includes(": ") &&
    !s.endsWith(" ") &&
    !s.endsWith(":");
  if (plain) return s;
  if (!/[\n\r\t]/.test(s)) return `'${s.replaceAll("'", "''")}'`;
  return JSON.stringify(s);
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// The API answers specs with their keys sorted; marketers read them in the spec's own order
// (docs/campaigns.md), by the key that holds them. Keys not named here follow, as they came.
const ORDERS = {
  "": ["key", "name", "description", "schedule", "audience", "goal", "rewards", "limits", "priority"],
  schedule: ["starts_at", "ends_at", "timezone"],
  goal: ["kind", "when", "value", "target", "within", "period", "steps"],
  steps: ["name", "when"],
  rewards: ["kind", "amount", "amount_expr", "code", "description"],
  limits: ["per_customer", "max_rewards"],
  get spec() {
    return this[""];
  },
};

/** The entries of `value` in the spec's order, leaving out empty objects (a default). */
function entries(value, parent) {
  const order = ORDERS[parent] || [];
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  return Object.entries(value)
    .filter(([, v]) => !(isObject(v) && !Object.keys(v).length))
    .sort(([a], [b]) => rank(a) - rank(b));
}

function lines(value, indent, parent) {
  const pad = " ".repeat(indent);
  const out = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if ((isObject(item) && Object.keys(item).length) || (Array.isArray(item) && item.length)) {
        const inner = lines(item, indent + 2, parent);
        out.push(`${pad}- ${inner[0].trimStart()}`, ...inner.slice(1));
      } else {
        out.push(`${pad}- ${inline(item)}`);
      }
    }
  } else {
    for (const [k, v] of entries(value, parent)) {
      if ((isObject(v) && Object.keys(v).length) || (Array.isArray(v) && v.length)) {
        out.push(`${pad}${scalar(k)}:`, ...lines(v, indent + 2, k));
      } else {
        out.push(`${pad}${scalar(k)}: ${inline(v)}`);
      }
    }
  }
  return out;
}

function inline(v) {
  if (Array.isArray(v)) return "[]";
  if (isObject(v)) return "{}";
  return scalar(v);
}

/** `value` (a JSON object) as a YAML document ending in a newline. */
export function toYaml(value) {
  if (!isObject(value) && !Array.isArray(value)) return `${scalar(value)}\n`;
  return `${lines(value, 0, "").join("\n")}\n`;
}
