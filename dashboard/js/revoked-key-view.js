// #/keys/<key_id> for a key the API answers 404 for. A revoked key (deleted, or revoked because it leaked)
// is no longer served by GET, but its audit trail by key id still is: the page says it is revoked, why and
// when, with the whole trail. Only an id with no trail at all is "not found".
import { pagedAudit } from "./audit-table.js";
import { fmt, h, keyLink } from "./dom.js";
import { keyEvents, leakBadge, leakNotice, leakOf } from "./leak-info.js";

const byEvent = (events, name) => events.find((record) => record.event === name) || null;

// In words, from the key's events: revoked by its leak report, or deleted (by whom, guarded or not).
export function revokedBecause(leak, deleted) {
  if (leak && leak.details && leak.details.action === "revoke") {
    return `Revoked automatically on ${fmt(leak.time)}, because GitHub secret scanning found it in public.`;
  }
  if (deleted) {
    const guarded = deleted.details && deleted.details.if_unused_for;
    return [`Deleted on ${fmt(deleted.time)} by `, keyLink(deleted.actor_key_id),
      guarded ? ` (after ${guarded} s without an accepted request).` : "."];
  }
  return "It is no longer served: revoked, or past its records' retention.";
}

// notFound: the API's 404, shown as it is when the key has no trail either.
export async function renderRevokedKey(main, keyId, notFound) {
  let events;
  try {
    events = await keyEvents(keyId);
  } catch (error) {
    // A key outside the caller's rows answers 404 here too: say no more than GET did.
    throw error.status === 404 ? notFound : error;
  }
  if (!events.length) throw notFound;
  const created = byEvent(events, "key.created");
  const leak = leakOf(events);
  const deleted = byEvent(events, "key.deleted");
  const details = (created && created.details) || {};
  main.append(
    h("div", { class: "pagehead" }, h("h1", {}, details.name || `Key ${keyId}`, leak ? [" ", leakBadge()] : null)),
    h("div", { class: "notice revoked", role: "status" }, h("p", {}, h("strong", {}, "This key is revoked. "), revokedBecause(leak, deleted))));
  if (leak) main.append(leakNotice(leak, leak.time));
  main.append(h("dl", { class: "details", id: "key-facts" },
    [["Key ID", keyId], ["Roles", (details.roles || []).join(", ") || "—"],
      ["Created", created ? `${fmt(created.time)} by ${created.actor_key_id}` : "—"],
      ["Rolled from", details.rolled_from ? keyLink(details.rolled_from) : "—"],
      ["Status", h("span", { class: "status-revoked" }, "revoked")]]
      .flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])));
  const trail = h("section", { class: "section", "aria-labelledby": "trail-title" }, h("h2", { id: "trail-title" }, "Audit trail"));
  main.append(trail);
  await pagedAudit(trail, { key_id: keyId }, "Audit trail of this key");
}
