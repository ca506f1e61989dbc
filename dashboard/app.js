// Archie API keys dashboard: plain JavaScript, no build step, only the public API.
// The signed-in key lives in sessionStorage (this tab only); every value from the API is placed with
// textContent, never as HTML.
"use strict";

const STORAGE_KEY = "archie.apiKey";
const PREFIX_RE = /^[a-z0-9_]{0,15}_$/;
const ACTIONS = ["read", "write", "update", "delete"];
const state = { key: null, project: null, environment: null, me: null };

// ---------- small DOM helpers ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
const $ = (selector) => document.querySelector(selector);
const fmt = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

// ---------- API ----------
class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.field = body && body.field;
  }
}

function apiBase() {
  const configured = (window.ARCHIE_CONFIG && window.ARCHIE_CONFIG.apiUrl) || "";
  return configured.replace(/\/$/, "");
}

function envPath(suffix = "") {
  return `/projects/${state.project}/environments/${state.environment}${suffix}`;
}

async function api(method, path, body) {
  const response = await fetch(apiBase() + path, {
    method,
    headers: { Authorization: `Bearer ${state.key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The key says where it belongs (prefix, project, environment, id, secret, checksum): parse the public parts
// to know which environment's whoami to ask.
function keyPlace(key) {
  const parts = key.trim().split("_");
  if (parts.length < 4) return null;
  const [environment, project] = [parts[parts.length - 2], parts[parts.length - 3]];
  if (!/^[a-z0-9]{1,24}$/.test(project) || !/^[a-z0-9]{1,24}$/.test(environment)) return null;
  return { project, environment };
}

// ---------- sign in ----------
async function signIn(key) {
  const place = keyPlace(key);
  if (!place) throw new ApiError(400, { message: "This is not an Archie API key." });
  Object.assign(state, { key: key.trim(), ...place });
  const me = await api("GET", envPath("/whoami"));
  Object.assign(state, { project: me.project, environment: me.environment, me });
  sessionStorage.setItem(STORAGE_KEY, state.key);
}

function signOut() {
  sessionStorage.removeItem(STORAGE_KEY);
  Object.assign(state, { key: null, project: null, environment: null, me: null });
  location.hash = "";
  showSignIn();
}

function showSignIn(message = "") {
  $("#app").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#signin-key").value = "";
  $("#signin-key").focus();
}

function showApp() {
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#identity").textContent = `${state.project} / ${state.environment} — signed in as ${state.me.name} (${state.me.key_id})`;
  route();
}

// ---------- routing ----------
function route() {
  if (!state.key) return;
  const [page, id] = location.hash.replace(/^#\/?/, "").split("/");
  document.querySelectorAll("[data-nav]").forEach((link) => {
    link.toggleAttribute("aria-current", link.dataset.nav === (page || "keys"));
    if (link.dataset.nav === (page || "keys")) link.setAttribute("aria-current", "page");
  });
  const main = $("#main");
  main.replaceChildren();
  const render = { keys: id ? renderKeyDetail : renderKeys, audit: renderAudit, roles: renderRoles }[page || "keys"];
  (render || renderKeys)(main, id).catch((error) => main.append(h("p", { class: "error", role: "alert" }, error.message)));
}

function handleAuthFailure(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut();
    showSignIn("Your key is no longer valid. Sign in again.");
    return true;
  }
  return false;
}

// ---------- keys ----------
function statusCell(key) {
  return h("td", { class: `status-${key.status}` }, key.status);
}

async function renderKeys(main) {
  const addButton = h("button", { type: "button", class: "black", id: "add-key", onclick: openCreateDialog }, "+ Add new API key");
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "API Keys"), addButton));
  const body = h("tbody");
  const table = h("table", { "aria-label": "API keys" },
    h("thead", {}, h("tr", {}, ["Name", "Start", "Roles", "Created", "Last used", "Expires", "Status", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    body);
  const pager = h("div", { class: "pager" });
  main.append(table, pager);
  let token = null;
  async function load() {
    const page = await api("GET", envPath(`/keys?limit=25${token ? `&next_token=${encodeURIComponent(token)}` : ""}`));
    for (const key of page.keys) body.append(keyRow(key));
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No keys yet.")));
    token = page.next_token;
    pager.replaceChildren(token ? h("button", { type: "button", onclick: load }, "Load more") : "");
  }
  await load();
}

function keyRow(key) {
  return h("tr", { "data-key-id": key.key_id },
    h("td", {}, h("a", { href: `#/keys/${key.key_id}` }, key.name)),
    h("td", {}, h("code", {}, key.start + "…")),
    h("td", {}, key.roles.join(", ")),
    h("td", {}, fmt(key.created_at)),
    h("td", {}, fmt(key.last_used_at)),
    h("td", {}, fmt(key.expires_at)),
    statusCell(key),
    h("td", {}, h("div", { class: "rowactions" },
      h("button", { type: "button", class: "link", onclick: () => openRoll(key), "aria-label": `Roll ${key.name}` }, "Roll"),
      h("button", { type: "button", class: "link", onclick: () => confirmDelete(key), "aria-label": `Delete ${key.name}` }, "Delete"))));
}

function confirmDialog({ title, text, action, extra, onConfirm }) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-extra").replaceChildren(...(extra ? [extra] : []));
  $("#confirm-error").textContent = "";
  const ok = $("#confirm-ok");
  ok.textContent = action;
  ok.onclick = async (event) => {
    event.preventDefault();
    ok.disabled = true;
    try {
      await onConfirm();
      dialog.close();
    } catch (error) {
      if (!handleAuthFailure(error)) $("#confirm-error").textContent = error.message;
    } finally {
      ok.disabled = false;
    }
  };
  dialog.showModal();
}

function confirmDelete(key) {
  confirmDialog({
    title: "Delete API key?",
    text: `“${key.name}” (${key.start}…) will stop working immediately. This cannot be undone.`,
    action: "Delete key",
    onConfirm: async () => {
      await api("DELETE", envPath(`/keys/${key.key_id}`));
      location.hash = "#/keys";
      route();
    },
  });
}

function openRoll(key) {
  const select = h("select", { id: "roll-grace" },
    [["0", "Immediately"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"]].map(([v, t]) =>
      h("option", { value: v, selected: v === "86400" }, t)));
  confirmDialog({
    title: "Roll API key",
    text: `A new key with the same name, roles and context replaces “${key.name}”. The old key keeps working for the grace period, then expires.`,
    action: "Roll key",
    extra: h("div", { class: "field" }, h("label", { for: "roll-grace" }, "Grace period for the old key"), select),
    onConfirm: async () => {
      const rolled = await api("POST", envPath(`/keys/${key.key_id}/roll`), { grace_seconds: Number(select.value) });
      showSecretOnce(rolled.key);
      route();
    },
  });
}

// ---------- create dialog ----------
function contextRow(index) {
  const keyId = `ctx-key-${index}`, valueId = `ctx-value-${index}`;
  const row = h("div", { class: "ctxrow" },
    h("div", {}, h("label", { for: keyId }, `Context key ${index + 1}`), h("input", { id: keyId, class: "ctx-key", spellcheck: "false" })),
    h("div", {}, h("label", { for: valueId }, `Context value ${index + 1}`), h("input", { id: valueId, class: "ctx-value" })),
    h("button", { type: "button", onclick: () => row.remove(), "aria-label": `Remove context ${index + 1}` }, "Remove"));
  return row;
}

let contextCounter = 0;

async function openCreateDialog() {
  const dialog = $("#create-dialog");
  const form = $("#create-form");
  form.reset();
  clearErrors(form);
  $("#create-prefix").value = "archie_";
  $("#create-context").replaceChildren();
  contextCounter = 0;
  const roles = $("#create-roles");
  roles.replaceChildren(h("p", { class: "hint" }, "Loading roles…"));
  dialog.showModal();
  $("#create-name").focus();
  try {
    const page = await api("GET", envPath("/roles?limit=100"));
    roles.replaceChildren(...page.roles.map((role) => h("label", {},
      h("input", { type: "checkbox", name: "roles", value: role.name }), role.name)));
    if (!page.roles.length) roles.replaceChildren(h("p", { class: "hint" }, "No roles yet: define one on the Roles page."));
  } catch (error) {
    if (!handleAuthFailure(error)) showError("roles", error.message);
  }
}

function clearErrors(scope) {
  scope.querySelectorAll(".error").forEach((el) => (el.textContent = ""));
  scope.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

function showError(field, message) {
  const top = String(field || "form").split(".")[0];
  const target = document.getElementById(`error-${top}`) || document.getElementById("error-form");
  target.textContent = message;
  const input = { name: "#create-name", prefix: "#create-prefix" }[top];
  if (input) $(input).setAttribute("aria-invalid", "true");
}

function validatePrefix() {
  const input = $("#create-prefix");
  const ok = PREFIX_RE.test(input.value);
  $("#error-prefix").textContent = ok ? "" : "Use 1 to 16 lowercase letters, digits or _, and end with _.";
  input.toggleAttribute("aria-invalid", !ok);
  if (!ok) input.setAttribute("aria-invalid", "true");
  return ok;
}

async function submitCreate(event) {
  event.preventDefault();
  const form = $("#create-form");
  clearErrors(form);
  const name = $("#create-name").value.trim();
  const roles = [...form.querySelectorAll('input[name="roles"]:checked')].map((box) => box.value);
  let valid = validatePrefix();
  if (!name) { showError("name", "Give the key a name."); valid = false; }
  if (!roles.length) { showError("roles", "Choose at least one role."); valid = false; }
  const context = {};
  for (const row of form.querySelectorAll(".ctxrow")) {
    const k = row.querySelector(".ctx-key").value.trim(), v = row.querySelector(".ctx-value").value;
    if (!k && !v) continue;
    if (!k) { showError("context", "Every context value needs a key."); valid = false; }
    context[k] = v;
  }
  if (!valid) return;
  const submit = $("#create-submit");
  submit.disabled = true;
  try {
    const created = await api("POST", envPath("/keys"), { name, prefix: $("#create-prefix").value, roles, context });
    $("#create-dialog").close();
    showSecretOnce(created.key);
    if ((location.hash || "#/keys").startsWith("#/keys")) route();
  } catch (error) {
    if (!handleAuthFailure(error)) showError(error.field, error.message);
  } finally {
    submit.disabled = false;
  }
}

function showSecretOnce(value) {
  const dialog = $("#secret-dialog");
  $("#secret-value").value = value;
  $("#secret-copied").textContent = "";
  dialog.showModal();
  $("#secret-copy").focus();
}

function forgetSecret() {
  // Once closed, the value is gone for good: nothing keeps a copy.
  $("#secret-value").value = "";
  $("#secret-copied").textContent = "";
}

// ---------- key detail ----------
function usageChart(hours) {
  const width = 720, height = 140, pad = 24;
  const now = Date.now();
  const buckets = [];
  for (let i = 23; i >= 0; i--) {
    const start = new Date(now - i * 3600e3);
    start.setUTCMinutes(0, 0, 0);
    const label = start.toISOString().slice(0, 13) + ":00Z";
    const found = hours.find((x) => x.hour === label);
    buckets.push({ label, allowed: found ? found.allowed : 0, refused: found ? found.refused : 0 });
  }
  const max = Math.max(1, ...buckets.map((b) => b.allowed + b.refused));
  const barWidth = (width - pad) / buckets.length;
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const total = buckets.reduce((sum, b) => sum + b.allowed + b.refused, 0);
  svg.setAttribute("aria-label", `Requests per hour over the last 24 hours: ${total} in total`);
  buckets.forEach((b, i) => {
    let y = height - pad;
    for (const [count, color] of [[b.allowed, "#111"], [b.refused, "#b42318"]]) {
      if (!count) continue;
      const barHeight = ((height - 2 * pad) * count) / max;
      y -= barHeight;
      const rect = document.createElementNS(svgNS, "rect");
      Object.entries({ x: pad + i * barWidth + 2, y, width: barWidth - 4, height: barHeight, fill: color }).forEach(([k, v]) => rect.setAttribute(k, v));
      const title = document.createElementNS(svgNS, "title");
      title.textContent = `${b.label}: ${b.allowed} allowed, ${b.refused} refused`;
      rect.append(title);
      svg.append(rect);
    }
  });
  const axis = document.createElementNS(svgNS, "text");
  axis.setAttribute("x", pad); axis.setAttribute("y", height - 6); axis.setAttribute("font-size", "11");
  axis.textContent = `last 24 h (UTC hours) — peak ${max}/h; black allowed, red refused`;
  svg.append(axis);
  return svg;
}

function auditTable(records, label) {
  const rows = records.map((r) => h("tr", {},
    h("td", {}, fmt(r.time)),
    h("td", {}, r.kind === "event" ? r.event : `${r.method} ${r.path}`),
    h("td", {}, r.kind === "event" ? "—" : String(r.status)),
    h("td", {}, h("code", {}, r.key_id || "—")),
    h("td", {}, h("code", {}, r.actor_key_id || "—")),
    h("td", {}, r.reason || r.error || (r.details ? JSON.stringify(r.details) : "")),
    h("td", {}, r.source_ip || "")));
  return h("table", { "aria-label": label },
    h("thead", {}, h("tr", {}, ["Time", "Request or event", "Status", "Key", "Actor", "Detail", "Source IP"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No records."))));
}

async function renderKeyDetail(main, keyId) {
  const key = await api("GET", envPath(`/keys/${keyId}`));
  main.append(h("div", { class: "pagehead" }, h("h1", {}, key.name),
    h("div", { class: "rowactions" },
      h("button", { type: "button", onclick: () => openRoll(key) }, "Roll"),
      h("button", { type: "button", class: "danger", onclick: () => confirmDelete(key) }, "Delete"))));
  const facts = [["Key ID", key.key_id], ["Start", key.start + "…"], ["Roles", key.roles.join(", ")],
    ["Context", Object.entries(key.context).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
    ["Created", `${fmt(key.created_at)} by ${key.created_by}`], ["Last used", fmt(key.last_used_at)],
    ["Expires", fmt(key.expires_at)], ["Status", key.status],
    ["Rolled from", key.rolled_from || "—"], ["Rolled to", key.rolled_to || "—"]];
  main.append(h("dl", { class: "details" }, facts.map(([t, d]) => [h("dt", {}, t), h("dd", {}, d)])));
  const usage = await api("GET", envPath(`/keys/${keyId}/usage`));
  main.append(h("section", { class: "section", "aria-labelledby": "usage-title" },
    h("h2", { id: "usage-title" }, "Usage per hour"), h("div", { class: "chart" }, usageChart(usage.hours))));
  const trail = h("section", { class: "section", "aria-labelledby": "trail-title" }, h("h2", { id: "trail-title" }, "Audit trail"));
  main.append(trail);
  await pagedAudit(trail, { key_id: keyId }, "Audit trail of this key");
}

async function pagedAudit(container, filters, label) {
  const holder = h("div");
  const pager = h("div", { class: "pager" });
  container.append(holder, pager);
  const tokens = [null];
  async function load(index) {
    const params = new URLSearchParams({ limit: "25" });
    for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
    if (tokens[index]) params.set("next_token", tokens[index]);
    const page = await api("GET", envPath(`/audit?${params}`));
    tokens[index + 1] = page.next_token;
    holder.replaceChildren(auditTable(page.records, label));
    pager.replaceChildren(
      index > 0 ? h("button", { type: "button", onclick: () => load(index - 1) }, "Previous page") : "",
      page.next_token ? h("button", { type: "button", onclick: () => load(index + 1) }, "Next page") : "");
  }
  await load(0);
}

// ---------- audit page ----------
async function renderAudit(main) {
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "Audit")));
  const field = (id, label, type = "text") => h("div", {}, h("label", { for: id }, label), h("input", { id, type, spellcheck: "false" }));
  const error = h("p", { class: "error", role: "alert", id: "audit-error" });
  const results = h("div");
  const form = h("form", { class: "filters", "aria-label": "Audit filters" },
    field("audit-key", "Key ID"), field("audit-actor", "Actor key ID"),
    field("audit-since", "Since", "datetime-local"), field("audit-until", "Until", "datetime-local"),
    h("button", { type: "submit", class: "primary" }, "Search"));
  const iso = (value) => (value ? new Date(value).toISOString() : "");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    results.replaceChildren();
    try {
      await pagedAudit(results, {
        key_id: $("#audit-key").value.trim(), actor_key_id: $("#audit-actor").value.trim(),
        since: iso($("#audit-since").value), until: iso($("#audit-until").value),
      }, "Audit records");
    } catch (e) {
      if (!handleAuthFailure(e)) error.textContent = e.message;
    }
  });
  main.append(form, error, results);
  await pagedAudit(results, {}, "Audit records");
}

// ---------- roles ----------
async function renderRoles(main) {
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "Roles"),
    h("button", { type: "button", class: "black", onclick: () => editRole(main, null) }, "+ New role")));
  const page = await api("GET", envPath("/roles?limit=100"));
  const rows = page.roles.map((role) => h("tr", {},
    h("td", {}, h("button", { type: "button", class: "link", onclick: () => editRole(main, role) }, role.name)),
    h("td", {}, role.description),
    h("td", {}, role.permissions.map((p) => `${p.resource}: ${p.actions.join("/")}${Object.keys(p.filters || {}).length ? " (filtered)" : ""}`).join("; ")),
    h("td", {}, String(role.key_count))));
  main.append(h("table", { "aria-label": "Roles" },
    h("thead", {}, h("tr", {}, ["Role", "Description", "Permissions", "Keys"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)));
}

let permissionCounter = 0;

function filterRow(permIndex, field = "", value = "") {
  const n = `${permIndex}-${Math.random().toString(36).slice(2, 7)}`;
  const fromContext = Boolean(value) && typeof value === "object";
  const row = h("div", { class: "filterrow" },
    h("div", {}, h("label", { for: `f-field-${n}` }, "Filter field"), h("input", { id: `f-field-${n}`, class: "f-field", value: field })),
    h("div", {}, h("label", { for: `f-value-${n}` }, fromContext ? "Context name" : "Value"),
      h("input", { id: `f-value-${n}`, class: "f-value", value: fromContext ? value.from_context : String(value) })),
    h("label", {}, h("input", { type: "checkbox", class: "f-ctx", checked: fromContext,
      onchange: (event) => { row.querySelector(`label[for="f-value-${n}"]`).textContent = event.target.checked ? "Context name" : "Value"; } }),
      "From context"),
    h("button", { type: "button", onclick: () => row.remove(), "aria-label": "Remove filter" }, "Remove"));
  return row;
}

function permissionRow(permission = { resource: "", actions: [], filters: {} }) {
  const i = permissionCounter++;
  const filters = h("div", { class: "filters-list" },
    Object.entries(permission.filters || {}).map(([f, v]) => filterRow(i, f, v)));
  const cells = ACTIONS.map((action) => h("td", {},
    h("input", { type: "checkbox", class: `act-${action}`, checked: permission.actions.includes(action),
      "aria-label": `${action[0].toUpperCase() + action.slice(1)} on resource ${i + 1}` })));
  const row = h("tbody", { class: "permission" },
    h("tr", {},
      h("td", {}, h("label", { for: `res-${i}`, class: "sr" }, `Resource ${i + 1}`),
        h("input", { id: `res-${i}`, class: "res", value: permission.resource, placeholder: "orders or *" })),
      cells,
      h("td", {}, h("button", { type: "button", onclick: () => row.remove(), "aria-label": `Remove resource ${i + 1}` }, "Remove"))),
    h("tr", {}, h("td", { colspan: 6 }, filters,
      h("button", { type: "button", onclick: () => filters.append(filterRow(i)) }, "Add filter"),
      h("p", { class: "error perm-error", role: "alert" }))));
  return row;
}

function editRole(main, role) {
  main.replaceChildren();
  permissionCounter = 0;
  const isNew = !role;
  main.append(h("div", { class: "pagehead" }, h("h1", {}, isNew ? "New role" : `Role ${role.name}`)));
  const error = h("p", { class: "error", role: "alert", id: "role-error" });
  const grid = h("table", { class: "grid", "aria-label": "Permissions" },
    h("thead", {}, h("tr", {}, ["Resource", "Read", "Write", "Update", "Delete", ""].map((t) => h("th", { scope: "col" }, t)))),
    (role ? role.permissions : [{ resource: "", actions: ["read"], filters: {} }]).map(permissionRow));
  const form = h("form", { "aria-label": "Role" },
    isNew ? h("div", { class: "field" }, h("label", { for: "role-name" }, "Role name"), h("input", { id: "role-name", spellcheck: "false" })) : "",
    h("div", { class: "field" }, h("label", { for: "role-description" }, "Description"), h("input", { id: "role-description", value: role ? role.description : "" })),
    h("fieldset", { class: "field" }, h("legend", {}, "Permissions"), grid,
      h("button", { type: "button", onclick: () => grid.append(permissionRow()) }, "Add resource")),
    error,
    h("div", { class: "actions" },
      role ? h("button", { type: "button", class: "danger", onclick: () => deleteRole(role) }, "Delete role") : "",
      h("button", { type: "button", onclick: () => { location.hash = "#/roles"; route(); } }, "Cancel"),
      h("button", { type: "submit", class: "primary" }, "Save role")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    grid.querySelectorAll(".perm-error").forEach((el) => (el.textContent = ""));
    const name = isNew ? $("#role-name").value.trim() : role.name;
    const permissions = [...grid.querySelectorAll("tbody.permission")].map((tbody) => {
      const filters = {};
      tbody.querySelectorAll(".filterrow").forEach((row) => {
        const field = row.querySelector(".f-field").value.trim();
        const value = row.querySelector(".f-value").value;
        if (field) filters[field] = row.querySelector(".f-ctx").checked ? { from_context: value } : value;
      });
      return { resource: tbody.querySelector(".res").value.trim(),
        actions: ACTIONS.filter((a) => tbody.querySelector(`.act-${a}`).checked), filters };
    });
    try {
      await api("PUT", envPath(`/roles/${encodeURIComponent(name)}`), { description: $("#role-description").value, permissions });
      location.hash = "#/roles";
      route();
    } catch (e) {
      if (handleAuthFailure(e)) return;
      // An error about one permission is shown in that permission's row; anything else under the form.
      const match = /^permissions\.(\d+)/.exec(e.field || "");
      const rowError = match && grid.querySelectorAll("tbody.permission")[Number(match[1])]?.querySelector(".perm-error");
      (rowError || error).textContent = (e.field ? `${e.field}: ` : "") + e.message;
    }
  });
  main.append(form);
  (isNew ? $("#role-name") : $("#role-description")).focus();
}

function deleteRole(role) {
  confirmDialog({
    title: "Delete role?",
    text: `Role “${role.name}” will be deleted. Keys that still hold it prevent this.`,
    action: "Delete role",
    onConfirm: async () => {
      await api("DELETE", envPath(`/roles/${encodeURIComponent(role.name)}`));
      location.hash = "#/roles";
      route();
    },
  });
}

// ---------- wiring ----------
document.addEventListener("DOMContentLoaded", async () => {
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("#signin-error").textContent = "";
    try {
      await signIn($("#signin-key").value);
      $("#signin-key").value = "";
      if (!location.hash) location.hash = "#/keys";
      showApp();
    } catch (error) {
      Object.assign(state, { key: null });
      $("#signin-error").textContent = error.status === 401 ? "That key was not accepted." : error.message;
    }
  });
  $("#signout").addEventListener("click", signOut);
  $("#create-form").addEventListener("submit", submitCreate);
  $("#create-prefix").addEventListener("input", validatePrefix);
  $("#add-context").addEventListener("click", () => {
    const row = contextRow(contextCounter++);
    $("#create-context").append(row);
    row.querySelector("input").focus();
  });
  document.querySelectorAll("dialog [data-close]").forEach((button) =>
    button.addEventListener("click", () => button.closest("dialog").close()));
  $("#secret-copy").addEventListener("click", async () => {
    const value = $("#secret-value").value;
    try {
      await navigator.clipboard.writeText(value);
      $("#secret-copied").textContent = "Copied to the clipboard.";
    } catch {
      $("#secret-value").select();
      $("#secret-copied").textContent = "Select the key and copy it (Ctrl+C).";
    }
  });
  $("#secret-done").addEventListener("click", () => $("#secret-dialog").close());
  $("#secret-dialog").addEventListener("close", forgetSecret);
  window.addEventListener("hashchange", route);

  const saved = sessionStorage.getItem(STORAGE_KEY);
  if (!saved) return showSignIn();
  try {
    await signIn(saved);
    showApp();
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
    showSignIn("Your key is no longer valid. Sign in again.");
  }
});
