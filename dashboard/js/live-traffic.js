// The old key of a rotation, watched: its last accepted request, and its requests per minute over the last
// 10 minutes, refreshed every 10 seconds while it is watched.
//
// Sources: "last used" is the key's own `last_used_at` (GET .../keys/{id}), the very time the server's
// guarded delete checks. Per-minute counts come from the key's audit records (GET .../audit?key_id=&
// kind=request&since=), each counted in the minute of its `time`: the usage endpoint only counts per hour.
// Refused means 401 or 403, as the usage counters count it.
//
// Bounded: a refresh reads at most MAX_PAGES pages (a busier key is shown as "at least"), never overlaps
// the previous one, and the timer stops for good when the flow closes, the page is left (hashchange, or its
// element gone) or the key is gone; it does not run while the tab is hidden, and refreshes on return.
import { api, envPath, listPath } from "./api.js";
import { barChart, totals } from "./bar-chart.js";
import { fmtAgo, h } from "./dom.js";
import { handleAuthFailure } from "./signin-view.js";

export const REFRESH_SECONDS = 10;
export const MINUTES = 10;
const MAX_PAGES = 3;
const MINUTE = 60e3;
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const clockSeconds = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

const refused = (record) => record.status === 401 || record.status === 403;

// MINUTES buckets ending with the current minute, oldest first; a record newer than this browser's clock
// (the clocks differ a little) counts in the current minute.
export function minuteBuckets(records, now) {
  const first = Math.floor(now / MINUTE) * MINUTE - (MINUTES - 1) * MINUTE;
  const buckets = Array.from({ length: MINUTES }, (_, i) => ({ start: new Date(first + i * MINUTE), allowed: 0, refused: 0 }));
  for (const record of records) {
    const index = Math.min(MINUTES - 1, Math.floor((Date.parse(record.time) - first) / MINUTE));
    if (index >= 0) buckets[index][refused(record) ? "refused" : "allowed"] += 1;
  }
  return buckets;
}

async function readRecords(keyId, since) {
  const records = [];
  let token = null;
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    const page = await api("GET", listPath("/audit", { key_id: keyId, kind: "request", since, limit: 100, next_token: token }));
    records.push(...page.records);
    token = page.next_token;
    if (!token) return { records, complete: true };
  }
  return { records, complete: false };
}

async function readKey(keyId) {
  try {
    return await api("GET", envPath(`/keys/${encodeURIComponent(keyId)}`));
  } catch (error) {
    if (error.status === 404) return null;  // deleted, or revoked elsewhere
    throw error;
  }
}

// onChange({key, buckets, complete, checkedAt}) after each refresh; key is null once the key is gone.
export function watchTraffic(keyId, { onChange }) {
  const lastUsed = h("span", { id: "traffic-last-used" }, "…");
  const total = h("p", { id: "traffic-total" }, "Reading the audit…");
  const chart = h("div", { class: "chart" });
  const checked = h("span", { id: "traffic-checked" });
  const error = h("p", { class: "error", role: "alert" });
  const element = h("div", { class: "traffic" },
    h("p", {}, h("strong", {}, "Last accepted request: "), lastUsed), total, chart,
    h("p", { class: "hint refreshrow" }, checked,
      h("button", { type: "button", class: "link", onclick: () => refresh() }, "Refresh now")),
    error);
  let timer = null, stopped = false, running = null;

  function show({ key, buckets, complete, checkedAt }) {
    const sum = totals(buckets);
    const count = `${complete ? "" : "at least "}${sum.allowed + sum.refused}`;
    lastUsed.textContent = key ? fmtAgo(key.last_used_at, checkedAt) : "—";
    total.textContent = `${count} requests in the last ${MINUTES} minutes: ${sum.allowed} allowed, ${sum.refused} refused` +
      (complete ? "." : " (the oldest minutes only partly counted: the key is busy).");
    const hadFocus = chart.contains(document.activeElement);
    chart.replaceChildren(barChart({
      buckets, id: "traffic", unit: "minute",
      label: `Requests per minute over the last ${MINUTES} minutes: ${count} in total`,
      tick: (bucket, i) => (i % 2 === 0 ? clock.format(bucket.start) : ""),
      describe: (bucket) => `${clock.format(bucket.start)}: ${bucket.allowed} allowed, ${bucket.refused} refused`,
    }));
    if (hadFocus) chart.querySelector(".plot").focus();
    checked.textContent = `Checked at ${clockSeconds.format(checkedAt)}; refreshed every ${REFRESH_SECONDS} s while this is open. `;
  }

  async function load() {
    const now = Date.now();
    const since = new Date(Math.floor(now / MINUTE) * MINUTE - (MINUTES - 1) * MINUTE).toISOString();
    try {
      const [key, { records, complete }] = await Promise.all([readKey(keyId), readRecords(keyId, since)]);
      if (stopped) return;
      const state = { key, buckets: minuteBuckets(records, now), complete, checkedAt: now };
      error.textContent = "";
      show(state);
      if (!key) stop();
      onChange(state);
    } catch (e) {
      if (!handleAuthFailure(e) && !stopped) error.textContent = `Could not refresh: ${e.message}`;
    }
  }

  // One refresh at a time: a click on "Refresh now" during a timed refresh waits for that one.
  function refresh() {
    running ||= load().finally(() => { running = null; });
    return running;
  }

  function schedule() {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(tick, REFRESH_SECONDS * 1000);
  }

  async function tick() {
    if (stopped) return;
    if (!element.isConnected) return stop();
    if (document.hidden) return;  // picked up again by onVisibility
    await refresh();
    schedule();
  }

  const onVisibility = () => {
    if (!document.hidden && !stopped) refresh().then(schedule);
  };
  function stop() {
    stopped = true;
    clearTimeout(timer);
    window.removeEventListener("hashchange", stop);
    document.removeEventListener("visibilitychange", onVisibility);
  }
  window.addEventListener("hashchange", stop);
  document.addEventListener("visibilitychange", onVisibility);

  function start() {
    refresh().then(schedule);
  }
  return { element, start, refresh, stop, get stopped() { return stopped; } };
}
