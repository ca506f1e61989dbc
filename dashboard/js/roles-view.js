// #/roles: the environment's roles, what each grants and how many keys hold it; a name opens its editor.
import { allRoles } from "./api.js";
import { cell, emptyRow, h, row, stackedTable } from "./dom.js";
import { navigate } from "./router.js";

const COLUMNS = ["Role", "Description", "Permissions", "Keys"];

function summary(permissions) {
  return permissions
    .map((p) => `${p.resource}: ${p.actions.join("/")}${Object.keys(p.filters || {}).length ? " (filtered)" : ""}`)
    .join("; ");
}

export async function renderRoles(main) {
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "Roles"),
    h("button", { type: "button", class: "black", onclick: () => navigate("#/new-role") }, "+ New role")));
  const roles = await allRoles();
  const rows = roles.map((role) => row({},
    cell("Role", h("button", { type: "button", class: "link", onclick: () => navigate(`#/roles/${encodeURIComponent(role.name)}`) }, role.name)),
    cell("Description", role.description, { class: "wrap" }),
    cell("Permissions", summary(role.permissions), { class: "wrap" }),
    cell("Keys", String(role.key_count))));
  main.append(stackedTable("Roles", COLUMNS, h("tbody", { role: "rowgroup" }, rows.length ? rows : emptyRow(COLUMNS, "No roles yet."))));
}
