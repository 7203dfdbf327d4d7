// Items the emulator refused, and why. The real service drops these silently (or answers 206
// that most SDKs only log), so this is where schema problems become visible.

import { api } from "./api.js";
import { clear, fill, copyText, fmtTime, h, jsonBlock } from "./util.js";

function pretty(raw, parsed) {
  if (parsed !== null && parsed !== undefined) return JSON.stringify(parsed, null, 2);
  return raw ?? "";
}

function guessType(rej) {
  const env = rej.envelope;
  if (!env || typeof env !== "object") return "unparseable";
  return env?.data?.baseType || env?.name || "envelope";
}

export function rejectedView(params, app) {
  const state = { items: [], maxId: 0 };
  const list = h("div", { class: "rejected-list", "data-testid": "rejected-list" });
  const empty = h("div", { class: "empty", "data-testid": "empty-state", hidden: true },
    h("p", { class: "empty-title" }, "No rejected items."),
    h("p", {}, "Every envelope sent so far passed the schema check. Items with a missing required field, a wrong type or a value over a length limit would show up here with the reason."));
  const el = h("section", { class: "view rejected-view", "data-testid": "rejected-view" },
    h("div", { class: "view-head" }, h("h2", {}, "Rejected items"),
      h("p", { class: "list-summary" }, "What the emulator refused and why, newest first. Application Insights would drop these.")),
    empty, list);

  function card(rej) {
    const text = pretty(rej.raw, rej.envelope);
    const copyBtn = h("button", { type: "button", class: "btn btn-small", onclick: () => copyText(rej.raw ?? text, copyBtn) }, "Copy raw");
    return h("article", { class: "rej", "data-testid": "rejected-row", dataset: { rejectedId: rej.id } },
      h("header", { class: "rej-head" },
        h("span", { class: "badge fail" }, String(rej.status_code)),
        h("p", { class: "rej-message", "data-testid": "rejected-message" }, rej.message),
        h("span", { class: "muted rej-meta" }, `${guessType(rej)} · item ${rej.batch_index} of its batch · `,
          h("time", { datetime: rej.received_at, title: rej.received_at }, fmtTime(rej.received_at)))),
      h("details", {},
        h("summary", {}, rej.envelope ? "Envelope as sent" : "Raw text as sent"),
        h("div", { class: "section-head" }, h("span", {}), copyBtn),
        jsonBlock(text, { "data-testid": "rejected-raw" })));
  }

  function render() {
    empty.hidden = state.items.length > 0;
    fill(list, state.items.map(card));
  }

  async function refresh() {
    const res = await api.rejected({ after_id: state.maxId || "", limit: 500 });
    if (!res.items.length) return;
    state.maxId = Math.max(state.maxId, ...res.items.map((r) => r.id));
    const seen = new Set(state.items.map((r) => r.id));
    state.items = res.items.filter((r) => !seen.has(r.id)).concat(state.items).sort((a, b) => b.id - a.id).slice(0, 1000);
    render();
  }

  render();
  empty.hidden = true;
  refresh().then(render).catch((err) => app.setError(err.message));
  return { el, refresh };
}
