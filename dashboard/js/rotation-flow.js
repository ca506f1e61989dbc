// The rotation runbook (README, "Rotation runbook") as four visible steps on a key's page: 1 roll the key
// with a grace period (the successor's value shown once), 2 move the consumers, 3 watch the old key's
// traffic until it has been idle for a chosen window, 4 delete it. The delete is guarded by the server
// (?if_unused_for=): a request the page has not seen yet still stops it, and the page says so.
import { api, envPath } from "./api.js";
import { duration, fmt, fmtAgo, h, keyLink } from "./dom.js";
import { GRACE_PERIODS } from "./key-actions.js";
import { isExpired } from "./key-status.js";
import { watchTraffic } from "./live-traffic.js";
import { showSecretOnce } from "./secret-dialog.js";
import { secretInUse } from "./secret-in-use.js";
import { session } from "./session.js";
import { handleAuthFailure } from "./signin-view.js";
import { checkSecretName, secretNameRoot } from "./validation.js";

// How long the old key must have had no accepted request before it may be deleted. An hour by default,
// the runbook's example: a consumer that calls once an hour still shows up.
export const IDLE_WINDOWS = [["300", "5 minutes"], ["900", "15 minutes"], ["3600", "1 hour"], ["86400", "24 hours"]];
const DEFAULT_IDLE = "3600";

