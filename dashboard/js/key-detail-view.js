// #/keys/<key_id>: everything about one key: a Leaked notice when it leaked, the guided rotation, its
// requests per hour and its own audit trail. A revoked key (deleted, or revoked because it leaked), or one
// that answers 404 (its retention over), shows what its audit trail says instead (revoked-key-view.js).
import { api, envPath } from "./api.js";
import { pagedAudit } from "./audit-table.js";
import { fmt, h, keyLink } from "./dom.js";
import { confirmDelete } from "./key-actions.js";
import { isExpired, statusView } from "./key-status.js";
import { keyEvents, leakBadge, leakNotice, leakOf } from "./leak-info.js";
import { renderRevokedKey } from "./revoked-key-view.js";
import { rotationFlow } from "./rotation-flow.js";
import { usageSection } from "./usage-chart.js";

const optionalLink = (keyId) => (keyId ? keyLink(keyId) : "—");

function facts(key) {
  return [["Key ID", key.key_id], ["Start", key.start + "…"], ["Roles", key.roles.join(", ")],
    ["Context", Object.entries(key.context).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
    ["Created", `${fmt(key.created_at)} by ${key.created_by}`], ["Last used", fmt(key.last_used_at)],
    ["Expires", fmt(key.expires_at)], ["Status", statusView(key)],
    ["Rolled from", optionalLink(key.rolled_from)], ["Rolled to", optionalLink(key.rolled_to)]];
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
  // Revoked for good (deleted, leaked, a mass revocation): its page says why, from its audit trail, as it did
  // when GET answered 404 for it. A rolled-away key keeps this page, with its successor linked.
  if (key.status === "revoked" && key.revoked_reason !== "rolled_away") {
    const noTrail = new Error(`key ${keyId} is revoked and its audit trail is gone`);
    return renderRevokedKey(main, keyId, noTrail);
  }
  const list = h("dl", { class: "details", id: "key-facts" });
  const showFacts = (record) =>
    list.replaceChildren(...facts(record).flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
  showFacts(key);

  // Rotate opens the runbook's steps above the facts; on a rolled key it continues at step 3.
  const holder = h("div");
  const rotate = h("button", { type: "button", class: "primary", "aria-controls": "rotation", onclick: openRotation });
  const remove = h("button", { type: "button", class: "danger", onclick: () => confirmDelete(key) }, "Delete");
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
  if (key.leaked_at) {
    const events = await keyEvents(keyId).catch(() => null);
    main.append(leakNotice(events && leakOf(events), key.leaked_at));
  }
  main.append(holder, list, await usageSection(keyId));
  const trail = h("section", { class: "section", "aria-labelledby": "trail-title" }, h("h2", { id: "trail-title" }, "Audit trail"));
  main.append(trail);
  await pagedAudit(trail, { key_id: keyId }, "Audit trail of this key");
}
