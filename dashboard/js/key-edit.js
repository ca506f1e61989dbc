// A key's settings on its page: the Enabled switch, and an editor for its name, roles, context and expiry.
// Both send PATCH .../keys/{key_id} with only what changed; the server checks a change as it checks a create
// (roles that exist, the context they read, no privilege escalation), so its refusals are shown as it words
// them: code, message and the field it names.
import { allRoles, api, envPath } from "./api.js";
import { clearErrors, h } from "./dom.js";
import { isChangeable } from "./key-status.js";
import { handleAuthFailure } from "./signin-view.js";
import { checkContext, checkExpiresAt, checkKeyName, checkRoleCount, KEY_NAME_MAX_LENGTH } from "./validation.js";

const keyPath = (key) => envPath(`/keys/${encodeURIComponent(key.key_id)}`);

// Why the switch and the editor are off for a key the API will not change (it would answer key_not_active).
function notChangeableBecause(key) {
  if (key.status === "revoked") return "A revoked key cannot be changed.";
  if (key.status === "rolled") return "A rolled key cannot be changed: change its successor.";
  return "An expired key cannot be changed.";
}

// The API's error as it says it: "code: message (field: x)". Shown whole, so nothing is lost in wording.
export function apiErrorText(error) {
  if (!error.code) return error.message;
  return `${error.code}: ${error.message}${error.field ? ` (field: ${error.field})` : ""}`;
}

