// #/audit: the environment's audit trail, filtered by key, actor and time range.
import { $, h } from "./dom.js";
import { pagedAudit } from "./audit-table.js";
import { handleAuthFailure } from "./signin-view.js";

const iso = (value) => (value ? new Date(value).toISOString() : "");

function field(id, label, type = "text") {
  return h("div", {}, h("label", { for: id }, label), h("input", { id, type, spellcheck: "false" }));
}

export async function renderAudit(main) {
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "Audit")));
  const error = h("p", { class: "error", role: "alert", id: "audit-error" });
  const results = h("div");
  const form = h("form", { class: "filters", "aria-label": "Audit filters" },
    field("audit-key", "Key ID"), field("audit-actor", "Actor key ID"),
    field("audit-since", "Since", "datetime-local"), field("audit-until", "Until", "datetime-local"),
    h("button", { type: "submit", class: "primary" }, "Search"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    results.replaceChildren();
    try {
      await pagedAudit(results, {
        key_id: $("#audit-key").value.trim(), actor_key_id: $("#audit-actor").value.trim(),
        since: iso($("#audit-since").value), until: iso($("#audit-until").value),
      }, "Audit records");
    } catch (e) {
      if (!handleAuthFailure(e)) error.textContent = e.message;
    }
  });
  main.append(form, error, results);
  await pagedAudit(results, {}, "Audit records");
}
