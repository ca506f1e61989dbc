// #/audit?key_id=&actor_key_id=&since=&until=&include=requests: the environment's audit trail, filtered by
// key, actor and time range. The filters live in the address, so a search can be reloaded, linked and gone
// back to. By default only management events (kind=event): every page of this dashboard is a request too,
// and they would bury the changes a person comes here to find.
import { h } from "./dom.js";
import { pagedAudit } from "./audit-table.js";
import { navigate } from "./router.js";
import { handleAuthFailure } from "./signin-view.js";

const FILTERS = [
  ["key_id", "audit-key", "Key ID", "text"],
  ["actor_key_id", "audit-actor", "Actor key ID", "text"],
  ["since", "audit-since", "Since", "datetime-local"],
  ["until", "audit-until", "Until", "datetime-local"],
];

// datetime-local inputs hold local time without a zone; the API and the address hold ISO 8601 in UTC.
const toIso = (local) => (local ? new Date(local).toISOString() : "");
function toLocal(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return "";
  return new Date(date.getTime() - date.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
}

export async function renderAudit(main, _params, query) {
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "Audit")));
  const inputs = {};
  const fields = FILTERS.map(([name, id, label, type]) => {
    inputs[name] = h("input", { id, type, spellcheck: "false" });
    const value = query.get(name) || "";
    inputs[name].value = type === "datetime-local" ? toLocal(value) : value;
    return h("div", {}, h("label", { for: id }, label), inputs[name]);
  });
  const includeRequests = query.get("include") === "requests";
  // Ticking it searches at once: it changes what kind of records the page is about.
  const requests = h("input", { type: "checkbox", id: "audit-requests", checked: includeRequests,
    onchange: () => form.requestSubmit() });
  const error = h("p", { class: "error", role: "alert", id: "audit-error" });
  const results = h("div");
  const form = h("form", { class: "filters", "aria-label": "Audit filters" },
    fields, h("label", { class: "check", for: "audit-requests" }, requests, "Include requests"),
    h("button", { type: "submit", class: "primary" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const search = new URLSearchParams();
    for (const [name, , , type] of FILTERS) {
      const value = inputs[name].value.trim();
      if (value) search.set(name, type === "datetime-local" ? toIso(value) : value);
    }
    if (requests.checked) search.set("include", "requests");
    const query = search.toString();
    navigate(query ? `#/audit?${query}` : "#/audit");
  });
  const shown = includeRequests
    ? "Management events and requests."
    : "Management events only (keys, roles, the environment, leaks): tick Include requests to see every request too.";
  main.append(form, h("p", { class: "hint", id: "audit-shown" }, shown), error, results);
  const filters = Object.fromEntries(FILTERS.map(([name]) => [name, query.get(name) || ""]));
  if (!includeRequests) filters.kind = "event";
  try {
    await pagedAudit(results, filters, "Audit records");
  } catch (e) {
    if (!handleAuthFailure(e)) error.textContent = e.message;
  }
}
