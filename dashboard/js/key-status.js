// A key's status as the API says it: `active`; `disabled` (refused with the reason `disabled` until enabled
// again); `rolled` (a successor exists and this key is accepted until `expires_at`); `expired`; `revoked`
// (with `revoked_at`, `revoked_by`, `revoked_reason`, kept 30 days). A Leaked badge when GitHub's secret
// scanning reported it.
import { ago, fmt, h } from "./dom.js";
import { leakBadge } from "./leak-info.js";

// The keys list's status filter: the API's ?status= values; "" is the API's default (every status but revoked).
export const STATUS_CHOICES = [["", "All but revoked"], ["active", "Active"], ["disabled", "Disabled"],
  ["rolled", "Rolled"], ["expired", "Expired"], ["revoked", "Revoked"]];

// Why a key was revoked, in words (the API's `revoked_reason`).
const REVOKED_BECAUSE = {
  deleted: "deleted", leaked: "leaked", mass_revocation: "mass revocation", rolled_away: "rolled away",
};

export const revokedReason = (key) => REVOKED_BECAUSE[key.revoked_reason] || key.revoked_reason || "";

export function statusText(key) {
  if (key.status === "rolled") return `rolled, accepted until ${fmt(key.expires_at)}`;
  if (key.status === "revoked" && key.revoked_reason) return `revoked (${revokedReason(key)})`;
  return key.status;
}

// Expired by the clock even before the API says so (a rolled key whose grace just ended).
export const isExpired = (key, now = Date.now()) =>
  key.status === "expired" || Boolean(key.expires_at && Date.parse(key.expires_at) <= now);

// A key that can still change (PATCH answers 409 key_not_active for the others): active or disabled.
export const isChangeable = (key) => (key.status === "active" || key.status === "disabled") && !isExpired(key);

export function statusView(key) {
  return h("span", { class: "status" },
    h("span", { class: `status-${key.status}` }, statusText(key)),
    key.status === "revoked" && key.revoked_at ? [" ", ago(key.revoked_at)] : null,
    key.leaked_at ? [" ", leakBadge()] : null);
}
