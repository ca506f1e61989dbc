// A 409 secret_in_use: the secret holds another key that still works. Say which, and offer to give the secret
// to the new key instead, only after a confirmation (the API's "replace_secret": true).
import { confirmDialog } from "./confirm-dialog.js";
import { h } from "./dom.js";

// The error's content, for the field's error element: what holds the secret, and a Replace… button.
// replace(): sends the request again with replace_secret; its failure shows in the confirmation.
export function secretInUse(error, secretName, replace) {
  const holder = error.body.key_id;
  const offer = () => confirmDialog({
    title: "Replace the key in this secret?",
    text: `Consumers reading ${secretName} will get the new key instead of key ${holder}. ` +
      `Key ${holder} keeps working until you roll or delete it.`,
    action: "Replace",
    onConfirm: replace,
  });
  return [`${secretName} holds key ${holder}, which still works. `,
    h("button", { type: "button", class: "link replace-secret", onclick: offer }, "Replace it with the new key…")];
}
