// End-to-end transaction: every item of one operation id as a timeline tree. Requests and
// dependencies nest by parent id (a dependency's downstream request sits under it, even in
// another role); exceptions, traces and events sit under the span they were recorded in.

import { api } from "./api.js";
import { renderDetails, typeLabel } from "./details.js";
import {
  baseData, clear, fill, copyText, firstException, fmtDuration, fmtTime, h, parseTime, resultText, roleBadge,
  severityBadge, successBadge,
} from "./util.js";

const SPAN_TYPES = new Set(["request", "dependency"]);
const ABBR = { request: "REQ", dependency: "DEP", exception: "EXC", trace: "LOG", event: "EVT", metric: "MET", pageview: "PV", availability: "AV" };

const PLURAL = { request: "Requests", dependency: "Dependencies", exception: "Exceptions", trace: "Traces", event: "Events", metric: "Metrics" };
function plural(type, n) { return n === 1 ? typeLabel(type) : PLURAL[type] || typeLabel(type) + "s"; }

function startOf(item) { return parseTime(item.time); }
function endOf(item) { return startOf(item) + (SPAN_TYPES.has(item.type) ? item.duration_ms || 0 : 0); }

/** {roots: [node], orphans: [item], spans: Map} where node = {item, children: [node]}. */
export function buildTree(items) {
  const spans = new Map();
  for (const item of items) {
    if (SPAN_TYPES.has(item.type) && item.telemetry_id && !spans.has(item.telemetry_id)) {
      spans.set(item.telemetry_id, { item, children: [] });
    }
  }
  const roots = [];
  const orphans = [];
  for (const item of items) {
    const own = SPAN_TYPES.has(item.type) && item.telemetry_id && spans.get(item.telemetry_id)?.item === item
      ? spans.get(item.telemetry_id) : null;
    const parent = item.parent_id && item.parent_id !== item.telemetry_id ? spans.get(item.parent_id) : null;
    const node = own || { item, children: [] };
    if (parent && !isAncestor(node, parent)) parent.children.push(node);
    else if (own) roots.push(node);
    else orphans.push(item);
  }
  const order = (a, b) => (startOf(a.item) - startOf(b.item)) || (a.item.id - b.item.id);
  const sortDeep = (nodes) => { nodes.sort(order); for (const n of nodes) sortDeep(n.children); };
  sortDeep(roots);
  return { roots, orphans: orphans.sort((a, b) => startOf(a) - startOf(b)), spans };
}

function isAncestor(node, candidate) {
  // Guards against parent-id cycles in hand-made telemetry: is `node` above `candidate`?
  const stack = [...node.children];
  while (stack.length) {
    const n = stack.pop();
    if (n === candidate) return true;
    stack.push(...n.children);
  }
  return node === candidate;
}

function itemLabel(item) {
  if (item.type === "exception") {
    const ex = firstException(item);
    return [h("strong", { class: "exc-type" }, ex.typeName || "Exception"), " ", ex.message || ""];
  }
  if (item.type === "trace") return baseData(item).message || item.name;
  if (item.type === "dependency") {
    const bd = baseData(item);
    return [h("span", { class: "dep-type" }, bd.type || "Dependency"), " ", item.name || "",
      bd.target ? h("span", { class: "muted target" }, " → " + bd.target) : null];
  }
  return item.name || "(no name)";
}

function labelTitle(item) {
  // The full text on hover: long exception types and messages are wrapped or cut in the tree.
  if (item.type === "exception") {
    const ex = firstException(item);
    return `${ex.typeName || "Exception"}: ${ex.message || ""}`;
  }
  return item.type === "trace" ? baseData(item).message || item.name || "" : item.name || "";
}

function resultCell(item, items) {
  if (item.type === "trace") return severityBadge(item.severity);
  if (item.type === "exception") return h("span", { class: "badge fail" }, "Exception");
  if (SPAN_TYPES.has(item.type)) {
    // A failed call without a result code: name the exception recorded under it, if any.
    const exc = item.success === false && item.telemetry_id
      ? items.find((i) => i.type === "exception" && i.parent_id === item.telemetry_id) : null;
    const type = exc ? firstException(exc).typeName : null;
    const text = resultText(item, type);
    return h("span", { class: item.success === false ? "code bad result-text" : "code", title: item.result_code ? `result code ${item.result_code}` : text }, text);
  }
  return "";
}

