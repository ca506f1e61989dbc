// The "Create API Key" dialog: name, prefix, roles (with what each needs), context, expiry and an optional
// Secrets Manager secret (one holding another live key is replaced only when confirmed). The new key is then
// shown once.
import { allRoles, api, envPath } from "./api.js";
import { $, clearErrors, h } from "./dom.js";
import { contextNamesRead } from "./permissions.js";
import { route } from "./router.js";
import { showSecretOnce } from "./secret-dialog.js";
import { secretInUse } from "./secret-in-use.js";
import { session } from "./session.js";
import { handleAuthFailure } from "./signin-view.js";
import {
  checkContext, checkExpiresAt, checkKeyName, checkNeededContext, checkPrefix, checkRoleCount, checkSecretName,
  DEFAULT_PREFIX, KEY_NAME_MAX_LENGTH, secretNameRoot,
} from "./validation.js";

// The input each API error field points at (marked aria-invalid); the message goes to #error-<field>.
const FIELD_INPUTS = {
  name: "#create-name", prefix: "#create-prefix", expires_at: "#create-expires", secret_name: "#create-secret",
};

let contextCounter = 0;
let rolesByName = new Map();

function contextRow(name = "", neededBy = "") {
  if (!$("#create-context").children.length) contextCounter = 0;  // numbered from 1 again once all are gone
  const index = contextCounter++;
  const keyId = `ctx-key-${index}`, valueId = `ctx-value-${index}`;
  const row = h("div", { class: "ctxrow" },
    h("div", {}, h("label", { for: keyId }, `Context key ${index + 1}`),
      h("input", { id: keyId, class: "ctx-key", spellcheck: "false", value: name })),
    h("div", {}, h("label", { for: valueId }, `Context value ${index + 1}`),
      h("input", { id: valueId, class: "ctx-value", placeholder: neededBy ? `read by ${neededBy}` : null })),
    h("button", { type: "button", onclick: () => row.remove(), "aria-label": `Remove context ${index + 1}` }, "Remove"));
  if (neededBy) row.dataset.added = name;
  $("#create-context").append(row);
  return row;
}

const tickedRoles = () => [...$("#create-form").querySelectorAll('input[name="roles"]:checked')].map((box) => box.value);

// {contextName: [ticked roles that read it]}
function neededContext() {
  const needed = {};
  for (const name of tickedRoles()) {
    for (const context of contextNamesRead(rolesByName.get(name)?.permissions || [])) {
      (needed[context] ||= []).push(name);
    }
  }
  return needed;
}

// After a role is ticked or unticked: a row (name filled, value empty) for each context name the ticked
// roles read and no row names yet; rows added that way and still untouched go when no ticked role reads them.
function syncContextRows() {
  const needed = neededContext();
  const rows = [...$("#create-context").querySelectorAll(".ctxrow")];
  for (const row of rows) {
    const name = row.querySelector(".ctx-key").value.trim();
    const untouched = row.dataset.added === name && !row.querySelector(".ctx-value").value;
    if (untouched && !needed[name]) row.remove();
  }
  const present = new Set(rows.filter((row) => row.isConnected).map((row) => row.querySelector(".ctx-key").value.trim()));
  const added = Object.keys(needed).filter((name) => !present.has(name));
  for (const name of added) contextRow(name, needed[name].join(", "));
  $("#context-added").textContent = added.length ? `Added context ${added.join(", ")}: fill in the value.` : "";
}

function roleChoice(role, index) {
  const reads = contextNamesRead(role.permissions);
  const about = [role.description, reads.length ? `Needs context: ${reads.join(", ")}` : ""].filter(Boolean).join(" · ");
  const descriptionId = `role-about-${index}`;
  return h("div", { class: "rolechoice" },
    h("label", {}, h("input", { type: "checkbox", name: "roles", value: role.name, "aria-describedby": about ? descriptionId : null,
      onchange: syncContextRows }), role.name),
    about ? h("p", { class: "hint", id: descriptionId }, about) : "");
}

// "context.tenant" is shown at the context fieldset, "prefix" next to the prefix, unknown fields under the form.
function showError(field, message) {
  const top = String(field || "form").split(".")[0];
  const target = document.getElementById(`error-${top}`) || document.getElementById("error-form");
  target.textContent = message;
  if (FIELD_INPUTS[top]) $(FIELD_INPUTS[top]).setAttribute("aria-invalid", "true");
}

