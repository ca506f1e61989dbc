// DOM helpers shared by every view. Values from the API only ever become text nodes or attribute values,
// never HTML, so a key name like "<img onerror=…>" stays a name.

// h("button", { type: "button", onclick: fn }, "Save"): an element with attributes, listeners and children.
export function h(tag, attrs = {}, ...children) {
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

export const $ = (selector) => document.querySelector(selector);

export const fmt = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

// A length of time in words, rounded down to its largest unit: 42 s, 5 min, 3 h, 2 days.
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  const days = Math.floor(s / 86400);
  return `${days} ${days === 1 ? "day" : "days"}`;
}

// A time as people read it in a list: "5 min ago", "just now" (or "in 3 days" for one ahead, an expiry), with
// the exact local time on hover (title) and for machines (datetime). `none`: the text for no time at all.
export function ago(iso, none = "—", now = Date.now()) {
  if (!iso) return none;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const seconds = (now - ms) / 1000;
  // Within a few seconds either way (clocks differ a little): neither "0 s ago" nor "in 1 s".
  const text = Math.abs(seconds) < 5 ? "just now" : seconds >= 0 ? `${duration(seconds)} ago` : `in ${duration(-seconds)}`;
  return h("time", { datetime: iso, title: fmt(iso) }, text);
}

// "12/03/2026, 09:41:07 (3 min ago)"; "never" for no time.
export const fmtAgo = (iso, now = Date.now()) =>
  (iso ? `${fmt(iso)} (${duration((now - Date.parse(iso)) / 1000)} ago)` : "never");

// Key ids are public (12 letters and digits); anything else in an id's place (an actor such as "bootstrap"
// or "github-secret-scanning") is shown as it is, not linked.
export const isKeyId = (value) => typeof value === "string" && /^[0-9A-Za-z]{12}$/.test(value);

// A key id as a link to its page (a revoked key's page still shows its audit trail).
export const keyLink = (keyId) =>
  (isKeyId(keyId) ? h("a", { href: `#/keys/${keyId}` }, h("code", {}, keyId)) : h("code", {}, keyId || "—"));

// A link to a place outside the dashboard, only for http(s) addresses: a value from the API such as
// "javascript:..." stays text.
export function outsideLink(url) {
  let parsed = null;
  try {
    parsed = new URL(url);
  } catch {
    // not an address: shown as text below
  }
  if (!parsed || !["http:", "https:"].includes(parsed.protocol)) return h("span", { class: "wrap" }, url || "—");
  return h("a", { href: parsed.href, rel: "noopener noreferrer", target: "_blank", class: "wrap" }, url);
}

// Empty every error message and aria-invalid mark inside `scope` (a form, a dialog).
export function clearErrors(scope) {
  scope.querySelectorAll(".error").forEach((el) => (el.textContent = ""));
  scope.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

// ---- tables that turn into stacked cards on a phone (styles.css, table.stacked) ----
// Explicit roles keep them tables for screen readers even where CSS makes their parts blocks.

// columns: the headings; each cell of the body says which heading it is under (its data-label).
export function stackedTable(label, columns, body) {
  return h("table", { "aria-label": label, class: "stacked", role: "table" },
    h("thead", { role: "rowgroup" }, h("tr", { role: "row" },
      columns.map((title) => h("th", { scope: "col", role: "columnheader" }, title)))),
    body);
}

export const row = (attrs, ...cells) => h("tr", { role: "row", ...attrs }, ...cells);

export const cell = (label, content, attrs = {}) => h("td", { role: "cell", "data-label": label, ...attrs }, content);

// The one row of an empty table.
export const emptyRow = (columns, text) =>
  row({}, h("td", { role: "cell", colspan: columns.length, class: "empty" }, text));

// A JSON value (an audit record's details): short ones inline; long ones as one cut line that opens
// (details/summary: a keyboard-operable disclosure) to all of it, pretty-printed and wrapped.
export function jsonDetail(value) {
  const compact = JSON.stringify(value);
  if (compact.length <= 60) return h("code", { class: "wrap" }, compact);
  return h("details", { class: "json" },
    h("summary", {}, h("span", { class: "json-preview" }, compact), h("span", { class: "json-hide" }, "Hide detail")),
    h("pre", {}, JSON.stringify(value, null, 2)));
}
