// The role editor (#/roles/<name>, #/new-role): a Read/Write/Update/Delete grid per resource, each resource with its filters (a literal,
// or a value taken from the key's context).
import { api, envPath } from "./api.js";
import { confirmDialog } from "./confirm-dialog.js";
import { h } from "./dom.js";
import { widenings } from "./permissions.js";
import { navigate } from "./router.js";
import { handleAuthFailure } from "./signin-view.js";

const ACTIONS = ["read", "write", "update", "delete"];
const capitalized = (word) => word[0].toUpperCase() + word.slice(1);
const keysText = (count) => `${count} ${count === 1 ? "key" : "keys"}`;
// key_count is null for a key that may not read every key (it would count other tenants' keys).
const heldBy = (count) => count == null ? "How many keys hold it is shown only to a key that may read every key"
  : count ? `Held by ${keysText(count)}` : "Held by no key";

let permissionCounter = 0;

function filterRow(permIndex, field = "", value = "") {
  const n = `${permIndex}-${Math.random().toString(36).slice(2, 7)}`;
  const fromContext = Boolean(value) && typeof value === "object";
  const valueLabel = h("label", { for: `f-value-${n}` }, fromContext ? "Context name" : "Value");
  const row = h("div", { class: "filterrow" },
    h("div", {}, h("label", { for: `f-field-${n}` }, "Filter field"), h("input", { id: `f-field-${n}`, class: "f-field", value: field })),
    h("div", {}, valueLabel,
      h("input", { id: `f-value-${n}`, class: "f-value", value: fromContext ? value.from_context : String(value) })),
    h("label", {}, h("input", { type: "checkbox", class: "f-ctx", checked: fromContext,
      onchange: (event) => { valueLabel.textContent = event.target.checked ? "Context name" : "Value"; } }),
      "From context"),
    h("button", { type: "button", onclick: () => row.remove(), "aria-label": "Remove filter" }, "Remove"));
  return row;
}

function permissionRow(permission = { resource: "", actions: [], filters: {} }) {
  const i = permissionCounter++;
  const filters = h("div", { class: "filters-list" },
    Object.entries(permission.filters || {}).map(([field, value]) => filterRow(i, field, value)));
  const cells = ACTIONS.map((action) => h("td", {},
    h("input", { type: "checkbox", class: `act-${action}`, checked: permission.actions.includes(action),
      "aria-label": `${capitalized(action)} on resource ${i + 1}` })));
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

// The permissions as the grid shows them now, in the API's shape.
function readPermissions(grid) {
  return [...grid.querySelectorAll("tbody.permission")].map((tbody) => {
    const filters = {};
    tbody.querySelectorAll(".filterrow").forEach((row) => {
      const field = row.querySelector(".f-field").value.trim();
      const value = row.querySelector(".f-value").value;
      if (field) filters[field] = row.querySelector(".f-ctx").checked ? { from_context: value } : value;
    });
    return { resource: tbody.querySelector(".res").value.trim(),
      actions: ACTIONS.filter((action) => tbody.querySelector(`.act-${action}`).checked), filters };
  });
}

function deleteRole(role) {
  confirmDialog({
    title: "Delete role?",
    text: `Role “${role.name}” will be deleted. Keys that still hold it prevent this.`,
    action: "Delete role",
    onConfirm: async () => {
      await api("DELETE", envPath(`/roles/${encodeURIComponent(role.name)}`));
      navigate("#/roles");
    },
  });
}

// #/roles/<name>: edit a role. An unknown name shows the API's "does not exist" in place of the editor.
export async function renderRoleEditor(main, [name]) {
  editRole(main, await api("GET", envPath(`/roles/${encodeURIComponent(name)}`)));
}

// #/new-role
export function renderNewRole(main) {
  editRole(main, null);
}

// role: the role as the API returned it, or null for a new one.
function editRole(main, role) {
  permissionCounter = 0;
  const isNew = !role;
  main.append(h("div", { class: "pagehead" }, h("h1", {}, isNew ? "New role" : `Role ${role.name}`),
    isNew ? "" : h("p", { class: "hint" }, heldBy(role.key_count))));
  const error = h("p", { class: "error", role: "alert", id: "role-error" });
  const nameInput = isNew ? h("input", { id: "role-name", spellcheck: "false" }) : null;
  const description = h("input", { id: "role-description", value: role ? role.description : "" });
  const grid = h("table", { class: "grid", "aria-label": "Permissions" },
    h("thead", {}, h("tr", {}, ["Resource", "Read", "Write", "Update", "Delete", ""].map((t) => h("th", { scope: "col" }, t)))),
    (role ? role.permissions : [{ resource: "", actions: ["read"], filters: {} }]).map(permissionRow));
  const form = h("form", { "aria-label": "Role" },
    isNew ? h("div", { class: "field" }, h("label", { for: "role-name" }, "Role name"), nameInput) : "",
    h("div", { class: "field" }, h("label", { for: "role-description" }, "Description"), description),
    h("fieldset", { class: "field" }, h("legend", {}, "Permissions"), h("div", { class: "scroll-x" }, grid),
      h("button", { type: "button", onclick: () => grid.append(permissionRow()) }, "Add resource")),
    error,
    h("div", { class: "actions" },
      role ? h("button", { type: "button", class: "danger", onclick: () => deleteRole(role) }, "Delete role") : "",
      h("button", { type: "button", onclick: () => navigate("#/roles") }, "Cancel"),
      h("button", { type: "submit", class: "primary" }, "Save role")));
  async function save(name, permissions) {
    try {
      await api("PUT", envPath(`/roles/${encodeURIComponent(name)}`), { description: description.value, permissions });
      navigate("#/roles");
    } catch (e) {
      if (handleAuthFailure(e)) return;
      // An error about one permission is shown in that permission's row; anything else under the form.
      const match = /^permissions\.(\d+)/.exec(e.field || "");
      const rowError = match && grid.querySelectorAll("tbody.permission")[Number(match[1])]?.querySelector(".perm-error");
      (rowError || error).textContent = (e.field ? `${e.field}: ` : "") + e.message;
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    grid.querySelectorAll(".perm-error").forEach((el) => (el.textContent = ""));
    const name = isNew ? nameInput.value.trim() : role.name;
    const permissions = readPermissions(grid);
    // Keys holding the role gain whatever the edit adds the moment it is saved: say so, and how many (an
    // unknown count may be any number: ask all the same).
    const counted = role && role.key_count != null;
    const added = role && (!counted || role.key_count > 0) ? widenings(role.permissions, permissions) : [];
    if (!added.length) return save(name, permissions);
    confirmDialog({
      title: `Widen role “${name}”?`,
      text: `${counted ? keysText(role.key_count) : "Any keys that"} hold this role and will be allowed, as soon as you save: ${added.join("; ")}.`,
      action: counted ? `Save and widen ${keysText(role.key_count)}` : "Save and widen",
      onConfirm: () => { save(name, permissions); },
    });
  });
  main.append(form);
  (isNew ? nameInput : description).focus();
}