function validatePrefix() {
  const input = $("#create-prefix");
  const problem = checkPrefix(input.value);
  $("#error-prefix").textContent = problem;
  if (problem) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return !problem;
}

export async function openCreateDialog() {
  const dialog = $("#create-dialog");
  const form = $("#create-form");
  form.reset();
  clearErrors(form);
  $("#create-prefix").value = DEFAULT_PREFIX;
  $("#create-context").replaceChildren();
  $("#context-added").textContent = "";
  $("#create-secret-root").textContent = secretNameRoot(session.project, session.environment);
  $("#create-secret").placeholder = `${secretNameRoot(session.project, session.environment)}billing-ci`;
  $("#create-timezone").textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "this computer's time zone";
  contextCounter = 0;
  rolesByName = new Map();
  const roles = $("#create-roles");
  roles.replaceChildren(h("p", { class: "hint" }, "Loading roles…"));
  dialog.showModal();
  $("#create-name").focus();
  try {
    const all = await allRoles();
    rolesByName = new Map(all.map((role) => [role.name, role]));
    roles.replaceChildren(...all.map(roleChoice));
    if (!all.length) roles.replaceChildren(h("p", { class: "hint" }, "No roles yet: define one on the Roles page."));
  } catch (error) {
    if (!handleAuthFailure(error)) showError("roles", error.message);
  }
}

// The form as the API's body, and the problems the page can see without asking the server.
function readForm() {
  const form = $("#create-form");
  const name = $("#create-name").value.trim();
  const roles = tickedRoles();
  const pairs = [...form.querySelectorAll(".ctxrow")]
    .map((row) => [row.querySelector(".ctx-key").value.trim(), row.querySelector(".ctx-value").value])
    .filter(([key, value]) => key || value);
  const expiresText = $("#create-expires").value;
  // datetime-local is local time with no zone; the API wants ISO 8601 with one (toISOString: UTC, "Z").
  const expires = expiresText ? new Date(expiresText) : null;
  const secretName = $("#create-secret").value.trim();
  const problems = [
    ["name", checkKeyName(name)],
    ["roles", checkRoleCount(roles.length)],
    ["context", checkContext(pairs) || checkNeededContext(pairs, neededContext())],
    ["expires_at", checkExpiresAt(expires)],
    ["secret_name", checkSecretName(secretName, session.project, session.environment)],
  ].filter(([, problem]) => problem);
  const body = { name, prefix: $("#create-prefix").value, roles, context: Object.fromEntries(pairs) };
  if (expires) body.expires_at = expires.toISOString();
  if (secretName) body.secret_name = secretName;
  return { body, problems };
}

async function create(body) {
  const created = await api("POST", envPath("/keys"), body);
  $("#create-dialog").close();
  showSecretOnce(created.key, created.secret_name);
  if ((location.hash || "#/keys").startsWith("#/keys")) route();
}

async function submitCreate(event) {
  event.preventDefault();
  clearErrors($("#create-form"));
  const prefixValid = validatePrefix();
  const { body, problems } = readForm();
  problems.forEach(([field, problem]) => showError(field, problem));
  if (!prefixValid || problems.length) return;
  const submit = $("#create-submit");
  submit.disabled = true;
  try {
    await create(body);
  } catch (error) {
    if (handleAuthFailure(error)) return;
    if (error.code === "secret_in_use") {
      $("#error-secret_name").replaceChildren(...secretInUse(error, body.secret_name,
        () => create({ ...body, replace_secret: true })));
      $("#create-secret").setAttribute("aria-invalid", "true");
      return;
    }
    // A validation error may name several fields: each gets its first message, next to it.
    const shown = new Set();
    for (const { field, message } of [{ field: error.field, message: error.message }, ...error.errors]) {
      const top = String(field || "form").split(".")[0];
      if (!shown.has(top)) showError(field, message);
      shown.add(top);
    }
  } finally {
    submit.disabled = false;
  }
}

export function initCreateDialog() {
  $("#create-name").maxLength = KEY_NAME_MAX_LENGTH;
  $("#create-form").addEventListener("submit", submitCreate);
  $("#create-prefix").addEventListener("input", validatePrefix);
  $("#add-context").addEventListener("click", () => contextRow().querySelector("input").focus());
}
