// PiiAspire dashboard pages: each page shell names itself in <body data-page>, this file fills it from the JSON API.
// All text goes through textContent (never innerHTML), so telemetry cannot inject markup.
"use strict";

const page = document.body.dataset.page;
const arg = document.body.dataset.arg;
const content = document.getElementById("content");
const toolbar = document.getElementById("toolbar");

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.substring(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) { location.href = "/login"; throw new Error("not logged in"); }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function poll(render, intervalMs) {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try { await render(); } catch (e) { console.error(e); } finally { running = false; }
  };
  tick();
  setInterval(tick, intervalMs);
}

function query(name) { return new URLSearchParams(location.search).get(name) || ""; }

function setQuery(values) {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(values)) { if (value) params.set(key, value); else params.delete(key); }
  history.replaceState(null, "", `${location.pathname}${params.toString() ? "?" + params : ""}`);
}

function time(iso) { return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) + "." + String(new Date(iso).getMilliseconds()).padStart(3, "0") : ""; }
function dateTime(iso) { return iso ? new Date(iso).toLocaleString([], { hour12: false }) : ""; }
function duration(ms) { return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`; }

// Distinct colours, handed out in name order of the services known at page load, so two services on one page
// never share a colour and a service keeps its colour across pages; names that appear later hash into the palette.
const PALETTE = ["#0f6cbd", "#c239b3", "#107c10", "#ca5010", "#5c2e91", "#038387", "#a4262c", "#8764b8", "#498205", "#986f0b"];
const colours = new Map();

function serviceColour(name) {
  if (!colours.has(name)) {
    let hash = 2166136261;
    for (const c of name) hash = Math.imul(hash ^ c.charCodeAt(0), 16777619) >>> 0;
    colours.set(name, PALETTE[hash % PALETTE.length]);
  }
  return colours.get(name);
}

async function loadColours() {
  try {
    const names = await api("/api/services");
    names.forEach((name, i) => colours.set(name, PALETTE[i % PALETTE.length]));
  } catch (e) { console.error(e); }
}

function serviceBadge(name) {
  const badge = el("span", { class: "badge service", text: name });
  badge.style.background = serviceColour(name);
  return badge;
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map(h => el("th", { text: h })))), el("tbody", {}, rows));
}

function replace(node) { content.replaceChildren(node); }

async function serviceFilter(onChange) {
  const select = el("select", { id: "service-filter", onchange: () => onChange(select.value) }, el("option", { value: "", text: "All services" }));
  for (const name of await api("/api/services")) select.append(el("option", { value: name, text: name }));
  select.value = query("service");
  return select;
}

// ---- Resources -------------------------------------------------------------------------------------------------
function renderResources() {
  poll(async () => {
    const resources = await api("/api/resources");
    if (resources.length === 0) { replace(el("p", { class: "muted", text: "No resources." })); return; }
    replace(table(["Name", "Type", "State", "Start time", "PID", "Restarts", "Endpoints", "Logs"], resources.map(r =>
      el("tr", { id: `resource-${r.name}` },
        el("td", {}, el("strong", { text: r.name })),
        el("td", { text: r.type }),
        el("td", { class: "nowrap" },
          el("span", { class: `badge state-${r.state}`, text: r.state }),
          r.state === "Running" ? el("span", { class: `badge health-${r.health}`, text: r.health }) : null,
          r.exitCode !== null && r.exitCode !== undefined ? el("span", { class: "muted", text: ` exit ${r.exitCode}` }) : null,
          r.stateMessage ? el("div", { class: "muted", text: r.stateMessage }) : null),
        el("td", { class: "nowrap", text: dateTime(r.startTime) }),
        el("td", { class: "num", text: r.pid ?? "" }),
        el("td", { class: "num", text: r.restartCount }),
        el("td", { class: "endpoints" }, r.endpoints.map(url => el("a", { href: url, target: "_blank", rel: "noopener", text: url }))),
        el("td", { class: "nowrap" },
          el("a", { href: `/console/${encodeURIComponent(r.name)}`, text: "Console" }), " · ",
          el("a", { href: `/logs?service=${encodeURIComponent(r.name)}`, text: "Structured" }), " · ",
          el("a", { href: `/traces?service=${encodeURIComponent(r.name)}`, text: "Traces" }))))));
  }, 2000);
}

// ---- Console logs (server-sent events, ANSI colours) -----------------------------------------------------------
const ANSI = /\u001b\[([0-9;]*)([A-Za-z])/g;

function ansiLine(text, isError) {
  const line = el("div", { class: isError ? "stderr" : "" });
  let classes = [];
  let last = 0;
  const flush = (upTo) => {
    if (upTo > last) line.append(classes.length ? el("span", { class: classes.join(" "), text: text.substring(last, upTo) }) : text.substring(last, upTo));
  };
  for (const match of text.matchAll(ANSI)) {
    flush(match.index);
    last = match.index + match[0].length;
    if (match[2] !== "m") continue;
    for (const code of (match[1] || "0").split(";").map(Number)) {
      if (code === 0) classes = [];
      else if (code === 1) classes.push("ansi-bold");
      else if (code === 22) classes = classes.filter(c => c !== "ansi-bold");
      else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) classes = classes.filter(c => !c.startsWith("ansi-fg")).concat(`ansi-fg-${code}`);
      else if (code === 39) classes = classes.filter(c => !c.startsWith("ansi-fg"));
      else if (code >= 40 && code <= 47) classes = classes.filter(c => !c.startsWith("ansi-bg")).concat(`ansi-bg-${code}`);
      else if (code === 49) classes = classes.filter(c => !c.startsWith("ansi-bg"));
    }
  }
  flush(text.length);
  return line;
}

function renderConsole() {
  const output = el("pre", { class: "console", id: "console" });
  const status = el("span", { class: "muted", text: "connecting…" });
  toolbar.append(el("a", { href: "/", text: "← Resources" }), status);
  replace(output);
  const source = new EventSource(`/api/resources/${encodeURIComponent(arg)}/console/stream`);
  // Every (re)connection replays the resource's buffered lines first, so start from an empty view each time.
  source.onopen = () => { status.textContent = "live"; output.replaceChildren(); };
  source.onerror = () => { status.textContent = "disconnected, retrying…"; };
  source.onmessage = (event) => {
    const line = JSON.parse(event.data);
    const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
    output.append(ansiLine(line.text, line.isError));
    while (output.childElementCount > 5000) output.firstElementChild.remove();
    if (atBottom) output.scrollTop = output.scrollHeight;
  };
}

// ---- Traces ----------------------------------------------------------------------------------------------------
async function renderTraces() {
  let service = query("service");
  let text = query("q");
  const search = el("input", { type: "search", id: "trace-search", placeholder: "Filter by name or trace id", value: text });
  const select = await serviceFilter(value => { service = value; setQuery({ service, q: text }); refresh(); });
  search.addEventListener("input", () => { text = search.value; setQuery({ service, q: text }); refresh(); });
  toolbar.append(select, search);
  async function refresh() {
    const params = new URLSearchParams({ limit: "200" });
    if (service) params.set("service", service);
    if (text) params.set("q", text);
    const traces = await api(`/api/traces?${params}`);
    if (traces.length === 0) { replace(el("p", { class: "muted", text: "No traces yet." })); return; }
    replace(table(["Time", "Name", "Services", "Spans", "Duration", "Status"], traces.map(t =>
      el("tr", { class: "clickable trace-row", "data-trace-id": t.traceId, onclick: () => { location.href = `/traces/${t.traceId}`; } },
        el("td", { class: "nowrap", text: time(t.startTime) }),
        el("td", {}, el("a", { href: `/traces/${t.traceId}` }, el("strong", { text: `${t.rootService}: ` }), t.rootName)),
        el("td", {}, t.services.map(serviceBadge)),
        el("td", { class: "num", text: t.spanCount }),
        el("td", { class: "num", text: duration(t.durationMs) }),
        el("td", {}, t.hasError ? el("span", { class: "badge error-badge", text: "Error" }) : el("span", { class: "muted", text: "OK" }))))));
  }
  poll(refresh, 3000);
}

function orderSpans(spans) {
  const byParent = new Map();
  const ids = new Set(spans.map(s => s.spanId));
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : "";
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push(span);
  }
  const ordered = [];
  const visit = (parent, depth) => {
    for (const span of (byParent.get(parent) || []).sort((a, b) => a.offsetMs - b.offsetMs)) {
      ordered.push({ span, depth });
      visit(span.spanId, depth + 1);
    }
  };
  visit("", 0);
  return ordered;
}

function attributeTable(attributes) {
  const keys = Object.keys(attributes || {}).sort();
  if (keys.length === 0) return el("p", { class: "muted", text: "No attributes." });
  return el("table", {}, el("tbody", {}, keys.map(k => el("tr", {}, el("td", { text: k }), el("td", { text: attributes[k] })))));
}

function spanDetails(span) {
  return el("div", { class: "details", id: "span-details" },
    el("h2", {}, serviceBadge(span.service), ` ${span.name}`),
    el("p", { class: "muted", text: `${span.kind} span ${span.spanId} · ${duration(span.durationMs)} · scope ${span.scope || "-"}${span.statusMessage ? " · " + span.statusMessage : ""}` }),
    el("h2", { text: "Attributes" }), attributeTable(span.attributes),
    el("h2", { text: `Events (${span.events.length})` }),
    span.events.length === 0 ? el("p", { class: "muted", text: "No events." }) :
      span.events.map(e => el("div", {}, el("p", {}, el("strong", { text: e.name }), el("span", { class: "muted", text: ` at +${duration(e.offsetMs)}` })), attributeTable(e.attributes))));
}

async function renderTrace() {
  let selected = null;
  let shownCount = -1;
  toolbar.append(el("a", { href: "/traces", text: "← Traces" }), el("a", { href: `/logs?traceId=${encodeURIComponent(arg)}`, text: "Logs of this trace" }));
  poll(async () => {
    const trace = await api(`/api/traces/${encodeURIComponent(arg)}`);
    if (trace.spans.length === shownCount) return;
    shownCount = trace.spans.length;
    const services = [...new Set(trace.spans.map(s => s.service))];
    document.getElementById("title").textContent = `Trace ${trace.traceId}`;
    const total = Math.max(trace.durationMs, 0.001);
    const details = el("div");
    const rows = orderSpans(trace.spans).map(({ span, depth }) => {
      const bar = el("div", { class: `wf-bar${span.hasError ? " error" : ""}` });
      bar.style.left = `${(span.offsetMs / total) * 100}%`;
      bar.style.width = `${Math.max((span.durationMs / total) * 100, 0.2)}%`;
      bar.style.background = serviceColour(span.service);
      const label = el("span", { class: "wf-time", text: duration(span.durationMs) });
      label.style.left = `${Math.min(((span.offsetMs + span.durationMs) / total) * 100, 100)}%`;
      const name = el("div", { class: "wf-name" }, serviceBadge(span.service), " ", span.name);
      name.style.paddingLeft = `${10 + depth * 18}px`;
      const row = el("div", { class: "wf-row span-row", "data-span-id": span.spanId, "data-service": span.service }, name, el("div", { class: "wf-track" }, bar, label));
      row.addEventListener("click", () => {
        selected = span.spanId;
        for (const r of document.querySelectorAll(".wf-row.selected")) r.classList.remove("selected");
        row.classList.add("selected");
        details.replaceChildren(spanDetails(span));
      });
      if (selected === span.spanId) { row.classList.add("selected"); details.replaceChildren(spanDetails(span)); }
      return row;
    });
    replace(el("div", {},
      el("p", { class: "muted" }, `${trace.spans.length} spans · ${duration(trace.durationMs)} · started ${dateTime(trace.startTime)} · `, services.map(serviceBadge)),
      el("div", { class: "waterfall", id: "waterfall" },
        el("div", { class: "wf-row wf-head" }, el("div", { class: "wf-name", text: "Span" }), el("div", { class: "wf-name", text: "Timeline" })),
        rows),
      details));
  }, 3000);
}

// ---- Structured logs -------------------------------------------------------------------------------------------
async function renderLogs() {
  let service = query("service");
  let level = query("level");
  let text = query("q");
  const traceId = query("traceId");
  const select = await serviceFilter(value => { service = value; update(); });
  const levels = el("select", { id: "level-filter", onchange: () => { level = levels.value; update(); } },
    ["", "Trace", "Debug", "Information", "Warning", "Error", "Critical"].map(l => el("option", { value: l, text: l || "All levels" })));
  levels.value = level;
  const search = el("input", { type: "search", id: "log-search", placeholder: "Filter messages", value: text });
  search.addEventListener("input", () => { text = search.value; update(); });
  toolbar.append(select, levels, search, traceId ? el("span", { class: "badge", text: `trace ${traceId}` }) : null);
  const expanded = new Set();
  function update() { setQuery({ service, level, q: text, traceId }); refresh(); }
  async function refresh() {
    const params = new URLSearchParams({ limit: "500" });
    if (service) params.set("service", service);
    if (level) params.set("level", level);
    if (text) params.set("q", text);
    if (traceId) params.set("traceId", traceId);
    const logs = await api(`/api/logs?${params}`);
    if (logs.length === 0) { replace(el("p", { class: "muted", text: "No log records yet." })); return; }
    const rows = [];
    for (const log of logs) {
      const row = el("tr", { class: "clickable log-row" },
        el("td", { class: "nowrap", text: time(log.time) }),
        el("td", {}, serviceBadge(log.service)),
        el("td", {}, el("span", { class: `badge level-${log.level}`, text: log.level })),
        el("td", { text: log.message }),
        el("td", { class: "nowrap" }, log.traceId ? el("a", { href: `/traces/${log.traceId}`, onclick: e => e.stopPropagation(), text: log.traceId.substring(0, 8) }) : ""));
      rows.push(row);
      const detail = el("tr", {}, el("td", { colspan: "5" }, el("div", { class: "muted", text: log.category }), attributeTable(log.attributes)));
      detail.hidden = !expanded.has(log.id);
      row.addEventListener("click", () => { detail.hidden = !detail.hidden; if (detail.hidden) expanded.delete(log.id); else expanded.add(log.id); });
      rows.push(detail);
    }
    replace(table(["Time", "Service", "Level", "Message", "Trace"], rows));
  }
  poll(refresh, 3000);
}

// ---- Metrics ---------------------------------------------------------------------------------------------------
function chart(points) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 300 60");
  svg.setAttribute("preserveAspectRatio", "none");
  if (points.length > 1) {
    const values = points.map(p => p.value);
    const min = Math.min(...values), max = Math.max(...values);
    const span = max - min || 1;
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.map((p, i) => `${(i / (points.length - 1)) * 300},${56 - ((p.value - min) / span) * 52}`).join(" "));
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(line);
  }
  return svg;
}

function formatValue(value, unit) {
  if (value === null || value === undefined) return "–";
  const abs = Math.abs(value);
  const text = abs !== 0 && (abs < 0.01 || abs >= 1e6) ? value.toExponential(2) : Number(value.toFixed(abs < 10 ? 3 : 1)).toLocaleString();
  return unit ? `${text} ${unit.replace(/^\{(.*)\}$/, "$1")}` : text;
}

async function renderMetrics() {
  let service = query("service");
  toolbar.append(await serviceFilter(value => { service = value; setQuery({ service }); refresh(); }));
  async function refresh() {
    const metrics = await api(`/api/metrics${service ? "?service=" + encodeURIComponent(service) : ""}`);
    if (metrics.length === 0) { replace(el("p", { class: "muted", text: "No metrics yet." })); return; }
    const groups = new Map();
    for (const m of metrics) {
      const key = m.instanceId ? `${m.service} (${m.instanceId})` : m.service;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(m);
    }
    replace(el("div", {}, [...groups.entries()].map(([name, list]) => el("section", {},
      el("h2", {}, serviceBadge(name)),
      el("div", { class: "cards" }, list.map(m => el("div", { class: "card metric-card", title: m.description },
        el("div", {}, el("strong", { text: m.name })),
        el("div", { class: "meter", text: `${m.meter} · ${m.kind}` }),
        el("div", { class: "value", text: (m.kind === "histogram" ? "mean " : "") + formatValue(m.latest, m.unit) }),
        chart(m.points))))))));
  }
  poll(refresh, 5000);
}

const pages = { resources: renderResources, console: renderConsole, traces: renderTraces, trace: renderTrace, logs: renderLogs, metrics: renderMetrics };
loadColours().then(() => pages[page]?.());
