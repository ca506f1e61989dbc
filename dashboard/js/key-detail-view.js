// #/keys/<key_id>: everything about one key, its requests per hour (24 hours or 7 days) and its own audit
// trail.
import { api, envPath } from "./api.js";
import { pagedAudit } from "./audit-table.js";
import { fmt, h } from "./dom.js";
import { confirmDelete, openRoll } from "./key-actions.js";
import { usageSection } from "./usage-chart.js";

// The other key of a rotation, as a link to its page.
const keyLink = (keyId) => (keyId ? h("a", { href: `#/keys/${encodeURIComponent(keyId)}` }, keyId) : "—");

export async function renderKeyDetail(main, [keyId]) {
  const path = `/keys/${encodeURIComponent(keyId)}`;
  const key = await api("GET", envPath(path));
  main.append(h("div", { class: "pagehead" }, h("h1", {}, key.name),
    h("div", { class: "rowactions" },
      h("button", { type: "button", onclick: () => openRoll(key) }, "Roll"),
      h("button", { type: "button", class: "danger", onclick: () => confirmDelete(key) }, "Delete"))));
  const facts = [["Key ID", key.key_id], ["Start", key.start + "…"], ["Roles", key.roles.join(", ")],
    ["Context", Object.entries(key.context).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
    ["Created", `${fmt(key.created_at)} by ${key.created_by}`], ["Last used", fmt(key.last_used_at)],
    ["Expires", fmt(key.expires_at)], ["Status", key.status],
    ["Rolled from", keyLink(key.rolled_from)], ["Rolled to", keyLink(key.rolled_to)]];
  main.append(h("dl", { class: "details" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])));
  main.append(await usageSection(keyId));
  const trail = h("section", { class: "section", "aria-labelledby": "trail-title" }, h("h2", { id: "trail-title" }, "Audit trail"));
  main.append(trail);
  await pagedAudit(trail, { key_id: keyId }, "Audit trail of this key");
}
