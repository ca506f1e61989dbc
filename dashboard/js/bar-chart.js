// Requests over time as stacked bars (black allowed, red refused), one bar per time bucket: labels under
// the bars, the peak as a line, and a tooltip per bar that follows the pointer, or the arrow keys once the
// chart has focus. Used for a key's requests per hour and for a rotated key's requests per minute.
//
// Bars are placed in percentages of the width and in pixels of the height, so the chart fills any width
// without stretching its text (a viewBox would scale the labels with the window).
import { h } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const HEIGHT = 150, TOP = 18, AXIS = 22;
const PLOT = HEIGHT - TOP - AXIS;

function svg(tag, attrs = {}, text = "") {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== null && value !== undefined) el.setAttribute(name, value);
  if (text) el.textContent = text;
  return el;
}

const pct = (value) => `${value.toFixed(4)}%`;

// buckets: [{allowed, refused, ...}] oldest first. label: the chart's accessible name. tick(bucket, i):
// the text under bucket i, or "" for none ({text, minor} for a label a narrow screen may drop).
// describe(bucket): what the tooltip says about one bucket. unit: "hour" or "minute", for the peak line.
export function barChart({ buckets, label, tick, describe, unit, id }) {
  const peak = Math.max(1, ...buckets.map((b) => b.allowed + b.refused));
  const width = 100 / buckets.length;
  const gap = buckets.length > 60 ? 0 : width * 0.15;
  const plot = svg("svg", { role: "img", "aria-label": label, class: "bars", height: HEIGHT, width: "100%" });
  plot.append(svg("line", { x1: "0", x2: "100%", y1: TOP, y2: TOP, class: "peak" }),
    svg("text", { x: "0", y: TOP - 5, class: "peak-label" },
      buckets.some((b) => b.allowed + b.refused) ? `peak ${peak} per ${unit}` : "no requests"),
    svg("line", { x1: "0", x2: "100%", y1: TOP + PLOT, y2: TOP + PLOT, class: "baseline" }));
  const hits = buckets.map((bucket, i) => {
    const x = i * width;
    let y = TOP + PLOT;
    for (const [count, kind] of [[bucket.allowed, "allowed"], [bucket.refused, "refused"]]) {
      if (!count) continue;
      const barHeight = Math.max(1, (PLOT * count) / peak);
      y -= barHeight;
      plot.append(svg("rect", { x: pct(x + gap / 2), width: pct(width - gap), y, height: barHeight, class: kind }));
    }
    const mark = tick(bucket, i);
    const { text, minor } = typeof mark === "string" ? { text: mark, minor: false } : mark;
    if (text) {
      plot.append(svg("line", { x1: pct(x), x2: pct(x), y1: TOP + PLOT, y2: TOP + PLOT + 4, class: "tick" }));
      plot.append(svg("text", { x: pct(x), y: HEIGHT - 4, class: minor ? "axis minor" : "axis" }, text));
    }
    // A transparent bar the whole height of the chart, so an hour with no requests has a tooltip too.
    const hit = svg("rect", { x: pct(x), width: pct(width), y: TOP, height: PLOT, class: "hit", "data-index": i });
    plot.append(hit);
    return hit;
  });

  const tooltipId = `${id}-tooltip`;
  const tooltip = h("div", { class: "tooltip", id: tooltipId, role: "tooltip", "aria-live": "polite", hidden: true });
  const frame = h("div", {
    class: "plot", tabindex: "0", role: "group", "aria-describedby": tooltipId,
    "aria-label": `${label}. Use the left and right arrow keys to read each ${unit}.`,
  }, plot, tooltip);
  let current = -1;

  function show(index) {
    current = Math.max(0, Math.min(buckets.length - 1, index));
    hits.forEach((hit, i) => hit.classList.toggle("active", i === current));
    tooltip.textContent = describe(buckets[current]);
    tooltip.hidden = false;
    // Above its bar, kept inside the chart at both ends. Placed through CSSOM, not a style attribute: a
    // strict style-src allows the first only.
    tooltip.style.left = "0px";  // measured with the whole width to grow into
    const [frameWidth, tipWidth] = [frame.clientWidth, tooltip.offsetWidth];
    const centre = ((current + 0.5) / buckets.length) * frameWidth;
    tooltip.style.left = `${Math.max(0, Math.min(frameWidth - tipWidth, centre - tipWidth / 2))}px`;
  }
  function hide() {
    current = -1;
    hits.forEach((hit) => hit.classList.remove("active"));
    tooltip.hidden = true;
  }
  plot.addEventListener("pointerover", (event) => {
    const index = event.target.dataset && event.target.dataset.index;
    if (index !== undefined) show(Number(index));
  });
  frame.addEventListener("pointerleave", () => { if (document.activeElement !== frame) hide(); });
  frame.addEventListener("focus", () => show(current < 0 ? buckets.length - 1 : current));
  frame.addEventListener("blur", hide);
  frame.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: buckets.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    show(moves[event.key]);
  });
  return frame;
}

// The totals under a chart: "Allowed 12 · Refused 3".
export function totals(buckets) {
  const sum = (kind) => buckets.reduce((total, b) => total + b[kind], 0);
  return { allowed: sum("allowed"), refused: sum("refused") };
}
