// #/webhooks and #/webhooks/<name>: the environment's webhooks (signed key events, docs/webhooks.md). Adding
// one shows its signing secret once (`whsec_...`, as the API answers only the first PUT); a webhook's page
// sends a test event, lists its recent deliveries with their result and HTTP status, sends its dead letters
// again (redrive) and deletes it.
import { api, envPath } from "./api.js";
import { confirmDialog } from "./confirm-dialog.js";
import { ago, cell, clearErrors, emptyRow, h, outsideLink, row, stackedTable } from "./dom.js";
import { apiErrorText } from "./key-edit.js";
import { navigate } from "./router.js";
import { showSecretOnce } from "./secret-dialog.js";
import { handleAuthFailure } from "./signin-view.js";
import { WEBHOOK_NAME_PATTERN, WEBHOOK_URL_MAX_LENGTH } from "./validation.js";

// The event types a webhook may take (the API's list, docs/webhooks.md#events).
export const EVENT_TYPES = [
  ["key.created", "a key is created"], ["key.updated", "a key is changed"], ["key.rolled", "a key is rolled"],
  ["key.revoked", "a key is revoked"], ["key.leaked", "a key was found in public"],
  ["key.expiring", "7 days and 1 day before a key expires"], ["key.expired", "a key expired"],
  ["key.quota_exhausted", "a key used up its quota"],
];
const DEFAULT_EVENTS = ["key.created", "key.revoked", "key.leaked"];
const DELIVERIES_SHOWN = 20;

const webhookPath = (name, suffix = "") => envPath(`/webhooks/${encodeURIComponent(name)}${suffix}`);

const SECRET_WORDS = {
  title: "Your webhook's signing secret", label: "Signing secret", stored: "I have stored this secret", thing: "secret",
  warning: "Store this secret where your receiver reads it: it verifies each delivery's signature, and it is shown only now.",
};

// ---- the list, with the form that adds one ----

const LIST_COLUMNS = ["Name", "URL", "Events", "Created", "State"];

function webhookRow(hook) {
  return row({ "data-webhook": hook.name },
    cell("Name", h("a", { href: `#/webhooks/${encodeURIComponent(hook.name)}` }, hook.name), { class: "wrap" }),
    cell("URL", h("code", { class: "wrap" }, hook.url)),
    cell("Events", hook.events.join(", "), { class: "wrap" }),
    cell("Created", ago(hook.created_at)),
    cell("State", hook.disabled_at
      ? h("span", { class: "status-expired" }, ["disabled by its receiver (410) ", ago(hook.disabled_at)])
      : h("span", { class: "status-active" }, "active")));
}

