// A new key's value, shown exactly once. When the dialog closes the value leaves the page for good, so it
// does not close (not by Done, not by Escape) until the key was copied or the person says it is stored.
import { $ } from "./dom.js";

let copied = false;

const mayClose = () => copied || $("#secret-stored").checked;

// What the dialog calls the value: a new API key unless told otherwise (a webhook's signing secret).
const API_KEY_WORDS = {
  title: "Your new API key", label: "New API key", stored: "I have stored this key", thing: "key",
  warning: "Store this key in a secrets manager right away: it is shown only now and can never be shown again.",
};
let words = API_KEY_WORDS;

function nameTheValue(chosen) {
  words = chosen;
  $("#secret-title").textContent = chosen.title;
  $("#secret-warning").textContent = chosen.warning;
  document.querySelector('label[for="secret-value"]').textContent = chosen.label;
  const stored = $("#secret-stored");
  stored.parentElement.replaceChildren(stored, ` ${chosen.stored}`);
}

// deliveredTo: the Secrets Manager secret the API also wrote the key to, if one was asked for. what: the
// dialog's words for another kind of value shown once (title, label, stored, thing, warning).
export function showSecretOnce(value, deliveredTo = "", what = API_KEY_WORDS) {
  nameTheValue({ ...API_KEY_WORDS, ...what });
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
    `This ${words.thing} cannot be shown again. Copy it, or tick “${words.stored}”, before you close this.`;
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