// A retried roll (a lost answer, a second click) must return the same successor, not make a second one;
// a changed request gets a new key, since the server refuses a reused key with another body.
function randomId() {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function step(number, title) {
  const state = h("span", { class: "stepstate" });
  const body = h("div", { class: "stepbody" });
  const heading = h("h3", { tabindex: "-1" }, h("span", { class: "stepnumber" }, `${number}.`), ` ${title} `, state);
  const item = h("li", { class: "step", "data-step": number }, heading, body);
  return { item, body, heading, set(value, current = false) {
    item.dataset.state = value;
    state.textContent = { done: "Done", now: "Now", next: "Next", skipped: "Not needed" }[value];
    if (current) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
  } };
}

// key: the key's record. onRolled(old): the old key's record after the roll; onDeleted(); onClose().
export function rotationFlow(key, { onRolled, onDeleted, onClose }) {
  let old = key, successorId = key.rolled_to, deliveredTo = null;
  let watcher = null, lastState = null, deleting = false, deleted = false;
  let idempotencyKey = null, lastBody = null;
  const steps = [step(1, "Create the successor"), step(2, "Move the consumers"),
    step(3, "Check that the old key is idle"), step(4, "Delete the old key")];

  // ---- step 1: roll ----
  const grace = h("select", { id: "rotate-grace" },
    GRACE_PERIODS.map(([value, text]) => h("option", { value, selected: value === "86400" }, text)));
  const secret = h("input", { id: "rotate-secret", spellcheck: "false", autocomplete: "off",
    placeholder: `${secretNameRoot(session.project, session.environment)}billing-ci`, "aria-describedby": "rotate-secret-error" });
  const secretError = h("p", { class: "error", id: "rotate-secret-error", role: "alert" });
  const rollError = h("p", { class: "error", role: "alert" });
  const rollButton = h("button", { type: "submit", class: "primary" }, "Roll key");
  const rollForm = h("form", { class: "rollform", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "rotate-grace" }, "Grace period for the old key"), grace,
      h("p", { class: "hint" }, "The old key keeps working this long, then expires on its own.")),
    h("div", { class: "field" }, h("label", { for: "rotate-secret" }, "Secret name (optional)"), secret,
      h("p", { class: "hint" }, "Also write the new key to this Secrets Manager secret, for consumers that read it from there."),
      secretError),
    rollError, rollButton);
  rollForm.addEventListener("submit", roll);

  async function roll(event) {
    event.preventDefault();
    rollError.textContent = "";
    const secretName = secret.value.trim();
    secretError.textContent = checkSecretName(secretName, session.project, session.environment);
    if (secretError.textContent) return secret.setAttribute("aria-invalid", "true");
    secret.removeAttribute("aria-invalid");
    const body = { grace_seconds: Number(grace.value), ...(secretName ? { secret_name: secretName } : {}) };
    rollButton.disabled = true;
    try {
      await send(body);
    } catch (error) {
      if (handleAuthFailure(error)) return;
      if (error.code === "secret_in_use") {
        secretError.replaceChildren(...secretInUse(error, secretName, () => send({ ...body, replace_secret: true })));
        secret.setAttribute("aria-invalid", "true");
        return;
      }
      (error.field === "secret_name" ? secretError : rollError).textContent = error.message;
    } finally {
      rollButton.disabled = false;
    }
  }

  async function send(body) {
    if (JSON.stringify(body) !== lastBody) [idempotencyKey, lastBody] = [`rotate-${key.key_id}-${randomId()}`, JSON.stringify(body)];
    const rolled = await api("POST", envPath(`/keys/${encodeURIComponent(key.key_id)}/roll`), body,
      { "Idempotency-Key": idempotencyKey });
    showSecretOnce(rolled.key, rolled.secret_name);
    [old, successorId, deliveredTo] = [rolled.old_key, rolled.key_id, rolled.secret_name];
    onRolled(old);
    render();
    // The Roll key button is gone: once the key was stored, the person goes on at the next step.
    const shown = document.getElementById("secret-dialog");
    shown.addEventListener("close", () => { if (!shown.open) steps[1].heading.focus(); }, { once: true });
  }

  // ---- step 3: the idle window and the live traffic; step 4: the guarded delete ----
  const idle = h("select", { id: "rotate-idle", onchange: () => update(lastState) },
    IDLE_WINDOWS.map(([value, text]) => h("option", { value, selected: value === DEFAULT_IDLE }, text)));
  const reason = h("p", { class: "hint", id: "delete-old-reason", "aria-live": "polite" });
  const refusal = h("div", { class: "error", role: "alert", id: "delete-old-refusal" });
  const deleteButton = h("button", { type: "button", class: "danger", disabled: true, "aria-describedby": "delete-old-reason",
    onclick: deleteOld }, "Delete old key");
  const done = h("p", { role: "status", id: "delete-old-done" });

  const windowText = () => IDLE_WINDOWS.find(([value]) => value === idle.value)[1];

  // The button follows the same rule as the server's guard: no accepted request within the window.
  function update(state) {
    if (!state || deleted) return;
    lastState = state;
    if (!state.key) {
      deleteButton.disabled = true;
      reason.textContent = "The old key is gone: deleted, or revoked elsewhere. Nothing left to delete.";
      return;
    }
    old = state.key;
    if (isExpired(old, state.checkedAt)) {  // the grace period ended while it was watched
      watcher.stop();
      render();
      return;
    }
    const seconds = Number(idle.value);
    const idleFor = old.last_used_at ? (Date.now() - Date.parse(old.last_used_at)) / 1000 : Infinity;
    const used = old.last_used_at ? `last used ${fmtAgo(old.last_used_at)}` : "never used";
    deleteButton.disabled = deleting || deleted || idleFor < seconds;
    steps[3].set(idleFor < seconds ? "next" : "now");
    const toGo = seconds - Math.min(idleFor, seconds);
    const expiresFirst = old.expires_at && Date.parse(old.expires_at) - Date.now() < toGo * 1000;
    reason.textContent = idleFor >= seconds
      ? `The old key has had no accepted request for ${windowText()} (${used}): it can be deleted.`
      : `Enabled once the old key has had no accepted request for ${windowText()}: ${used}, about ${duration(toGo)} to go.` +
        (expiresFirst ? ` Its grace period ends first, at ${fmt(old.expires_at)}: it will expire on its own.` : "");
  }

  async function deleteOld() {
    deleting = true;
    deleteButton.disabled = true;
    refusal.replaceChildren();
    try {
      const answer = await api("DELETE", envPath(`/keys/${encodeURIComponent(old.key_id)}?if_unused_for=${idle.value}`));
      deleted = true;
      watcher.stop();
      deleteButton.hidden = true;
      const unflushed = (answer && answer.unflushed_stages) || [];
      idle.disabled = true;
      const cached = unflushed.length
        ? ` The caches of ${unflushed.join(", ")} could not be flushed: they may accept it until their cached answer expires.`
        : "";
      done.replaceChildren(`Deleted: the old key is refused from now on.${cached} Its successor: `, keyLink(successorId), ".");
      reason.textContent = "";
      onDeleted();
      render();
    } catch (error) {
      if (handleAuthFailure(error)) return;
      if (error.code === "key_in_use") {
        const { last_used_at: lastUsedAt, recent_requests: recent } = error.body;
        refusal.append(h("p", {}, "Not deleted: the server saw the old key in use."),
          h("p", {}, `Last accepted request: ${fmtAgo(lastUsedAt)}. Accepted requests in the hours of the window: ${recent ?? "—"}.`),
          h("p", {}, "Move its remaining consumers, then try again."));
        watcher.refresh();
      } else {
        refusal.textContent = error.message;
      }
    } finally {
      deleting = false;
      update(lastState);
    }
  }

  // ---- the steps, as far as the rotation has come ----
  function render() {
    const rolled = Boolean(successorId);
    const expired = rolled && isExpired(old);
    const [one, two, three, four] = steps;
    one.set(rolled ? "done" : "now", !rolled);
    one.body.replaceChildren(rolled
      ? h("p", {}, "Successor ", keyLink(successorId), " created. The old key is accepted until ", fmt(old.expires_at), ".")
      : rollForm);
    two.set(rolled ? (deleted ? "done" : "now") : "next", rolled && !deleted && !expired);
    two.body.replaceChildren(h("p", {}, "Give the new key to every consumer of the old one.",
      deliveredTo ? ` Consumers that read the Secrets Manager secret ${deliveredTo} pick it up on their next read.` : "",
      rolled && !expired && !deleted ? ` The old key keeps working until ${fmt(old.expires_at)}.` : ""));
    if (expired) {
      three.set("skipped");
      four.set("skipped");
      three.body.replaceChildren(h("p", {}, `The old key expired at ${fmt(old.expires_at)}, at the end of its grace period: `,
        "it is refused everywhere, so there is nothing to watch or delete."));
      four.body.replaceChildren();
      return;
    }
    three.set(deleted ? "done" : rolled ? "now" : "next");
    four.set(deleted ? "done" : "next");  // "now" once the old key is idle (update)
    if (!rolled) {
      three.body.replaceChildren(h("p", {}, "After the roll: the old key's last use and requests per minute, live."));
      four.body.replaceChildren(h("p", {}, "After the roll: deleted once it has been idle long enough."));
      return;
    }
    if (!watcher && !deleted) {
      watcher = watchTraffic(old.key_id, { onChange: update });
      three.body.replaceChildren(h("div", { class: "field" }, h("label", { for: "rotate-idle" }, "The old key must be idle for"), idle),
        watcher.element);
      four.body.replaceChildren(h("div", { class: "actions start" }, deleteButton), reason, refusal, done);
      watcher.start();
    }
  }

  const close = h("button", { type: "button", onclick: () => {
    if (watcher) watcher.stop();
    section.remove();
    onClose();
  } }, "Close rotation");
  const section = h("section", { class: "rotation", id: "rotation", "aria-labelledby": "rotation-title" },
    h("div", { class: "sectionhead" }, h("h2", { id: "rotation-title", tabindex: "-1" }, `Rotate “${key.name}”`), close),
    h("ol", { class: "steps" }, steps.map((s) => s.item)));
  render();
  return section;
}
