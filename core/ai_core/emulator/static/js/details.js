// The full picture of one item: key fields, properties, measurements, tags, the exception
// stack and the envelope exactly as it was sent.

import {
  baseData, copyText, fmtDuration, fmtTime, h, jsonBlock, roleBadge, severityBadge, successBadge,
} from "./util.js";

const TYPE_LABEL = {
  request: "Request", dependency: "Dependency", exception: "Exception", trace: "Trace",
  event: "Custom event", metric: "Metric", availability: "Availability", pageview: "Page view",
};

export function typeLabel(type) {
  return TYPE_LABEL[type] || type;
}

function kvTable(caption, entries, testid) {
  if (!entries.length) return null;
  return h("table", { class: "kv", "data-testid": testid },
    h("caption", {}, caption),
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))));
}

function objectEntries(obj) {
  if (!obj || typeof obj !== "object") return [];
  return Object.entries(obj).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]);
}

function summaryEntries(item) {
  const bd = baseData(item);
  const rows = [
    ["Type", typeLabel(item.type)],
    ["Time", h("span", { title: item.time }, fmtTime(item.time))],
    ["Name", item.name],
    ["Role", roleBadge(item.role)],
    ["Role instance", item.role_instance],
    ["Operation id", item.operation_id],
    ["Operation name", item.envelope?.tags?.["ai.operation.name"]],
    ["Id", item.telemetry_id],
    ["Parent id", item.parent_id],
  ];
  if (item.type === "request" || item.type === "dependency") {
    rows.push(["Duration", fmtDuration(item.duration_ms)], ["Result code", item.result_code],
      ["Success", successBadge(item.success)]);
  }
  if (item.type === "request") rows.push(["URL", bd.url]);
  if (item.type === "dependency") rows.push(["Dependency type", bd.type], ["Target", bd.target], ["Data", bd.data]);
  if (item.type === "trace") rows.push(["Severity", severityBadge(item.severity)]);
  if (item.type === "exception") rows.push(["Severity", item.severity === null ? null : severityBadge(item.severity)]);
  rows.push(["Received", fmtTime(item.received_at)], ["Stored id", String(item.id)]);
  return rows.filter(([, v]) => v !== null && v !== undefined && v !== "");
}

function exceptionBlocks(item) {
  const list = baseData(item).exceptions;
  if (!Array.isArray(list) || !list.length) return null;
  return h("section", { class: "exc-list" }, h("h4", {}, "Exception"), list.map((ex) => {
    let stack = ex.stack;
    if (!stack && Array.isArray(ex.parsedStack)) {
      stack = ex.parsedStack.map((f) => `  at ${f.method || "?"} (${f.fileName || "?"}:${f.line ?? "?"})`).join("\n");
    }
    return h("div", { class: "exc" },
      h("p", { class: "exc-title" }, h("strong", {}, ex.typeName || "Exception"), ": ", ex.message || ""),
      stack ? h("pre", { class: "stack" }, stack) : null);
  }));
}

function metricTable(item) {
  const metrics = baseData(item).metrics;
  if (!Array.isArray(metrics) || !metrics.length) return null;
  const cols = ["name", "value", "count", "min", "max", "stdDev", "ns"];
  return h("table", { class: "grid compact" },
    h("caption", {}, "Metrics"),
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, metrics.map((m) => h("tr", {}, cols.map((c) => h("td", {}, m[c] ?? ""))))));
}

/** The details panel body for one item. */
export function renderDetails(item, { onClose } = {}) {
  const bd = baseData(item);
  const json = JSON.stringify(item.envelope, null, 2);
  const copyBtn = h("button", { type: "button", class: "btn btn-small", onclick: () => copyText(json, copyBtn) }, "Copy JSON");
  return h("div", { class: "details", "data-testid": "item-details", dataset: { itemId: item.id } },
    h("div", { class: "details-head" },
      h("div", {},
        h("p", { class: "eyebrow" }, typeLabel(item.type)),
        h("h3", { class: "details-title" }, item.name || "(no name)")),
      onClose ? h("button", { type: "button", class: "btn btn-icon", "aria-label": "Close details", "data-testid": "close-details", onclick: onClose }, "✕") : null),
    item.warnings && item.warnings.length
      ? h("div", { class: "banner banner-warn" }, h("strong", {}, "Accepted with warnings: "), item.warnings.join("; "))
      : null,
    kvTable("Overview", summaryEntries(item), "details-overview"),
    exceptionBlocks(item),
    metricTable(item),
    kvTable("Custom properties", objectEntries(bd.properties), "details-properties"),
    kvTable("Measurements", objectEntries(bd.measurements), "details-measurements"),
    kvTable("Tags", objectEntries(item.envelope?.tags), "details-tags"),
    h("section", { class: "envelope" },
      h("div", { class: "section-head" }, h("h4", {}, "Envelope as sent"), copyBtn),
      jsonBlock(json, { "data-testid": "envelope-json" })));
}
