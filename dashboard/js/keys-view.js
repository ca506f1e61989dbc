// #/keys: every key of the environment, newest first, 25 at a time.
import { api, envPath } from "./api.js";
import { openCreateDialog } from "./create-key-dialog.js";
import { cell, emptyRow, fmt, h, row, stackedTable } from "./dom.js";
import { confirmDelete, openRoll } from "./key-actions.js";

const COLUMNS = ["Name", "Start", "Roles", "Created", "Last used", "Expires", "Status", "Actions"];

function keyRow(key) {
  return row({ "data-key-id": key.key_id },
    cell("Name", h("a", { href: `#/keys/${encodeURIComponent(key.key_id)}` }, key.name), { class: "wrap" }),
    cell("Start", h("code", {}, key.start + "…")),
    cell("Roles", key.roles.join(", "), { class: "wrap" }),
    cell("Created", fmt(key.created_at)),
    cell("Last used", fmt(key.last_used_at)),
    cell("Expires", fmt(key.expires_at)),
    cell("Status", key.status, { class: `status-${key.status}` }),
    cell("Actions", h("div", { class: "rowactions" },
      h("button", { type: "button", class: "link", onclick: () => openRoll(key), "aria-label": `Roll ${key.name}` }, "Roll"),
      h("button", { type: "button", class: "link", onclick: () => confirmDelete(key), "aria-label": `Delete ${key.name}` }, "Delete"))));
}

export async function renderKeys(main) {
  const addButton = h("button", { type: "button", class: "black", id: "add-key", onclick: openCreateDialog }, "+ Add new API key");
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "API Keys"), addButton));
  const body = h("tbody", { role: "rowgroup" });
  const table = stackedTable("API keys", COLUMNS, body);
  const pager = h("div", { class: "pager" });
  main.append(table, pager);
  let token = null;
  async function load() {
    const query = `/keys?limit=25${token ? `&next_token=${encodeURIComponent(token)}` : ""}`;
    const page = await api("GET", envPath(query));
    for (const key of page.keys) body.append(keyRow(key));
    if (!body.children.length) body.append(emptyRow(COLUMNS, "No keys yet."));
    token = page.next_token;
    pager.replaceChildren(token ? h("button", { type: "button", onclick: load }, "Load more") : "");
  }
  await load();
}
