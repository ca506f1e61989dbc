// Where a key may be used from (`allowed_cidrs`: [] is anywhere) and how much it may do (`limits`: a rate, a
// burst, a quota per day, week or month), with this period's quota used and left from its usage answer
// (GET .../keys/{key_id}/usage: `quota`). Enforced by the authorizer and API Gateway (docs/limits.md).
import { api, envPath } from "./api.js";
import { ago, h } from "./dom.js";
import { handleAuthFailure } from "./signin-view.js";

const PER = { day: "a day", week: "a week", month: "a month" };
const count = (n) => Number(n).toLocaleString();

function allowList(cidrs) {
  if (!cidrs || !cidrs.length) return "Anywhere (no allow-list)";
  return h("ul", { class: "plain", id: "allowed-cidrs" }, cidrs.map((cidr) => h("li", {}, h("code", {}, cidr))));
}

function rate(limits) {
  if (!limits || !limits.rate_per_second) return "No rate limit";
  return `${count(limits.rate_per_second)} requests a second${limits.burst ? `, bursts of ${count(limits.burst)}` : ""}`;
}

// The quota's use: a meter and the numbers (used may pass the limit: API Gateway's quotas are best effort).
function quotaView(quota) {
  const shown = Math.min(quota.used, quota.limit);
  return h("div", { class: "quota", id: "quota" },
    h("meter", { min: "0", max: String(quota.limit), value: String(shown), "aria-label": "Quota used",
      high: String(Math.floor(quota.limit * 0.9)) }),
    h("p", { class: "quotatext" }, `${count(quota.used)} used, ${count(quota.left)} left of ${count(quota.limit)} ${PER[quota.period] || quota.period}; resets `,
      ago(quota.resets_at)));
}

export async function limitsSection(key) {
  const limits = key.limits || null;
  const facts = [
    ["Allowed from", allowList(key.allowed_cidrs)],
    ["Rate", rate(limits)],
    ["Quota", limits && limits.quota ? `${count(limits.quota.limit)} requests ${PER[limits.quota.period] || limits.quota.period}` : "No quota"],
  ];
  const list = h("dl", { class: "facts", id: "key-limits" }, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
  const section = h("section", { class: "section", "aria-labelledby": "limits-title" },
    h("h2", { id: "limits-title" }, "Network and limits"), list);
  if (limits && limits.quota && key.status !== "revoked") {
    const used = h("dd", {}, "Loading…");
    list.append(h("dt", {}, "This period"), used);
    try {
      const usage = await api("GET", envPath(`/keys/${encodeURIComponent(key.key_id)}/usage`));
      used.replaceChildren(usage.quota ? quotaView(usage.quota) : "Not counted yet");
    } catch (error) {
      if (!handleAuthFailure(error)) used.replaceChildren(h("span", { class: "error" }, error.message));
    }
  }
  return section;
}
