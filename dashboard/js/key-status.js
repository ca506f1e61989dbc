// A key's status as the API says it (`active`, `rolled`: a successor exists and this key is accepted until
// `expires_at`, `expired`), with a Leaked badge when GitHub's secret scanning reported it.
import { fmt, h } from "./dom.js";
import { leakBadge } from "./leak-info.js";

export const statusText = (key) => (key.status === "rolled" ? `rolled, accepted until ${fmt(key.expires_at)}` : key.status);

// Expired by the clock even before the API says so (a rolled key whose grace just ended).
export const isExpired = (key, now = Date.now()) =>
  key.status === "expired" || Boolean(key.expires_at && Date.parse(key.expires_at) <= now);

export function statusView(key) {
  return h("span", { class: "status" },
    h("span", { class: `status-${key.status}` }, statusText(key)),
    key.leaked_at ? [" ", leakBadge()] : null);
}
