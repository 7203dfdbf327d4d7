// Application map: one node per cloud role, external targets as their own nodes, an arrow per
// caller -> callee with calls, failure rate and average duration. Layered left to right by
// call depth, drawn as inline SVG.

import { api } from "./api.js";
import { clear, fill, fmtDuration, fmtNumber, fmtPercent, h, roleHue, s } from "./util.js";

const COL_W = 300;
const ROW_H = 180;
const MARGIN_X = 110;
const MARGIN_Y = 80;
const R = 40; // role circle radius
const EXT_W = 150;
const EXT_H = 54;

/** Column (call depth) and row of each node. */
export function layout(nodes, edges) {
  const depth = new Map(nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass += 1) {
    let changed = false;
    for (const e of edges) {
      if (e.source === e.target) continue;
      const d = Math.min(nodes.length - 1, (depth.get(e.source) ?? 0) + 1);
      if (d > (depth.get(e.target) ?? 0)) { depth.set(e.target, d); changed = true; }
    }
    if (!changed) break;
  }
  // Externals sit one column right of their right-most caller, roles keep their own column.
  const columns = new Map();
  for (const n of nodes) {
    const d = depth.get(n.id);
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(n);
  }
  const pos = new Map();
  let maxRows = 1;
  for (const [d, list] of columns) {
    list.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === "role" ? -1 : 1));
    maxRows = Math.max(maxRows, list.length);
    list.forEach((n, i) => pos.set(n.id, { col: d, row: i, rows: list.length }));
  }
  const cols = Math.max(1, ...[...columns.keys()].map((d) => d + 1));
  const height = MARGIN_Y * 2 + (maxRows - 1) * ROW_H;
  for (const p of pos.values()) {
    p.x = MARGIN_X + p.col * COL_W;
    p.y = MARGIN_Y + ((maxRows - p.rows) * ROW_H) / 2 + p.row * ROW_H;
  }
  return { pos, width: MARGIN_X * 2 + (cols - 1) * COL_W, height };
}

function boundary(node, p, toward) {
  // Where the straight line from p toward `toward` leaves the node's shape.
  const dx = toward.x - p.x;
  const dy = toward.y - p.y;
  const len = Math.hypot(dx, dy) || 1;
  if (node.kind === "role") return { x: p.x + (dx / len) * (R + 4), y: p.y + (dy / len) * (R + 4) };
  const sx = Math.abs(dx) > 0 ? (EXT_W / 2 + 4) / Math.abs(dx) : Infinity;
  const sy = Math.abs(dy) > 0 ? (EXT_H / 2 + 4) / Math.abs(dy) : Infinity;
  const k = Math.min(sx, sy);
  return { x: p.x + dx * k, y: p.y + dy * k };
}

/**
 * How far (vertical offset at the middle) an edge from a to b must bend so it does not run
 * through another node (a role's circle and the labels under it, or an external box).
 */
function detour(a, b, placed) {
  let offset = 0;
  for (const [node, p] of placed) {
    if (!p || p === a || p === b) continue;
    if (p.x <= Math.min(a.x, b.x) + 1 || p.x >= Math.max(a.x, b.x) - 1) continue;
    const t = (p.x - a.x) / (b.x - a.x);
    const lineY = a.y + t * (b.y - a.y) + 2 * t * (1 - t) * 2 * offset;
    const above = node.kind === "role" ? R + 14 : EXT_H / 2 + 12;
    const below = node.kind === "role" ? R + 48 : EXT_H / 2 + 12;
    if (lineY <= p.y - above || lineY >= p.y + below) continue;
    const up = lineY - (p.y - above);   // how far to move up to pass above
    const down = p.y + below - lineY;   // how far to move down to pass below
    const move = up < down ? -up - 8 : down + 8;
    offset += move / (4 * t * (1 - t));
  }
  return offset;
}

function failureArc(rate) {
  // A ring segment for the failed share of a role's requests, starting at 12 o'clock.
  if (!(rate > 0)) return null;
  if (rate >= 1) return s("circle", { class: "ring-bad", r: R, cx: 0, cy: 0 });
  const a = rate * 2 * Math.PI;
  const x = R * Math.sin(a);
  const y = -R * Math.cos(a);
  return s("path", { class: "ring-bad", d: `M 0 ${-R} A ${R} ${R} 0 ${a > Math.PI ? 1 : 0} 1 ${x.toFixed(2)} ${y.toFixed(2)}` });
}

function shorten(text, max) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

