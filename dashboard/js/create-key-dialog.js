// The "Create API Key" dialog: name, prefix, roles, context. The new key is then shown once.
import { api, envPath } from "./api.js";
import { $, clearErrors, h } from "./dom.js";
import { route } from "./router.js";
import { showSecretOnce } from "./secret-dialog.js";
import { handleAuthFailure } from "./signin-view.js";
import {
  checkContext, checkKeyName, checkPrefix, checkRoleCount, DEFAULT_PREFIX, KEY_NAME_MAX_LENGTH, LIST_LIMIT_MAX,
} from "./validation.js";

// The inputs an API error's field can point at; anything else is shown under its fieldset or the form.
const FIELD_INPUTS = { name: "#create-name", prefix: "#create-prefix" };

let contextCounter = 0;

function contextRow(index) {
  const keyId = `ctx-key-${index}`, valueId = `ctx-value-${index}`;
  const row = h("div", { class: "ctxrow" },
    h("div", {}, h("label", { for: keyId }, `Context key ${index + 1}`), h("input", { id: keyId, class: "ctx-key", spellcheck: "false" })),
    h("div", {}, h("label", { for: valueId }, `Context value ${index + 1}`), h("input", { id: valueId, class: "ctx-value" })),
    h("button", { type: "button", onclick: () => row.remove(), "aria-label": `Remove context ${index + 1}` }, "Remove"));
  return row;
}

function addContextRow() {
  const row = contextRow(contextCounter++);
  $("#create-context").append(row);
  return row;
}

// "context.tenant" is shown at the context fieldset, "prefix" next to the prefix, unknown fields under the form.
function showError(field, message) {
  const top = String(field || "form").split(".")[0];
  const target = document.getElementById(`error-${top}`) || document.getElementById("error-form");
  target.textContent = message;
  const input = FIELD_INPUTS[top];
  if (input) $(input).setAttribute("aria-invalid", "true");
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
  contextCounter = 0;
  const roles = $("#create-roles");
  roles.replaceChildren(h("p", { class: "hint" }, "Loading roles…"));
  dialog.showModal();
  $("#create-name").focus();
  try {
    const page = await api("GET", envPath(`/roles?limit=${LIST_LIMIT_MAX}`));
    roles.replaceChildren(...page.roles.map((role) => h("label", {},
      h("input", { type: "checkbox", name: "roles", value: role.name }), role.name)));
    if (!page.roles.length) roles.replaceChildren(h("p", { class: "hint" }, "No roles yet: define one on the Roles page."));
  } catch (error) {
    if (!handleAuthFailure(error)) showError("roles", error.message);
  }
}

async function submitCreate(event) {
  event.preventDefault();
  const form = $("#create-form");
  clearErrors(form);
  const name = $("#create-name").value.trim();
  const roles = [...form.querySelectorAll('input[name="roles"]:checked')].map((box) => box.value);
  const pairs = [...form.querySelectorAll(".ctxrow")]
    .map((row) => [row.querySelector(".ctx-key").value.trim(), row.querySelector(".ctx-value").value])
    .filter(([key, value]) => key || value);
  let valid = validatePrefix();
  for (const [field, problem] of [["name", checkKeyName(name)], ["roles", checkRoleCount(roles.length)], ["context", checkContext(pairs)]]) {
    if (problem) { showError(field, problem); valid = false; }
  }
  if (!valid) return;
  const submit = $("#create-submit");
  submit.disabled = true;
  try {
    const body = { name, prefix: $("#create-prefix").value, roles, context: Object.fromEntries(pairs) };
    const created = await api("POST", envPath("/keys"), body);
    $("#create-dialog").close();
    showSecretOnce(created.key);
    if ((location.hash || "#/keys").startsWith("#/keys")) route();
  } catch (error) {
    if (!handleAuthFailure(error)) showError(error.field, error.message);
  } finally {
    submit.disabled = false;
  }
}

export function initCreateDialog() {
  $("#create-name").maxLength = KEY_NAME_MAX_LENGTH;
  $("#create-form").addEventListener("submit", submitCreate);
  $("#create-prefix").addEventListener("input", validatePrefix);
  $("#add-context").addEventListener("click", () => addContextRow().querySelector("input").focus());
}
