// The console's one way to the server: `POST /graphql` with the API key the marketer signed
// in with, kept in this tab's sessionStorage (never in a URL, gone when the tab closes).

const KEY = "offerflow.key";

/** A GraphQL error: its message, `extensions.code` and `extensions.diagnostics`. */
export class ApiError extends Error {
  constructor(message, extensions = {}) {
    super(message);
    this.code = extensions.code || "ERROR";
    this.diagnostics = extensions.diagnostics || [];
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key),
  signOut: () => {
    sessionStorage.removeItem(KEY);
    session.viewer = null;
  },
  /** `{name, scopes}` of the signed-in key, once read. */
  viewer: null,
};

/** Runs `query` with `variables`; answers `data`, or throws the first error. */
export async function gql(query, variables = {}) {
  const key = session.key();
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(`the server cannot be reached (${e.message})`, { code: "NETWORK" });
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the server answered ${response.status} without JSON`, { code: "HTTP" });
  }
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw new ApiError(e.message, e.extensions || {});
  }
  if (!response.ok) throw new ApiError(`the server answered ${response.status}`);
  return body.data;
}

// What each part of the console needs, as the API's access table has it (docs/api.md).
const NEEDS = {
  read: ["admin", "author", "read"],
  author: ["admin", "author"],
  customer: ["admin", "read"],
  ingest: ["admin", "ingest"],
  admin: ["admin"],
};

/** Whether the signed-in key may do `what`, and if not, why. */
export function can(what) {
  const scopes = (session.viewer?.scopes || []).map((s) => s.toLowerCase());
  const needs = NEEDS[what];
  if (needs.some((s) => scopes.includes(s))) return { ok: true };
  const have = scopes.length ? scopes.join(", ") : "none";
  return {
    ok: false,
    reason: `Needs scope ${needs.join(" or ")}; this key has ${have}.`,
  };
}
