// Leaks reported by GitHub's secret scanning. A key's record says when (`leaked_at`); the `key.leaked`
// event in its audit trail says where it was found (`details.url`, `details.source`) and what was done
// (`details.action`: revoke, report or already_inactive).
import { api, listPath } from "./api.js";
import { fmt, h, outsideLink } from "./dom.js";

const DONE = {
  revoke: ["revoked", "Revoked at once: the key is refused everywhere."],
  report: ["reported only: still works",
    "Reported only (this environment keeps leaked keys): the key still works. Rotate it or delete it now."],
  already_inactive: ["was already inactive", "Nothing more to do: the key was already revoked or expired."],
};

// The events about one key, newest first: created, rolled, leaked, deleted. They are few, so one page of
// events holds them all (requests, possibly many, are left out by kind=event).
export async function keyEvents(keyId) {
  const page = await api("GET", listPath("/audit", { key_id: keyId, kind: "event", limit: 100 }));
  return page.records;
}

export const leakOf = (events) => events.find((record) => record.event === "key.leaked") || null;

export const leakBadge = () => h("span", { class: "badge leaked" }, "Leaked");

// One line for the keys list: where, and what was done.
export function leakSummary(event) {
  const details = (event && event.details) || {};
  return h("span", { class: "leakline" }, "in ", details.source || "a public file", " at ", outsideLink(details.url),
    ": ", (DONE[details.action] || [details.action || "see its page"])[0]);
}

// The notice on a key's page. event: its key.leaked event (null when it could not be read).
export function leakNotice(event, leakedAt) {
  const details = (event && event.details) || {};
  const when = fmt(leakedAt || (event && event.time));
  const facts = event
    ? h("dl", { class: "details leakfacts" },
      h("dt", {}, "Found at"), h("dd", {}, outsideLink(details.url)),
      h("dt", {}, "In"), h("dd", {}, details.source || "—"),
      h("dt", {}, "What was done"), h("dd", {}, (DONE[details.action] || [null, details.action || "—"])[1]))
    : h("p", {}, "Where it was found is in its key.leaked audit event, which could not be read.");
  return h("section", { class: "notice leak", "aria-labelledby": "leak-title" },
    h("h2", { id: "leak-title" }, leakBadge(), " This key was found in public"),
    h("p", {}, `GitHub secret scanning reported it on ${when}.`), facts);
}
