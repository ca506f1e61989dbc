// The audit trail as a table with Previous/Next paging; used by the audit page and by a key's page.
import { api, envPath } from "./api.js";
import { cell, emptyRow, fmt, h, jsonDetail, keyLink, row, stackedTable } from "./dom.js";

const COLUMNS = ["Time", "Request or event", "Status", "Key", "Actor", "Detail", "Source IP"];

// Why a request was refused, what went wrong, or what an event changed.
function detail(record) {
  if (record.reason || record.error) return record.reason || record.error;
  return record.details ? jsonDetail(record.details) : "";
}

export function auditTable(records, label) {
  const rows = records.map((r) => row({},
    cell("Time", fmt(r.time)),
    cell("Request or event", r.kind === "event" ? r.event : `${r.method} ${r.path}`, { class: "wrap request" }),
    cell("Status", r.kind === "event" ? "—" : String(r.status)),
    cell("Key", keyLink(r.key_id)),
    cell("Actor", keyLink(r.actor_key_id)),
    cell("Detail", detail(r), { class: "wrap" }),
    cell("Source IP", r.source_ip || "", { class: "nowrap" })));
  return stackedTable(label, COLUMNS, h("tbody", { role: "rowgroup" }, rows.length ? rows : emptyRow(COLUMNS, "No records.")));
}

// filters: {key_id?, actor_key_id?, since?, until?, kind?}; empty values are left out of the query.
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
