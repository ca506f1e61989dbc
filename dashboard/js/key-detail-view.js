// #/keys/<key_id>: everything about one key: a Leaked notice when it leaked, the guided rotation, the
// Enabled switch and the editor of its settings, where it may be used from, its limits and quota, its
// requests per hour and its own audit trail. A revoked key (kept 30 days) says when and why, in its events'
// words; a key that answers 404 (its retention over) shows what its audit trail says (revoked-key-view.js).
import { api, envPath } from "./api.js";
import { pagedAudit } from "./audit-table.js";
import { ago, fmt, h, keyLink } from "./dom.js";
import { confirmDelete } from "./key-actions.js";
import { enabledSwitch, keyEditor } from "./key-edit.js";
import { limitsSection } from "./key-limits-view.js";
import { isExpired, revokedReason, statusView } from "./key-status.js";
import { keyEvents, leakBadge, leakNotice, leakOf } from "./leak-info.js";
import { renderRevokedKey, revokedBecause } from "./revoked-key-view.js";
import { route } from "./router.js";
import { rotationFlow } from "./rotation-flow.js";
import { usageSection } from "./usage-chart.js";

const optionalLink = (keyId) => (keyId ? keyLink(keyId) : "—");

// Why a revoked key was revoked: in the words of its events when they say (a leak, a delete), else the API's.
function revokedNotice(key, events) {
  const leak = events && leakOf(events);
  const deleted = events && events.find((record) => record.event === "key.deleted");
  const told = (leak && leak.details && leak.details.action === "revoke") || deleted;
  const because = told ? revokedBecause(leak, deleted)
    : `It is refused everywhere since ${fmt(key.revoked_at)}${key.revoked_reason ? ` (${revokedReason(key)})` : ""}.`;
  return h("div", { class: "notice revoked", role: "status" }, h("p", {}, h("strong", {}, "This key is revoked. "), because));
}

function facts(key) {
  return [["Key ID", key.key_id], ["Start", key.start + "…"], ["Roles", key.roles.join(", ")],
    ["Context", Object.entries(key.context).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
    ["Created", [ago(key.created_at), " by ", key.created_by]], ["Last used", ago(key.last_used_at, "never")],
    ["Expires", ago(key.expires_at, "never")], ["Status", statusView(key)],
    key.revoked_at ? ["Revoked", [ago(key.revoked_at), key.revoked_by ? [" by ", keyLink(key.revoked_by)] : "",
      key.revoked_reason ? ` (${revokedReason(key)})` : ""]] : null,
    ["Rolled from", optionalLink(key.rolled_from)], ["Rolled to", optionalLink(key.rolled_to)]].filter(Boolean);
}

export async function renderKeyDetail(main, [keyId]) {
  const path = `/keys/${encodeURIComponent(keyId)}`;
  let key;
  try {
    key = await api("GET", envPath(path));
  } catch (error) {
    if (error.status === 404) return renderRevokedKey(main, keyId, error);
    throw error;
  }
  const list = h("dl", { class: "details", id: "key-facts" });
  const showFacts = (record) =>
    list.replaceChildren(...facts(record).flatMap(([term, value]) => [h("dt", {}, term), h("dd", { "data-fact": term }, value)]));
  showFacts(key);

  // Rotate opens the runbook's steps above the facts; on a rolled key it continues at step 3.
  const holder = h("div");
  const rotate = h("button", { type: "button", class: "primary", "aria-controls": "rotation", onclick: openRotation });
  const remove = h("button", { type: "button", class: "danger", onclick: () => confirmDelete(key), hidden: key.status === "revoked" }, "Delete");
  const offerRotation = (record) => {
    rotate.textContent = record.rolled_to ? "Continue rotation" : "Rotate";
    rotate.hidden = isExpired(record) || record.status === "revoked" || holder.childElementCount > 0;
  };
  function openRotation() {
    holder.replaceChildren(rotationFlow(key, {
      onRolled: (old) => { key = old; showFacts(old); },
      onDeleted: () => {
        key = { ...key, status: "revoked" };
        remove.hidden = true;
        showFacts(key);
      },
      onClose: () => {
        offerRotation(key);
        if (!rotate.hidden) rotate.focus();
      },
    }));
    offerRotation(key);
    holder.querySelector("h2").focus();
  }
  offerRotation(key);

  main.append(h("div", { class: "pagehead" }, h("h1", {}, key.name, key.leaked_at ? [" ", leakBadge()] : null),
    h("div", { class: "rowactions" }, rotate, remove)));
  // Its events say where it leaked and how it was revoked (deleted by whom, after how long idle).
  const events = key.leaked_at || key.status === "revoked" ? await keyEvents(keyId).catch(() => null) : null;
  if (key.status === "revoked") main.append(revokedNotice(key, events));
  if (key.leaked_at) main.append(leakNotice(events && leakOf(events), key.leaked_at));
  // A change answers the key as it now is: the page is drawn again from the API.
  main.append(holder, enabledSwitch(key, () => route()), list, keyEditor(key, () => route()),
    await limitsSection(key), await usageSection(keyId));
  const trail = h("section", { class: "section", "aria-labelledby": "trail-title" }, h("h2", { id: "trail-title" }, "Audit trail"));
  main.append(trail);
  await pagedAudit(trail, { key_id: keyId }, "Audit trail of this key");
}
