// Requests per hour over the last 24 hours as an SVG bar chart (black allowed, red refused).
const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 720, HEIGHT = 140, PAD = 24;

function svgElement(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  return el;
}

// hours: the usage endpoint's [{hour: "2025-01-01T10:00Z", allowed, refused}], only hours with requests.
function lastDay(hours) {
  const now = Date.now();
  const buckets = [];
  for (let i = 23; i >= 0; i--) {
    const start = new Date(now - i * 3600e3);
    start.setUTCMinutes(0, 0, 0);
    const label = start.toISOString().slice(0, 13) + ":00Z";
    const found = hours.find((x) => x.hour === label);
    buckets.push({ label, allowed: found ? found.allowed : 0, refused: found ? found.refused : 0 });
  }
  return buckets;
}

export function usageChart(hours) {
  const buckets = lastDay(hours);
  const max = Math.max(1, ...buckets.map((b) => b.allowed + b.refused));
  const total = buckets.reduce((sum, b) => sum + b.allowed + b.refused, 0);
  const barWidth = (WIDTH - PAD) / buckets.length;
  const svg = svgElement("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
    "aria-label": `Requests per hour over the last 24 hours: ${total} in total`,
  });
  buckets.forEach((b, i) => {
    let y = HEIGHT - PAD;
    for (const [count, color] of [[b.allowed, "#111"], [b.refused, "#b42318"]]) {
      if (!count) continue;
      const barHeight = ((HEIGHT - 2 * PAD) * count) / max;
      y -= barHeight;
      const rect = svgElement("rect", { x: PAD + i * barWidth + 2, y, width: barWidth - 4, height: barHeight, fill: color });
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `${b.label}: ${b.allowed} allowed, ${b.refused} refused`;
      rect.append(title);
      svg.append(rect);
    }
  });
  const axis = svgElement("text", { x: PAD, y: HEIGHT - 6, "font-size": "11" });
  axis.textContent = `last 24 h (UTC hours) — peak ${max}/h; black allowed, red refused`;
  svg.append(axis);
  return svg;
}
