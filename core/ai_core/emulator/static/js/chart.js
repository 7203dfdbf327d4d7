// Time charts as hand-written inline SVG: a few lines over a time axis, one dot per bucket with
// its exact value in data-value and a tooltip. No charting library: this is all the Performance,
// Failures and Metrics views need, and it keeps the viewer offline and dependency-free.

import { fmtTime, h, s } from "./util.js";

const W = 720;
const H = 200;
const PAD = { left: 56, right: 14, top: 12, bottom: 26 };
// Ten distinct colours: the Live tab draws one line per app process (a demo runs about seven).
const COLORS = ["var(--req)", "var(--dep)", "hsl(160 60% 38%)", "hsl(32 85% 45%)", "hsl(320 55% 48%)", "hsl(190 70% 38%)",
  "hsl(85 55% 36%)", "hsl(0 0% 42%)", "hsl(48 90% 42%)", "hsl(235 35% 45%)"];

export function seriesColor(i) { return COLORS[i % COLORS.length]; }

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * lineChart({lines: [{label, points: [{time, value}]}], fmt, testid, from, to, empty})
 * Each line is a polyline with a dot per point; y starts at 0.
 */
export function lineChart({ lines, fmt = String, testid = "chart", from, to, empty = "No data in this range.", label = "" }) {
  const all = lines.flatMap((l) => l.points.map((p) => ({ ...p, t: Date.parse(p.time) })));
  const wrap = h("figure", { class: "chart", "data-testid": testid });
  if (!all.length) {
    wrap.append(h("p", { class: "muted chart-empty" }, empty));
    return wrap;
  }
  const t0 = from ?? Math.min(...all.map((p) => p.t));
  const t1 = Math.max(to ?? Math.max(...all.map((p) => p.t)), t0 + 1);
  const yMax = niceMax(Math.max(...all.map((p) => p.value ?? 0)));
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v ?? 0) / yMax) * (H - PAD.top - PAD.bottom);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img", "aria-label": label || "chart" });
  for (const f of [0, 0.5, 1]) {
    const v = yMax * f;
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid-line" }),
      s("text", { x: PAD.left - 6, y: y(v) + 4, class: "axis-label", "text-anchor": "end" }, fmt(v)));
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    svg.append(s("text", { x: x(t), y: H - 6, class: "axis-label", "text-anchor": anchor }, fmtTime(t)));
  }
  lines.forEach((line, i) => {
    const color = seriesColor(i);
    const pts = line.points.map((p) => ({ ...p, t: Date.parse(p.time) })).sort((a, b) => a.t - b.t);
    const g = s("g", { class: "series", "data-testid": "chart-series", "data-label": line.label ?? "", style: `--c: ${color}` });
    if (pts.length > 1) {
      g.append(s("polyline", { class: "series-line", points: pts.map((p) => `${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ") }));
    }
    for (const p of pts) {
      g.append(s("circle", { class: "series-dot", cx: x(p.t).toFixed(1), cy: y(p.value).toFixed(1), r: 3.2,
        "data-testid": "chart-point", "data-value": String(p.value ?? ""), "data-time": p.time },
      s("title", {}, `${line.label ? line.label + " · " : ""}${fmtTime(p.t)}: ${fmt(p.value)}${p.note ? " · " + p.note : ""}`)));
    }
    svg.append(g);
  });
  wrap.append(svg);
  if (lines.length > 1 || lines[0].label) {
    wrap.append(h("figcaption", { class: "legend" }, lines.map((l, i) =>
      h("span", { class: "legend-item", style: { "--c": seriesColor(i) } }, l.label || "(none)"))));
  }
  return wrap;
}

/** Horizontal bars for "top N" lists: [{label, value, title}] */
export function barList(rows, { testid = "bars", fmt = String, empty = "None." } = {}) {
  if (!rows.length) return h("p", { class: "muted", "data-testid": testid }, empty);
  const max = Math.max(...rows.map((r) => r.value), 1);
  return h("ul", { class: "bars", "data-testid": testid }, rows.map((r) => h("li", { title: r.title || r.label, "data-testid": "bar-row" },
    h("span", { class: "bar-label" }, r.label),
    h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: { width: `${(r.value / max) * 100}%` } })),
    h("span", { class: "num bar-value" }, fmt(r.value)))));
}