function addForm(onAdded) {
  const fieldError = (field) => h("p", { class: "error", id: `webhook-error-${field}`, role: "alert" });
  const formError = h("p", { class: "error", id: "webhook-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Add webhook");
  const form = h("form", { id: "webhook-form", class: "editform", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "webhook-name" }, "Webhook name"),
      h("input", { id: "webhook-name", spellcheck: "false", autocomplete: "off", "aria-describedby": "webhook-hint-name webhook-error-name" }),
      h("p", { class: "hint", id: "webhook-hint-name" }, "Lowercase letters, digits, . _ or -, such as billing-alerts."),
      fieldError("name")),
    h("div", { class: "field" }, h("label", { for: "webhook-url" }, "Receiver URL"),
      h("input", { id: "webhook-url", type: "url", maxlength: WEBHOOK_URL_MAX_LENGTH, spellcheck: "false", autocomplete: "off", placeholder: "https://hooks.example.com/archie",
        "aria-describedby": "webhook-hint-url webhook-error-url" }),
      h("p", { class: "hint", id: "webhook-hint-url" }, "https, to a public address (locally, http://127.0.0.1 too)."),
      fieldError("url")),
    h("fieldset", { class: "field", "aria-describedby": "webhook-error-events" }, h("legend", {}, "Events"),
      h("div", { class: "eventchoices" }, EVENT_TYPES.map(([type, about]) => h("label", { class: "check inline" },
        h("input", { type: "checkbox", name: "webhook-events", value: type, checked: DEFAULT_EVENTS.includes(type) }),
        h("code", {}, type), h("span", { class: "hint" }, ` ${about}`)))),
      fieldError("events")),
    formError, h("div", { class: "actions start" }, submit));
  const showAt = (field, message) => {
    const target = form.querySelector(`#webhook-error-${String(field || "").split(".")[0]}`);
    if (target) target.textContent = message;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const name = form.querySelector("#webhook-name").value.trim();
    const url = form.querySelector("#webhook-url").value.trim();
    const events = [...form.querySelectorAll('input[name="webhook-events"]:checked')].map((box) => box.value);
    const problems = [
      ["name", WEBHOOK_NAME_PATTERN.test(name) ? "" : "Give it a name: lowercase letters, digits, . _ or -, up to 64."],
      ["url", url ? "" : "Give the address deliveries go to."],
      ["events", events.length ? "" : "Choose at least one event."],
    ].filter(([, problem]) => problem);
    problems.forEach(([field, problem]) => showAt(field, problem));
    if (problems.length) return;
    submit.disabled = true;
    try {
      // PUT of a name that exists changes that webhook (200, its secret kept and not shown again).
      const answer = await api("PUT", webhookPath(name), { url, events });
      if (answer.secret) showSecretOnce(answer.secret, "", SECRET_WORDS);
      else formError.textContent = `Webhook ${name} existed: its URL and events were changed, its secret kept.`;
      form.reset();
      onAdded();
    } catch (e) {
      if (handleAuthFailure(e)) return;
      formError.textContent = apiErrorText(e);
      for (const { field, message } of [{ field: e.field, message: e.message }, ...e.errors]) if (field) showAt(field, message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function renderWebhooks(main) {
  main.append(h("div", { class: "pagehead" }, h("h1", {}, "Webhooks")),
    h("p", { class: "hint" }, "Signed key events, sent to your receivers as the Standard Webhooks specification says."));
  const body = h("tbody", { role: "rowgroup" });
  const status = h("p", { class: "hint", role: "status", id: "webhooks-shown" });
  const load = async () => {
    const { webhooks } = await api("GET", envPath("/webhooks"));
    body.replaceChildren(...(webhooks.length ? webhooks.map(webhookRow) : [emptyRow(LIST_COLUMNS, "No webhooks yet.")]));
    status.textContent = `${webhooks.length} ${webhooks.length === 1 ? "webhook" : "webhooks"}.`;
  };
  main.append(stackedTable("Webhooks", LIST_COLUMNS, body), status,
    h("section", { class: "section", "aria-labelledby": "add-webhook-title" }, h("h2", { id: "add-webhook-title" }, "Add a webhook"),
      addForm(() => load().catch((e) => { if (!handleAuthFailure(e)) status.textContent = e.message; }))));
  await load();
}

// ---- one webhook: test-send, recent deliveries, delete ----

const DELIVERY_COLUMNS = ["When", "Event id", "Attempt", "Result", "HTTP status", "Next attempt", "Detail"];

function deliveryRow(delivery) {
  const result = delivery.result || "queued";
  return row({ "data-delivery": delivery.delivery_id },
    cell("When", ago(delivery.at)),
    cell("Event id", h("code", { class: "wrap" }, delivery.message_id)),
    cell("Attempt", delivery.attempt ?? "—"),
    cell("Result", h("span", { class: `result-${result}` }, delivery.dead_letter ? `${result} (dead letter)` : result)),
    cell("HTTP status", delivery.status ?? "—"),
    cell("Next attempt", ago(delivery.next_attempt_at)),
    cell("Detail", delivery.error || delivery.response || "—", { class: "wrap" }));
}

export async function renderWebhook(main, [name]) {
  const hook = await api("GET", webhookPath(name));
  const message = h("p", { class: "hint", id: "webhook-message", role: "status" });
  const error = h("p", { class: "error", id: "webhook-action-error", role: "alert" });
  const body = h("tbody", { role: "rowgroup" });
  // Offered only while a dead letter is shown: the deliveries that gave up, sent again on a fresh schedule.
  const redrive = h("button", { type: "button", id: "redrive", hidden: true });
  const loadDeliveries = async () => {
    const { deliveries } = await api("GET", webhookPath(name, `/deliveries?limit=${DELIVERIES_SHOWN}`));
    body.replaceChildren(...(deliveries.length ? deliveries.map(deliveryRow) : [emptyRow(DELIVERY_COLUMNS, "No deliveries yet.")]));
    const dead = deliveries.filter((delivery) => delivery.dead_letter).length;
    redrive.hidden = !dead;
    redrive.textContent = `Send ${dead === 1 ? "the dead letter" : `the ${dead} dead letters`} again`;
  };
  const act = (work) => async () => {
    error.textContent = "";
    try {
      await work();
    } catch (e) {
      if (!handleAuthFailure(e)) error.textContent = apiErrorText(e);
    }
  };
  const sendTest = act(async () => {
    const sent = await api("POST", webhookPath(name, "/test"));
    message.textContent = `Test event queued (event id ${sent.message_id}). Refresh to see its delivery.`;
    await loadDeliveries();
  });
  redrive.addEventListener("click", act(async () => {
    const { redriven } = await api("POST", webhookPath(name, "/redrive"), {});
    message.textContent = `${redriven} dead ${redriven === 1 ? "letter" : "letters"} sent again, on a fresh retry schedule.`;
    await loadDeliveries();
  }));
  const remove = () => confirmDialog({
    title: "Delete webhook?",
    text: `“${hook.name}” will receive no more events; deliveries still queued for it are dropped.`,
    action: "Delete webhook",
    onConfirm: async () => {
      await api("DELETE", webhookPath(name));
      navigate("#/webhooks");
    },
  });
  main.append(
    h("div", { class: "pagehead" }, h("h1", {}, `Webhook ${hook.name}`), h("div", { class: "rowactions" },
      h("button", { type: "button", class: "primary", onclick: sendTest }, "Send test event"),
      h("button", { type: "button", class: "danger", onclick: remove }, "Delete"))),
    message, error,
    h("dl", { class: "details", id: "webhook-facts" }, [
      ["URL", outsideLink(hook.url)], ["Events", hook.events.join(", ")],
      ["Created", [ago(hook.created_at), " by ", hook.created_by]], ["Changed", [ago(hook.updated_at), " by ", hook.updated_by]],
      ["State", hook.disabled_at ? ["disabled by its receiver (410 Gone) ", ago(hook.disabled_at)] : "active"],
    ].flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    h("section", { class: "section", "aria-labelledby": "deliveries-title" },
      h("div", { class: "sectionhead" }, h("h2", { id: "deliveries-title" }, "Recent deliveries"),
        h("div", { class: "rowactions" }, redrive, h("button", { type: "button", onclick: act(loadDeliveries) }, "Refresh"))),
      stackedTable("Recent deliveries", DELIVERY_COLUMNS, body),
      h("p", { class: "hint" }, "Newest first. A failed delivery is retried for about 42 hours, then kept as a dead letter.")));
  await loadDeliveries();
}