export function transactionView(operationId, params, app) {
  const state = { items: [], selectedId: Number(params.get("item")) || null, collapsed: new Set(), signature: "" };
  const head = h("div", { class: "txn-head" });
  const tbody = h("tbody", {});
  const axis = h("div", { class: "axis", "aria-hidden": "true" });
  const table = h("table", { class: "grid timeline", "data-testid": "timeline" },
    h("caption", { class: "sr-only" }, "Items of the operation with their timing"),
    h("colgroup", {}, h("col", { class: "c-item" }), h("col", { class: "c-result" }), h("col", { class: "c-dur" }), h("col", { class: "c-bar" })),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Item"), h("th", { scope: "col" }, "Result"),
      h("th", { scope: "col", class: "right" }, "Duration"), h("th", { scope: "col", class: "bar-head" }, h("span", { class: "sr-only" }, "Timeline"), axis))),
    tbody);
  const panel = h("aside", { class: "txn-panel", "aria-label": "Item details", "data-testid": "details-panel" });
  const empty = h("div", { class: "empty", hidden: true, "data-testid": "empty-state" });
  const el = h("section", { class: "view txn-view", "data-testid": "transaction-view", dataset: { operationId } },
    head, empty, h("div", { class: "txn-body" }, h("div", { class: "table-wrap txn-table" }, table), panel));

  function select(id) {
    state.selectedId = id;
    const hash = `#/operation/${encodeURIComponent(operationId)}?item=${id}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
    for (const tr of tbody.querySelectorAll("tr[data-item-id]")) {
      const on = Number(tr.dataset.itemId) === id;
      tr.classList.toggle("row-selected", on);
      tr.setAttribute("aria-selected", on ? "true" : "false");
    }
    const item = state.items.find((i) => i.id === id);
    clear(panel);
    if (item) panel.append(renderDetails(item));
    else panel.append(h("p", { class: "muted pad" }, "Select an item to see its properties, tags and envelope."));
  }

  function renderHead(tree, t0, total) {
    const items = state.items;
    const rootReq = tree.roots.find((n) => n.item.type === "request") || tree.roots[0];
    const counts = {};
    for (const i of items) counts[i.type] = (counts[i.type] || 0) + 1;
    const failed = items.filter((i) => i.success === false).length;
    const roles = [...new Set(items.map((i) => i.role).filter(Boolean))];
    const idCode = h("code", { "data-testid": "operation-id" }, operationId);
    const copyBtn = h("button", { type: "button", class: "btn btn-small", onclick: () => copyText(operationId, copyBtn) }, "Copy");
    fill(head, 
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
        h("a", { href: "#/requests", onclick: (e) => { if (history.length > 1 && app.cameFromList) { e.preventDefault(); history.back(); } } }, "← Back to lists")),
      h("p", { class: "eyebrow" }, "End-to-end transaction"),
      h("h2", { "data-testid": "transaction-title" }, rootReq ? rootReq.item.name || "(no name)" : "Operation"),
      h("p", { class: "txn-id" }, "Operation id ", idCode, " ", copyBtn),
      h("ul", { class: "chips", "aria-label": "Summary" },
        h("li", {}, h("span", {}, "Started"), fmtTime(t0)),
        h("li", {}, h("span", {}, "Duration"), fmtDuration(total)),
        h("li", {}, h("span", {}, "Roles"), roles.length ? roles.map((r) => roleBadge(r)) : "–"),
        Object.entries(counts).map(([t, n]) => h("li", {}, h("span", {}, plural(t, n)), String(n))),
        failed ? h("li", { class: "chip-bad" }, h("span", {}, "Failed"), String(failed)) : null));
  }

  function renderAxis(total) {
    clear(axis);
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      axis.append(h("span", { class: "tick", style: { left: `${f * 100}%` } }, fmtDuration(total * f) || "0 ms"));
    }
  }

  function row(node, depth, t0, total, hasChildren) {
    const item = node.item;
    const span = SPAN_TYPES.has(item.type);
    const start = startOf(item) - t0;
    const left = Math.max(0, Math.min(100, (start / total) * 100));
    const bad = item.success === false || item.type === "exception" || (item.type === "trace" && (item.severity ?? 0) >= 3);
    let bar;
    if (span) {
      const width = Math.max(0.4, Math.min(100 - left, ((item.duration_ms || 0) / total) * 100));
      bar = h("div", { class: `bar bar-${item.type}${item.success === false ? " bar-bad" : ""}`, style: { left: `${left}%`, width: `${width}%` },
        title: `starts +${fmtDuration(start) || "0 ms"}, lasts ${fmtDuration(item.duration_ms)}` });
    } else {
      bar = h("div", { class: `marker marker-${item.type}${bad ? " marker-bad" : ""}`, style: { left: `${left}%` }, title: `at +${fmtDuration(start) || "0 ms"}` });
    }
    const collapsed = state.collapsed.has(item.id);
    const toggle = hasChildren
      ? h("button", { type: "button", class: "twisty", "aria-expanded": collapsed ? "false" : "true", "aria-label": collapsed ? "Expand" : "Collapse",
        onclick: (e) => { e.stopPropagation(); collapsed ? state.collapsed.delete(item.id) : state.collapsed.add(item.id); render(true); } }, collapsed ? "▸" : "▾")
      : h("span", { class: "twisty-space" });
    return h("tr", {
      tabindex: "0", "aria-selected": "false", "data-testid": span ? "span-row" : "op-item-row",
      class: [`t-${item.type}`, bad ? "row-bad" : ""].join(" "),
      dataset: { itemId: item.id, type: item.type, depth, telemetryId: item.telemetry_id || null, parentId: item.parent_id || null },
      onclick: () => select(item.id),
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(item.id); } },
    },
    h("td", { class: "tree-cell" },
      h("div", { class: "tree", style: { paddingLeft: `${depth * 1.25}rem` } },
        toggle,
        h("span", { class: `kind kind-${item.type}`, title: typeLabel(item.type) }, ABBR[item.type] || "?"),
        h("span", { class: "tree-label", title: labelTitle(item) }, itemLabel(item)),
        span || item.role ? roleBadge(item.role) : null)),
    h("td", {}, resultCell(item, state.items)),
    h("td", { class: "right num" }, span ? fmtDuration(item.duration_ms) : h("span", { class: "muted" }, "+" + (fmtDuration(start) || "0 ms"))),
    h("td", { class: "bar-cell" }, h("div", { class: "track" }, bar)));
  }

  function render(keepScroll) {
    const items = state.items;
    empty.hidden = items.length > 0;
    if (!items.length) {
      fill(head, h("nav", { class: "crumbs" }, h("a", { href: "#/requests" }, "← Back to lists")), h("h2", {}, "End-to-end transaction"));
      fill(empty, h("p", { class: "empty-title" }, "No telemetry for this operation (yet)."),
        h("p", {}, "Operation id ", h("code", {}, operationId), ". This page refreshes as items arrive."));
      clear(tbody);
      return;
    }
    const tree = buildTree(items);
    const t0 = Math.min(...items.map(startOf));
    const total = Math.max(1, Math.max(...items.map(endOf)) - t0);
    renderHead(tree, t0, total);
    renderAxis(total);
    clear(tbody);
    const walk = (nodes, depth) => {
      for (const node of nodes) {
        tbody.append(row(node, depth, t0, total, node.children.length > 0));
        if (!state.collapsed.has(node.item.id)) walk(node.children, depth + 1);
      }
    };
    walk(tree.roots, 0);
    if (tree.orphans.length) {
      tbody.append(h("tr", { class: "group-row" }, h("th", { colspan: "4", scope: "rowgroup" }, "Not under a known span")));
      walk(tree.orphans.map((item) => ({ item, children: [] })), 0);
    }
    if (!keepScroll && !state.items.some((i) => i.id === state.selectedId)) {
      const first = tree.roots[0] ? tree.roots[0].item : items[0];
      state.selectedId = first.id;
    }
    select(state.selectedId);
  }

  async function load() {
    const res = await api.operation(operationId);
    const signature = res.items.map((i) => i.id).join(",");
    if (signature === state.signature) return;
    state.signature = signature;
    state.items = res.items;
    render(false);
  }

  fill(panel, h("p", { class: "muted pad" }, "Loading…"));
  load().catch((err) => app.setError(err.message));
  return { el, refresh: load };
}
