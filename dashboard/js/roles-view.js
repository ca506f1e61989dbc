// #/roles: the environment's roles, what each grants and how many keys hold it.
import { api, envPath } from "./api.js";
import { h } from "./dom.js";
import { editRole } from "./role-editor-view.js";
import { LIST_LIMIT_MAX } from "./validation.js";

function summary(permissions) {
  return permissions
    .map((p) => `${p.resource}: ${p.actions.join("/")}${Object.keys(p.filters || {}).length ? " (filtered)" : ""}`)
    .join("; ");
}

export async function renderRoles(main) {
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "Roles"),
    h("button", { type: "button", class: "black", onclick: () => editRole(main, null) }, "+ New role")));
  const page = await api("GET", envPath(`/roles?limit=${LIST_LIMIT_MAX}`));
  const rows = page.roles.map((role) => h("tr", {},
    h("td", {}, h("button", { type: "button", class: "link", onclick: () => editRole(main, role) }, role.name)),
    h("td", {}, role.description),
    h("td", {}, summary(role.permissions)),
    h("td", {}, String(role.key_count))));
  main.append(h("table", { "aria-label": "Roles" },
    h("thead", {}, h("tr", {}, ["Role", "Description", "Permissions", "Keys"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)));
}
