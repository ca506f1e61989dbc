// A key's requests per hour (GET .../keys/{id}/usage?since=), over the last 24 hours or 7 days: one bar
// per hour, labelled and read in this browser's local time, with the range's totals.
import { api, envPath } from "./api.js";
import { barChart, totals } from "./bar-chart.js";
import { h } from "./dom.js";
import { handleAuthFailure } from "./signin-view.js";

const HOUR = 3600e3;
export const RANGES = [
  { value: "24h", hours: 24, text: "Last 24 hours", every: 3 },
  { value: "7d", hours: 168, text: "Last 7 days", every: 24 },
];

const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "this computer's time zone";
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const day = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const dayShort = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" });

// The usage counters' hour buckets are UTC hours ("2026-11-26T09:00Z"), and only hours with requests are
// answered: every hour of the range gets a bucket, empty or not, oldest first.
export function hourBuckets(hours, count, now = Date.now()) {
  const byHour = new Map(hours.map((hour) => [hour.hour, hour]));
  const current = Math.floor(now / HOUR) * HOUR;
  const buckets = [];
  for (let i = count - 1; i >= 0; i--) {
    const start = new Date(current - i * HOUR);
    const found = byHour.get(start.toISOString().slice(0, 13) + ":00Z");
    buckets.push({ start, allowed: found ? found.allowed : 0, refused: found ? found.refused : 0 });
  }
  return buckets;
}

// Labels in local time: every 3 hours over a day (the date where one starts), each local midnight over a week.
function tickFor(range) {
  return (bucket) => {
    const { start } = bucket;
    if (range.every === 24) return start.getHours() === 0 ? dayShort.format(start) : "";
    if (start.getHours() % range.every !== 0) return "";
    return { text: start.getHours() === 0 ? dayShort.format(start) : clock.format(start), minor: start.getHours() % 6 !== 0 };
  };
}

const describeHour = (bucket) =>
  `${day.format(bucket.start)}, ${clock.format(bucket.start)}–${clock.format(new Date(bucket.start.getTime() + HOUR))}: ` +
  `${bucket.allowed} allowed, ${bucket.refused} refused`;

function chartFor(range, hours) {
  const buckets = hourBuckets(hours, range.hours);
  const sum = totals(buckets);
  const span = range.hours === 24 ? "the last 24 hours" : "the last 7 days";
  const chart = barChart({
    buckets, id: "usage", unit: "hour", tick: tickFor(range), describe: describeHour,
    label: `Requests per hour over ${span}: ${sum.allowed + sum.refused} in total`,
  });
  const total = h("p", { class: "totals", id: "usage-totals" },
    h("span", { class: "total allowed" }, `Allowed ${sum.allowed}`), " · ",
    h("span", { class: "total refused" }, `Refused ${sum.refused}`), ` over ${span}`);
  return [total, h("div", { class: "chart" }, chart)];
}

// The usage section of a key's page; the range choice redraws the chart only (the rest of the page, a
// rotation in progress among it, stays as it is).
export async function usageSection(keyId) {
  const body = h("div", { class: "usage-body" });
  const error = h("p", { class: "error", role: "alert" });
  const choices = RANGES.map((range, i) => h("label", { class: "segment" },
    h("input", { type: "radio", name: "usage-range", value: range.value, checked: i === 0, onchange: () => load(range) }),
    range.text));
  const section = h("section", { class: "section", "aria-labelledby": "usage-title" },
    h("div", { class: "sectionhead" }, h("h2", { id: "usage-title" }, "Usage per hour"),
      h("fieldset", { class: "segmented" }, h("legend", { class: "sr" }, "Range"), choices)),
    error, body,
    h("p", { class: "hint" }, `Hours in your local time (${timeZone()}). Black: allowed requests; red: refused ones.`));
  let shown = 0;
  async function load(range) {
    const mine = ++shown;
    const since = new Date(Math.floor(Date.now() / HOUR) * HOUR - (range.hours - 1) * HOUR).toISOString();
    try {
      const usage = await api("GET", envPath(`/keys/${encodeURIComponent(keyId)}/usage?since=${encodeURIComponent(since)}`));
      if (mine !== shown) return;  // a later choice was made meanwhile
      error.textContent = "";
      body.replaceChildren(...chartFor(range, usage.hours));
    } catch (e) {
      if (!handleAuthFailure(e) && mine === shown) error.textContent = e.message;
    }
  }
  await load(RANGES[0]);
  return section;
}
