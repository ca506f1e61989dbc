// Roll and Delete, offered on the keys list and on a key's own page.
import { api, envPath } from "./api.js";
import { confirmDialog } from "./confirm-dialog.js";
import { h } from "./dom.js";
import { navigate, route } from "./router.js";
import { showSecretOnce } from "./secret-dialog.js";

// How long the old key of a roll keeps working (the API allows 0 to 7 days).
export const GRACE_PERIODS = [["0", "Immediately"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"]];

export function confirmDelete(key) {
  confirmDialog({
    title: "Delete API key?",
    text: `“${key.name}” (${key.start}…) will stop working immediately. This cannot be undone.`,
    action: "Delete key",
    onConfirm: async () => {
      await api("DELETE", envPath(`/keys/${encodeURIComponent(key.key_id)}`));
      navigate("#/keys");
    },
  });
}

export function openRoll(key) {
  const select = h("select", { id: "roll-grace" },
    GRACE_PERIODS.map(([value, text]) => h("option", { value, selected: value === "86400" }, text)));
  confirmDialog({
    title: "Roll API key",
    text: `A new key with the same name, roles and context replaces “${key.name}”. The old key keeps working for the grace period, then expires.`,
    action: "Roll key",
    extra: h("div", { class: "field" }, h("label", { for: "roll-grace" }, "Grace period for the old key"), select),
    onConfirm: async () => {
      const rolled = await api("POST", envPath(`/keys/${encodeURIComponent(key.key_id)}/roll`),
        { grace_seconds: Number(select.value) });
      showSecretOnce(rolled.key, rolled.secret_name);
      route();
    },
  });
}
