// #/roles: the environment's roles, 25 at a time, what each grants and how many keys hold it (when the
// signed-in key may see that); a name opens its editor.
import { api, listPath } from "./api.js";
import { cell, h, row, stackedTable } from "./dom.js";
import { pagedList } from "./paged-list.js";
import { navigate } from "./router.js";

const COLUMNS = ["Role", "Description", "Permissions", "Keys"];
const PAGE_SIZE = 25;

function summary(permissions) {
  return permissions
    .map((p) => `${p.resource}: ${p.actions.join("/")}${Object.keys(p.filters || {}).length ? " (filtered)" : ""}`)
    .join("; ");
}

// key_count is null for a key that may not read every key (it would count other tenants' keys).
const keysCell = (count) => count == null
  ? cell("Keys", "—", { title: "Shown only to a key that may read every key" })
  : cell("Keys", String(count));

const roleRow = (role) => row({},
  cell("Role", h("button", { type: "button", class: "link", onclick: () => navigate(`#/roles/${encodeURIComponent(role.name)}`) }, role.name)),
  cell("Description", role.description, { class: "wrap" }),
  cell("Permissions", summary(role.permissions), { class: "wrap" }),
  keysCell(role.key_count));

export async function renderRoles(main) {
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "Roles"),
    h("button", { type: "button", class: "black", onclick: () => navigate("#/new-role") }, "+ New role")));
  const body = h("tbody", { role: "rowgroup" });
  const pager = h("div", { class: "pager" });
  main.append(stackedTable("Roles", COLUMNS, body), pager);
  await pagedList({
    body, pager, columns: COLUMNS, what: "roles",
    fetchPage: (token) => api("GET", listPath("/roles", { limit: PAGE_SIZE, next_token: token })),
    rowsOf: (page) => page.roles.map(roleRow),
    emptyText: () => "No roles yet.",
  })();
}
