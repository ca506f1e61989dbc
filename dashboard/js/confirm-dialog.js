// One confirmation dialog for every destructive or far-reaching action (delete, roll, widen a role).
import { $ } from "./dom.js";
import { handleAuthFailure } from "./signin-view.js";

// onConfirm runs when the person confirms; the dialog closes when it resolves and shows its error if not.
export function confirmDialog({ title, text, action, extra, onConfirm }) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-extra").replaceChildren(...(extra ? [extra] : []));
  $("#confirm-error").textContent = "";
  const ok = $("#confirm-ok");
  ok.textContent = action;
  ok.onclick = async (event) => {
    event.preventDefault();
    ok.disabled = true;
    try {
      await onConfirm();
      dialog.close();
    } catch (error) {
      if (!handleAuthFailure(error)) $("#confirm-error").textContent = error.message;
    } finally {
      ok.disabled = false;
    }
  };
  dialog.showModal();
}