export function mapView(params, app) {
  const state = { signature: "" };
  const canvas = h("div", { class: "map-canvas" });
  const tables = h("div", { class: "map-tables" });
  const empty = h("div", { class: "empty", hidden: true, "data-testid": "empty-state" },
    h("p", { class: "empty-title" }, "Nothing to map yet."),
    h("p", {}, "Roles appear when requests or dependencies arrive; set a role name with ", h("code", {}, "configure(role_name=…)"), "."));
  const el = h("section", { class: "view map-view", "data-testid": "map-view" },
    h("div", { class: "view-head" }, h("h2", {}, "Application map"),
      h("p", { class: "list-summary" }, "Roles and what they call. Click a role to see its requests.")),
    empty, canvas, tables);

  function render(data) {
    const nodes = data.nodes;
    const edges = data.edges;
    empty.hidden = nodes.length > 0;
    clear(canvas);
    clear(tables);
    if (!nodes.length) return;
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const { pos, width, height } = layout(nodes, edges);
    const extent = { min: 0, max: height };

    const svg = s("svg", {
      class: "map", "data-testid": "app-map", role: "img", viewBox: `0 0 ${width} ${height}`,
      width, height, "aria-label": `Application map: ${nodes.filter((n) => n.kind === "role").length} roles, ${edges.length} connections`,
    });
    svg.append(s("defs", {},
      s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" })),
      s("marker", { id: "arrow-bad", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head bad" }))));

    const edgeLayer = s("g", { class: "edges" });
    const labelLayer = s("g", { class: "edge-labels" });
    for (const e of edges) {
      const a = pos.get(e.source);
      const b = pos.get(e.target);
      if (!a || !b) continue;
      const bad = e.failures > 0;
      let d;
      let mid;
      if (e.source === e.target) {
        d = `M ${a.x - 14} ${a.y - R - 2} C ${a.x - 60} ${a.y - R - 70}, ${a.x + 60} ${a.y - R - 70}, ${a.x + 14} ${a.y - R - 2}`;
        mid = { x: a.x, y: a.y - R - 62 };
      } else {
        const offset = detour(a, b, nodes.map((n) => [n, pos.get(n.id)]));
        const mx = (a.x + b.x) / 2;
        const my = (a.y + b.y) / 2;
        const c = { x: mx, y: my + 2 * offset };
        const p1 = boundary(byId.get(e.source), a, offset ? c : b);
        const p2 = boundary(byId.get(e.target), b, offset ? c : a);
        d = `M ${p1.x.toFixed(1)} ${p1.y.toFixed(1)} Q ${c.x.toFixed(1)} ${c.y.toFixed(1)} ${p2.x.toFixed(1)} ${p2.y.toFixed(1)}`;
        mid = { x: (p1.x + 2 * c.x + p2.x) / 4, y: (p1.y + 2 * c.y + p2.y) / 4 };
      }
      extent.min = Math.min(extent.min, mid.y - 30);
      extent.max = Math.max(extent.max, mid.y + 30);
      const title = `${byId.get(e.source).name} → ${byId.get(e.target).name}: ${e.calls} call${e.calls === 1 ? "" : "s"}, ${fmtPercent(e.failure_rate)} failed, average ${fmtDuration(e.avg_duration_ms) || "–"}`;
      edgeLayer.append(s("path", {
        class: `edge${bad ? " edge-bad" : ""}`, d, "marker-end": `url(#${bad ? "arrow-bad" : "arrow"})`,
        "data-testid": "map-edge", "data-source": e.source, "data-target": e.target,
      }, s("title", {}, title)));
      const line1 = `${fmtNumber(e.calls)} call${e.calls === 1 ? "" : "s"} · ${fmtDuration(e.avg_duration_ms) || "–"}`;
      const line2 = bad ? `${fmtPercent(e.failure_rate)} failed` : null;
      const w = Math.max(line1.length, (line2 || "").length) * 6.6 + 16;
      const hgt = line2 ? 36 : 22;
      labelLayer.append(s("g", { class: `edge-label${bad ? " bad" : ""}`, transform: `translate(${mid.x.toFixed(1)} ${mid.y.toFixed(1)})`, "data-testid": "map-edge-label" },
        s("rect", { x: -w / 2, y: -hgt / 2, width: w, height: hgt, rx: 6 }),
        s("text", { y: line2 ? -3 : 4, "text-anchor": "middle" }, line1),
        line2 ? s("text", { y: 12, "text-anchor": "middle", class: "fail-text" }, line2) : null));
    }

    const nodeLayer = s("g", { class: "nodes" });
    for (const n of nodes) {
      const p = pos.get(n.id);
      const g = s("g", {
        class: `node node-${n.kind}`, transform: `translate(${p.x} ${p.y})`, "data-testid": "map-node",
        "data-node-id": n.id, "data-kind": n.kind, "data-name": n.name,
      });
      if (n.kind === "role") {
        const rate = n.requests ? n.failed_requests / n.requests : 0;
        g.setAttribute("tabindex", "0");
        g.setAttribute("role", "link");
        g.setAttribute("aria-label", `Role ${n.name}: ${n.requests} requests, ${n.failed_requests} failed. Show its requests.`);
        const go = () => { location.hash = `#/requests?role=${encodeURIComponent(n.name)}`; };
        g.addEventListener("click", go);
        g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") go(); });
        fill(g, 
          s("title", {}, `${n.name}: ${n.requests} requests, ${n.failed_requests} failed, average ${fmtDuration(n.avg_duration_ms) || "–"}`),
          s("circle", { class: "role-disc", r: R, style: `--role-hue:${roleHue(n.name)}` }),
          s("circle", { class: "ring", r: R }),
          failureArc(rate),
          s("text", { class: "node-count", y: 2, "text-anchor": "middle" }, fmtNumber(n.requests)),
          s("text", { class: "node-unit", y: 17, "text-anchor": "middle" }, n.requests === 1 ? "request" : "requests"),
          s("text", { class: "node-name", y: R + 20, "text-anchor": "middle" }, shorten(n.name || "(no role)", 30)),
          s("text", { class: `node-sub${n.failed_requests ? " fail-text" : ""}`, y: R + 36, "text-anchor": "middle", "data-testid": "map-node-failures" },
            `${fmtNumber(n.failed_requests)} failed${n.avg_duration_ms !== null && n.avg_duration_ms !== undefined ? " · avg " + fmtDuration(n.avg_duration_ms) : ""}`));
      } else {
        fill(g, 
          s("title", {}, `${n.type || "External"}: ${n.name}`),
          s("rect", { class: "ext-box", x: -EXT_W / 2, y: -EXT_H / 2, width: EXT_W, height: EXT_H, rx: 10 }),
          s("text", { class: "ext-type", y: -6, "text-anchor": "middle" }, shorten((n.type || "external").toUpperCase(), 22)),
          s("text", { class: "ext-name", y: 13, "text-anchor": "middle" }, shorten(n.name || "(unknown)", 22)));
      }
      nodeLayer.append(g);
    }
    svg.append(edgeLayer, nodeLayer, labelLayer);
    // Edges bent around other nodes may leave the layout box: grow the view box to fit them.
    const top = Math.min(0, extent.min);
    const total = Math.max(height, extent.max) - top;
    svg.setAttribute("viewBox", `0 ${top} ${width} ${total}`);
    svg.setAttribute("height", total);
    canvas.append(svg);

    // The same facts as tables: readable by screen readers, sortable by eye, easy to copy.
    const nameOf = (id) => byId.get(id)?.name ?? id;
    tables.append(
      h("table", { class: "grid", "data-testid": "map-edges-table" },
        h("caption", {}, "Connections"),
        h("thead", {}, h("tr", {}, ["From", "To", "Kind", "Calls", "Failed", "Failure rate", "Avg duration"].map((t, i) => h("th", { scope: "col", class: i >= 3 ? "right" : null }, t)))),
        h("tbody", {}, edges.map((e) => {
          const target = byId.get(e.target);
          return h("tr", { "data-testid": "map-edge-row", dataset: { source: e.source, target: e.target }, class: e.failures ? "row-bad" : null },
            h("td", {}, nameOf(e.source)), h("td", {}, nameOf(e.target)),
            h("td", {}, target?.kind === "role" ? "role" : target?.type || "external"),
            h("td", { class: "right num" }, fmtNumber(e.calls)), h("td", { class: "right num" }, fmtNumber(e.failures)),
            h("td", { class: `right num${e.failures ? " fail-text" : ""}` }, fmtPercent(e.failure_rate)),
            h("td", { class: "right num" }, fmtDuration(e.avg_duration_ms)));
        }))),
      h("table", { class: "grid", "data-testid": "map-roles-table" },
        h("caption", {}, "Roles"),
        h("thead", {}, h("tr", {}, ["Role", "Requests", "Failed", "Avg duration"].map((t, i) => h("th", { scope: "col", class: i ? "right" : null }, t)))),
        h("tbody", {}, nodes.filter((n) => n.kind === "role").map((n) => h("tr", { class: n.failed_requests ? "row-bad" : null },
          h("td", {}, h("a", { href: `#/requests?role=${encodeURIComponent(n.name)}` }, n.name || "(no role)")),
          h("td", { class: "right num" }, fmtNumber(n.requests)), h("td", { class: "right num" }, fmtNumber(n.failed_requests)),
          h("td", { class: "right num" }, fmtDuration(n.avg_duration_ms)))))));
  }

  async function refresh() {
    const data = await api.map();
    const signature = JSON.stringify(data);
    if (signature === state.signature) return;
    state.signature = signature;
    render(data);
  }

  refresh().catch((err) => app.setError(err.message));
  return { el, refresh };
}