// datetime-local wants local time with no zone: "2026-12-24T09:30".
function localInputValue(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

const sameList = (a, b) => a.length === b.length && a.every((value, i) => value === b[i]);
const sameContext = (a, b) => sameList(Object.keys(a).sort(), Object.keys(b).sort()) && Object.keys(a).every((k) => a[k] === b[k]);

// ---- the Enabled switch ----

// onChanged(record): the key as the API answered it after the change.
export function enabledSwitch(key, onChanged) {
  const enabled = key.status !== "disabled";
  const changeable = isChangeable(key);
  const error = h("p", { class: "error", id: "enabled-error", role: "alert" });
  const button = h("button", {
    type: "button", role: "switch", class: "switch", id: "enabled-switch", "aria-checked": String(enabled),
    "aria-describedby": "enabled-hint enabled-error", disabled: !changeable,
  }, h("span", { class: "knob", "aria-hidden": "true" }), "Enabled");
  const hint = h("p", { class: "hint", id: "enabled-hint" }, !changeable
    ? notChangeableBecause(key)
    : enabled
      ? "Turn it off to refuse this key everywhere (reason “disabled”) without revoking it; its value stays the same."
      : "Disabled: every request with this key is refused with the reason “disabled” until it is enabled again.");
  button.addEventListener("click", async () => {
    error.textContent = "";
    button.disabled = true;
    try {
      onChanged(await api("PATCH", keyPath(key), { enabled: !enabled }));
    } catch (e) {
      if (!handleAuthFailure(e)) error.textContent = apiErrorText(e);
      button.disabled = false;
    }
  });
  return h("div", { class: "switchrow" }, button, hint, error);
}

// ---- the editor ----

function contextRows(list, context) {
  let counter = 0;
  const add = (name = "", value = "") => {
    const index = counter++;
    const row = h("div", { class: "ctxrow" },
      h("div", {}, h("label", { for: `edit-ctx-key-${index}` }, `Context key ${index + 1}`),
        h("input", { id: `edit-ctx-key-${index}`, class: "ctx-key", spellcheck: "false", value: name })),
      h("div", {}, h("label", { for: `edit-ctx-value-${index}` }, `Context value ${index + 1}`),
        h("input", { id: `edit-ctx-value-${index}`, class: "ctx-value", value })),
      h("button", { type: "button", onclick: () => row.remove(), "aria-label": `Remove context ${index + 1}` }, "Remove"));
    list.append(row);
    return row;
  };
  Object.entries(context).forEach(([name, value]) => add(name, value));
  return add;
}

// The form as PATCH's body: only the fields that differ from the key, and what the page itself can refuse.
function changesOf(form, key) {
  const name = form.querySelector("#edit-name").value.trim();
  const roles = [...form.querySelectorAll('input[name="edit-roles"]:checked')].map((box) => box.value);
  const pairs = [...form.querySelectorAll(".ctxrow")]
    .map((row) => [row.querySelector(".ctx-key").value.trim(), row.querySelector(".ctx-value").value])
    .filter(([k, v]) => k || v);
  const never = form.querySelector("#edit-never").checked;
  const text = form.querySelector("#edit-expires").value;
  const expires = never || !text ? null : new Date(text);
  const problems = [
    ["name", checkKeyName(name)],
    ["roles", checkRoleCount(roles.length)],
    ["context", checkContext(pairs)],
    ["expires_at", !never && !text ? "Choose when it expires, or tick “Never expires”." : expires ? checkExpiresAt(expires) : ""],
  ].filter(([, problem]) => problem);
  const body = {};
  if (name !== key.name) body.name = name;
  if (!sameList([...roles].sort(), [...key.roles].sort())) body.roles = roles;
  const context = Object.fromEntries(pairs);
  if (!sameContext(context, key.context)) body.context = context;
  // The input has minutes only: an unchanged expiry is left out rather than sent rounded.
  if (never ? key.expires_at : localInputValue(key.expires_at) !== text) body.expires_at = expires ? expires.toISOString() : null;
  return { body, problems };
}

// The editor, closed behind its Edit button. onSaved(record): the key as the API answered it.
export function keyEditor(key, onSaved) {
  const section = h("section", { class: "section", "aria-labelledby": "edit-title" });
  const open = h("button", { type: "button", id: "edit-key", "aria-expanded": "false", "aria-controls": "edit-form",
    disabled: !isChangeable(key), onclick: () => show() }, "Edit");
  const why = isChangeable(key) ? null : h("p", { class: "hint" }, notChangeableBecause(key));
  const holder = h("div");
  section.append(h("div", { class: "sectionhead" }, h("h2", { id: "edit-title" }, "Settings"), open), ...(why ? [why] : []), holder);

  async function show() {
    open.setAttribute("aria-expanded", "true");
    open.hidden = true;
    const form = buildForm();
    holder.replaceChildren(form);
    form.querySelector("#edit-name").focus();
    const box = form.querySelector("#edit-roles");
    try {
      const roles = await allRoles();
      const names = new Set([...roles.map((role) => role.name), ...key.roles]);
      box.replaceChildren(...[...names].sort().map((name) => h("label", { class: "check inline" },
        h("input", { type: "checkbox", name: "edit-roles", value: name, checked: key.roles.includes(name) }), name)));
    } catch (e) {
      if (!handleAuthFailure(e)) form.querySelector("#edit-error-roles").textContent = apiErrorText(e);
    }
  }

  function close() {
    holder.replaceChildren();
    open.hidden = false;
    open.setAttribute("aria-expanded", "false");
    open.focus();
  }

  function buildForm() {
    const contextList = h("div", { id: "edit-context" });
    const fieldError = (field) => h("p", { class: "error", id: `edit-error-${field}`, role: "alert" });
    const never = h("input", { type: "checkbox", id: "edit-never", checked: !key.expires_at });
    const expires = h("input", { id: "edit-expires", type: "datetime-local", value: localInputValue(key.expires_at),
      disabled: !key.expires_at, "aria-describedby": "edit-error-expires_at" });
    never.addEventListener("change", () => { expires.disabled = never.checked; });
    const formError = h("p", { class: "error", id: "edit-error", role: "alert" });
    const save = h("button", { type: "submit", class: "primary", id: "edit-save" }, "Save changes");
    const form = h("form", { id: "edit-form", class: "editform", novalidate: true },
      h("div", { class: "field" }, h("label", { for: "edit-name" }, "Name"),
        h("input", { id: "edit-name", maxlength: KEY_NAME_MAX_LENGTH, value: key.name, "aria-describedby": "edit-error-name" }),
        fieldError("name")),
      h("fieldset", { class: "field", "aria-describedby": "edit-error-roles" }, h("legend", {}, "Roles"),
        h("div", { id: "edit-roles", class: "rolechoices" }, h("p", { class: "hint" }, "Loading roles…")), fieldError("roles")),
      h("fieldset", { class: "field", "aria-describedby": "edit-error-context" }, h("legend", {}, "Context"), contextList,
        h("button", { type: "button", onclick: () => addContext().querySelector("input").focus() }, "Add context"),
        fieldError("context")),
      h("div", { class: "field" }, h("label", { for: "edit-expires" }, "Expires at"), expires,
        h("label", { class: "check", for: "edit-never" }, never, "Never expires"),
        h("p", { class: "hint" }, `In your local time (${Intl.DateTimeFormat().resolvedOptions().timeZone || "this computer's time zone"}).`),
        fieldError("expires_at")),
      formError,
      h("div", { class: "actions start" }, h("button", { type: "button", onclick: close }, "Cancel"), save));
    const addContext = contextRows(contextList, key.context);

    // Each error next to the field it names ("context.tenant" at the context), and the API's words whole
    // under the form.
    const showAt = (field, message) => {
      const target = form.querySelector(`#edit-error-${String(field || "").split(".")[0]}`);
      if (target) target.textContent = message;
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const { body, problems } = changesOf(form, key);
      problems.forEach(([field, problem]) => showAt(field, problem));
      if (problems.length) return;
      if (!Object.keys(body).length) {
        formError.textContent = "Nothing changed.";
        return;
      }
      save.disabled = true;
      try {
        const record = await api("PATCH", keyPath(key), body);
        onSaved(record);
      } catch (e) {
        if (handleAuthFailure(e)) return;
        formError.textContent = apiErrorText(e);
        for (const { field, message } of [{ field: e.field, message: e.message }, ...e.errors]) if (field) showAt(field, message);
      } finally {
        save.disabled = false;
      }
    });
    return form;
  }
  return section;
}
