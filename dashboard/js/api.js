// The management API: where it is, how a call is made, what an error looks like.
import { session } from "./session.js";
import { LIST_LIMIT_MAX } from "./validation.js";

// Every error answer is {"code", "message", "field"?} (and "errors" for validation); the field names the
// input to blame ("prefix", "context.tenant", "permissions.0.resource"). Some codes say more (key_in_use:
// "last_used_at", "recent_requests"): the whole answer is kept as `body`.
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.code = body && body.code;
    this.field = body && body.field;
    this.errors = (body && body.errors) || [];
  }
}

// config.js (rewritten on deploy) says where the API is; empty means this page's own origin.
function apiBase() {
  const configured = (window.ARCHIE_CONFIG && window.ARCHIE_CONFIG.apiUrl) || "";
  return configured.replace(/\/$/, "");
}

// A path inside the signed-in key's environment: envPath("/keys") -> /projects/p/environments/e/keys.
export function envPath(suffix = "") {
  return `/projects/${session.project}/environments/${session.environment}${suffix}`;
}

// headers: extra request headers, such as an Idempotency-Key.
export async function api(method, path, body, headers = {}) {
  const response = await fetch(apiBase() + path, {
    method,
    headers: { ...headers, Authorization: `Bearer ${session.key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not the API's JSON (a proxy's or CDN's error page): the status alone says what happened.
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A listing's path with its query: listPath("/keys", {limit: 25, name: "ci"}); empty values are left out.
export function listPath(suffix, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== "") query.set(name, value);
  const text = query.toString();
  return envPath(text ? `${suffix}?${text}` : suffix);
}

// Every role of the environment: the API pages its lists (at most LIST_LIMIT_MAX a page), and a role
// missing from the create dialog or the roles page would look like a role that does not exist.
export async function allRoles() {
  const roles = [];
  let token = null;
  do {
    const page = await api("GET", listPath("/roles", { limit: LIST_LIMIT_MAX, next_token: token }));
    roles.push(...page.roles);
    token = page.next_token;
  } while (token);
  return roles;
}
