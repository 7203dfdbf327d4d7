// Small DOM and formatting helpers shared by the views. Everything is built with
// textContent (never innerHTML with data), so telemetry can't inject markup.

/** h("tr", {class: "x", dataset: {id: 1}, onclick: fn}, child, "text", [more]) */
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith("svg:");
  const node = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) node.dataset[k] = v;
    } else if (key === "style" && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (k.startsWith("--")) node.style.setProperty(k, v);
        else node.style[k] = v;
      }
    } else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "text") {
      node.textContent = value;
    } else if (key === "class" && !svg) {
      node.className = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

export const s = (tag, attrs, ...children) => h("svg:" + tag, attrs, ...children);

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** Replace the children of `node` (arrays flattened, null/false skipped). */
export function fill(node, ...children) {
  clear(node);
  append(node, children);
  return node;
}

/** Milliseconds since the epoch, keeping microseconds as a fraction ("...00.123456Z"). */
export function parseTime(value) {
  if (!value) return NaN;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/.exec(value);
  if (!m) return Date.parse(value);
  const base = Date.parse(m[1] + (m[3] || "Z"));
  const frac = m[2] ? Number("0." + m[2]) * 1000 : 0;
  return base + frac;
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

export function fmtClock(ms) {
  if (!Number.isFinite(ms)) return "";
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** "14:03:22.120" today, "May 1 14:03:22.120" on other days. */
export function fmtTime(value) {
  const ms = typeof value === "number" ? value : parseTime(value);
  if (!Number.isFinite(ms)) return "";
  const d = new Date(ms);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const day = sameDay ? "" : d.toLocaleDateString(undefined, { month: "short", day: "numeric", year: d.getFullYear() === today.getFullYear() ? undefined : "numeric" }) + " ";
  return day + fmtClock(ms);
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtNumber(n) {
  if (n === null || n === undefined || n === "") return "";
  if (typeof n !== "number") return String(n);
  if (Number.isInteger(n)) return n.toLocaleString();
  return n.toLocaleString(undefined, { maximumFractionDigits: 3 });
}

export function fmtPercent(rate) {
  if (!Number.isFinite(rate)) return "";
  const p = rate * 100;
  return (p === 0 || p === 100 || p >= 10 ? Math.round(p) : p.toFixed(1)) + "%";
}

export const SEVERITY = ["Verbose", "Information", "Warning", "Error", "Critical"];

export function severityBadge(level) {
  const name = SEVERITY[level] ?? "Unknown";
  return h("span", { class: `badge sev sev-${level ?? "x"}`, title: `severityLevel ${level ?? "-"}` }, name);
}

export function successBadge(success) {
  if (success === null || success === undefined) return h("span", { class: "muted" }, "–");
  return success
    ? h("span", { class: "badge ok", "aria-label": "succeeded" }, "✓ OK")
    : h("span", { class: "badge fail", "aria-label": "failed" }, "✕ Failed");
}

export function roleBadge(role) {
  if (!role) return h("span", { class: "muted" }, "–");
  return h("span", { class: "role", style: { "--role-hue": roleHue(role) } }, role);
}

// Distinct hues for role colours; red is left out because red means failure here.
const ROLE_HUES = [215, 160, 275, 32, 320, 190, 95, 250, 55, 345];

/** A stable hue per role name so a role keeps its colour across views. */
export function roleHue(role) {
  let hash = 2166136261;
  for (const ch of role || "") hash = Math.imul(hash ^ ch.charCodeAt(0), 16777619);
  return String(ROLE_HUES[(hash >>> 0) % ROLE_HUES.length]);
}

/**
 * The result of a request or dependency as a person reads it. A failed call without an answer
 * (SQL drivers and refused connections report result code 0 or none) shows the exception type
 * recorded under it when known, else "failed", instead of a red "0".
 */
export function resultText(item, exceptionType) {
  const code = item.result_code;
  if (item.success === false && (code === null || code === undefined || code === "" || code === "0")) {
    return exceptionType || "failed";
  }
  return code ?? "";
}

export function baseData(item) {
  return (item && item.envelope && item.envelope.data && item.envelope.data.baseData) || {};
}

export function firstException(item) {
  const list = baseData(item).exceptions;
  return (Array.isArray(list) && list[0]) || {};
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Pretty JSON as highlighted DOM nodes (keys, strings, numbers, literals). */
export function jsonBlock(value, attrs = {}) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  const pre = h("pre", { class: "json", ...attrs });
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0;
  for (let m; (m = re.exec(text)); ) {
    if (m.index > last) pre.append(text.slice(last, m.index));
    if (m[1]) {
      pre.append(h("span", { class: m[2] ? "j-key" : "j-str" }, m[1]));
      if (m[2]) pre.append(m[2]);
    } else if (m[3]) pre.append(h("span", { class: "j-lit" }, m[3]));
    else pre.append(h("span", { class: "j-num" }, m[4]));
    last = re.lastIndex;
  }
  pre.append(text.slice(last));
  return pre;
}

export async function copyText(text, button) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    const area = h("textarea", { style: { position: "fixed", opacity: "0" } });
    area.value = text;
    document.body.append(area);
    area.select();
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    area.remove();
  }
  if (button) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = ok ? "Copied ✓" : "Copy failed";
    setTimeout(() => { button.textContent = label; }, 1500);
  }
  return ok;
}
