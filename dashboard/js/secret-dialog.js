// A new key's value, shown exactly once. When the dialog closes the value leaves the page for good, so it
// does not close (not by Done, not by Escape) until the key was copied or the person says it is stored.
import { $ } from "./dom.js";

let copied = false;

const mayClose = () => copied || $("#secret-stored").checked;

// deliveredTo: the Secrets Manager secret the API also wrote the key to, if one was asked for.
export function showSecretOnce(value, deliveredTo = "") {
  copied = false;
  $("#secret-stored").checked = false;
  $("#secret-error").textContent = "";
  $("#secret-copied").textContent = "";
  $("#secret-delivered").textContent = deliveredTo ? `Also stored in the Secrets Manager secret ${deliveredTo}.` : "";
  const field = $("#secret-value");
  field.value = value;
  $("#secret-dialog").showModal();
  fitToValue(field);
  $("#secret-copy").focus();
}

// Browsers without CSS field-sizing: grow the box to the whole value.
function fitToValue(field) {
  if (CSS.supports("field-sizing", "content")) return;
  field.style.height = "auto";
  field.style.height = `${field.scrollHeight + 2}px`;
}

function requestClose() {
  if (mayClose()) {
    $("#secret-dialog").close();
    return;
  }
  $("#secret-error").textContent =
    "This key cannot be shown again. Copy it, or tick “I have stored this key”, before you close this.";
  $("#secret-stored").focus();
}

function forgetSecret() {
  $("#secret-value").value = "";
  $("#secret-copied").textContent = "";
  $("#secret-delivered").textContent = "";
}

async function copySecret() {
  try {
    await navigator.clipboard.writeText($("#secret-value").value);
    copied = true;
    $("#secret-error").textContent = "";
    $("#secret-copied").textContent = "Copied to the clipboard.";
  } catch {
    $("#secret-value").select();
    $("#secret-copied").textContent = "Select the key and copy it (Ctrl+C).";
  }
}

export function initSecretDialog() {
  const dialog = $("#secret-dialog");
  const field = $("#secret-value");
  $("#secret-copy").addEventListener("click", copySecret);
  $("#secret-done").addEventListener("click", requestClose);
  $("#secret-stored").addEventListener("change", () => { if (mayClose()) $("#secret-error").textContent = ""; });
  // Focusing the key selects all of it, ready for Ctrl+C; copying all of it by hand counts as copied.
  field.addEventListener("focus", () => field.select());
  field.addEventListener("copy", () => {
    if (field.selectionStart === 0 && field.selectionEnd === field.value.length) copied = true;
  });
  // Escape would close the dialog: stopping the key press stops the close request (browsers stop honouring
  // a cancelled "cancel" event after a few presses, but not a cancelled key press).
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.preventDefault();
    requestClose();
  });
  dialog.addEventListener("cancel", (event) => {
    if (mayClose()) return;
    event.preventDefault();
    requestClose();
  });
  // Last line: if a close got through anyway (a close request the page could not refuse), open it again.
  dialog.addEventListener("close", () => {
    if (!mayClose() && field.value) {
      dialog.showModal();
      requestClose();
      return;
    }
    forgetSecret();
  });
}
