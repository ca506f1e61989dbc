// A new key's value, shown exactly once. When the dialog closes the value leaves the page for good.
import { $ } from "./dom.js";

export function showSecretOnce(value) {
  $("#secret-value").value = value;
  $("#secret-copied").textContent = "";
  $("#secret-dialog").showModal();
  $("#secret-copy").focus();
}

function forgetSecret() {
  $("#secret-value").value = "";
  $("#secret-copied").textContent = "";
}

async function copySecret() {
  try {
    await navigator.clipboard.writeText($("#secret-value").value);
    $("#secret-copied").textContent = "Copied to the clipboard.";
  } catch {
    $("#secret-value").select();
    $("#secret-copied").textContent = "Select the key and copy it (Ctrl+C).";
  }
}

export function initSecretDialog() {
  $("#secret-copy").addEventListener("click", copySecret);
  $("#secret-done").addEventListener("click", () => $("#secret-dialog").close());
  $("#secret-dialog").addEventListener("close", forgetSecret);
}
