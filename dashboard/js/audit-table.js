// The audit trail as a table with Previous/Next paging; used by the audit page and by a key's page.
import { api, envPath } from "./api.js";
import { fmt, h } from "./dom.js";

const COLUMNS = ["Time", "Request or event", "Status", "Key", "Actor", "Detail", "Source IP"];

function detailOf(record) {
  return record.reason || record.error || (record.details ? JSON.stringify(record.details) : "");
}

export function auditTable(records, label) {
  const rows = records.map((r) => h("tr", {},
    h("td", {}, fmt(r.time)),
    h("td", {}, r.kind === "event" ? r.event : `${r.method} ${r.path}`),
    h("td", {}, r.kind === "event" ? "—" : String(r.status)),
    h("td", {}, h("code", {}, r.key_id || "—")),
    h("td", {}, h("code", {}, r.actor_key_id || "—")),
    h("td", {}, detailOf(r)),
    h("td", {}, r.source_ip || "")));
  return h("table", { "aria-label": label },
    h("thead", {}, h("tr", {}, COLUMNS.map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" }, "No records."))));
}

// filters: {key_id?, actor_key_id?, since?, until?}; empty values are left out of the query.
export async function pagedAudit(container, filters, label) {
  const holder = h("div");
  const pager = h("div", { class: "pager" });
  container.append(holder, pager);
  const tokens = [null];
  async function load(index) {
    const params = new URLSearchParams({ limit: "25" });
    for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
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
