"use strict";
// The paper trading page: one file, no build step. Figures are shown as the service sends them
// (exact decimal strings) with their unit; floats are used only to place things on a chart.
// Loads fills, routes and working orders on open, then follows the websocket; polls the market,
// the accounts and the PnL once a second.
const COLORS = ["#88c0d0", "#a3be8c", "#ebcb8b", "#b48ead", "#d08770", "#5e81ac", "#bf616a"];
const MAX_FILLS = 1000;
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== "") node.textContent = text;
  return node;
};
const state = { market: null, accounts: [], venueColor: {}, fillIds: new Set(), seq: 0, previewSeq: 0 };

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) { const err = new Error(data.error ? data.error.message : String(response.status)); err.detail = data.error; throw err; }
  return data;
}
const get = (path) => call("GET", path);

// -- units ----------------------------------------------------------------------------------------
const baseOf = (symbol) => symbol.split("/")[0];
const quoteOf = (symbol) => symbol.split("/")[1].split(":")[0];
const priceUnit = (symbol) => quoteOf(symbol) + "/" + baseOf(symbol);
// Trailing zeros of a decimal string dropped: the same exact value, easier to read ("20" not "20.000000000000000000").
const trim = (text) => (typeof text === "string" && /^-?\d+\.\d+$/.test(text) ? text.replace(/0+$/, "").replace(/\.$/, "") : text);
// The price protection an order trades under (router/protection.py), for people.
function protectionText(p, pu) {
  if (p.mode === "none") return "none (no limit)";
  if (p.mode === "limit") return "limit " + withUnit(p.limit_price, pu);
  return `${p.band_bps} bps band around the arrival mid ${trim(p.arrival_mid)} → limit ${withUnit(p.limit_price, pu)}`;
}
const withUnit = (value, unit) => (value === null || value === undefined ? "–" : trim(value) + " " + unit);
const utc = (tNs) => new Date(Math.floor(tNs / 1e6)).toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
const short = (n) => { // a readable axis label from a float (display only)
  const a = Math.abs(n);
  return a >= 1e6 ? (n / 1e6).toFixed(2) + "M" : a >= 1e4 ? (n / 1e3).toFixed(1) + "k" : a >= 100 ? n.toFixed(0) : a >= 1 ? n.toFixed(2) : n.toPrecision(2);
};
function niceTicks(lo, hi, count) {
  const span = Math.max(hi - lo, 1e-12), raw = span / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}
function colorOf(venue) {
  if (!(venue in state.venueColor)) state.venueColor[venue] = COLORS[Object.keys(state.venueColor).length % COLORS.length];
  return state.venueColor[venue];
}

// -- order ticket ---------------------------------------------------------------------------------
const converting = () => $("ticket").mode.value === "convert";
function ticketValues() {
  const f = $("ticket");
  if (converting()) { // a conversion: spend qty of from, or receive to_qty of to (multi-hop)
    const body = { from: f.from.value, to: f.to.value };
    const size = f.size.value.trim();
    if (size) body[f.size_unit.value] = size;
    return body;
  }
  const symbol = f.symbol.value;
  const body = { account: f.account.value, subaccount: f.subaccount.value, symbol, side: f.side.value, tif: f.tif.value };
  const size = f.size.value.trim();
  if (size) body[f.size_unit.value] = size;
  const limit = f.limit.value.trim();
  if (limit) body.limit = limit;
  if (f.no_limit.checked) body.no_limit = true;
  const venues = [...document.querySelectorAll("#t-venues input:checked")].map((i) => i.value);
  const all = document.querySelectorAll("#t-venues input").length;
  if (venues.length !== all) body.venues = venues;
  return body;
}
function clearErrors() {
  for (const e of document.querySelectorAll("#ticket .err")) e.textContent = "";
  for (const i of document.querySelectorAll("#ticket .invalid")) i.classList.remove("invalid");
}
function showError(detail, fallback) {
  clearErrors();
  const field = detail && detail.field ? detail.field.replace(/^legs\[0\]\./, "").replace(/\[\d+\]$/, "") : "";
  const box = document.querySelector(`#ticket .err[data-for="${field}"]`);
  const text = detail ? detail.message : fallback;
  if (box) {
    box.textContent = text;
    const input = { qty: "t-size", quote_qty: "t-size", to_qty: "t-size", from: "t-from", to: "t-to", limit: "t-limit", no_limit: "t-no-limit", symbol: "t-symbol", account: "t-account", subaccount: "t-subaccount", tif: "t-tif" }[field];
    if (input) $(input).classList.add("invalid");
  } else {
    $("t-error").textContent = text;
  }
}
function fillVenues() {
  const symbol = $("t-symbol").value;
  const box = $("t-venues");
  box.querySelectorAll("label").forEach((l) => l.remove());
  for (const v of state.market.venues.filter((x) => x.symbol === symbol)) {
    const label = el("label", { class: "venue" });
    const box2 = el("input", { type: "checkbox", value: v.venue, name: "venue" });
    box2.checked = true;
    label.append(box2, " " + v.venue + " ", el("small", {}, v.kind));
    box.appendChild(label);
  }
}
function fillAssets() { // the assets the spot venues convert between (a perpetual converts nothing)
  const assets = [...new Set(state.market.venues.filter((v) => !v.symbol.includes(":")).flatMap((v) => v.symbol.split("/")))].sort();
  const pick = (want, other) => (assets.includes(want) ? want : assets.find((a) => a !== other));
  $("t-from").replaceChildren(...assets.map((a) => el("option", { value: a }, a)));
  $("t-to").replaceChildren(...assets.map((a) => el("option", { value: a }, a)));
  $("t-from").value = pick("ETH", null); $("t-to").value = pick("USDC", $("t-from").value);
}
function fillUnits() {
  const symbol = $("t-symbol").value, unit = $("t-unit"), keep = unit.value || "qty";
  if (converting()) {
    unit.replaceChildren(el("option", { value: "qty" }, $("t-from").value + " (spend)"), el("option", { value: "to_qty" }, $("t-to").value + " (receive)"));
  } else {
    unit.replaceChildren(el("option", { value: "qty" }, baseOf(symbol)), el("option", { value: "quote_qty" }, quoteOf(symbol)));
  }
  unit.value = [...unit.options].some((o) => o.value === keep) ? keep : "qty";
  $("t-limit-unit").textContent = priceUnit(symbol);
}
function fillSubaccounts() {
  const account = state.accounts.find((a) => a.account === $("t-account").value);
  const sub = $("t-subaccount"), keep = sub.value;
  sub.replaceChildren(...(account ? account.subaccounts : []).map((s) => el("option", { value: s.name }, s.name)));
  if ([...sub.options].some((o) => o.value === keep)) sub.value = keep;
}
function initTicket() {
  const symbols = [...new Set(state.market.venues.map((v) => v.symbol))];
  $("t-symbol").replaceChildren(...symbols.map((s) => el("option", { value: s }, s)));
  $("t-account").replaceChildren(...state.accounts.map((a) => el("option", { value: a.account }, a.account)));
  fillAssets(); fillSubaccounts(); fillUnits(); fillVenues(); updateButton();
  const f = $("ticket");
  f.addEventListener("input", (event) => {
    if (event.target.name === "mode") setMode();
    if (event.target === $("t-from") || event.target === $("t-to")) fillUnits();
    if (event.target === $("t-symbol")) { fillUnits(); fillVenues(); }
    if (event.target === $("t-account")) fillSubaccounts();
    updateButton(); schedulePreview();
  });
  f.addEventListener("change", () => { updateButton(); schedulePreview(); });
  f.addEventListener("submit", (event) => { event.preventDefault(); submitOrder(); });
  f.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { clearErrors(); $("t-result").textContent = ""; }
    if (event.key === "Enter" && event.target.tagName === "SELECT") { event.preventDefault(); submitOrder(); }
  });
}
function setMode() {
  for (const part of document.querySelectorAll("#ticket .part")) part.hidden = part.dataset.mode !== $("ticket").mode.value;
  clearErrors(); fillUnits();
}
function updateButton() {
  const f = $("ticket"), symbol = f.symbol.value;
  $("t-submit").disabled = converting() && f.size_unit.value !== "qty";
  if (converting()) { // executed by spending exactly the size of "from"; a receive-sized one is previewed only
    const size = f.size.value.trim();
    $("t-submit").textContent = f.size_unit.value !== "qty" ? "Convert " + f.from.value + " to " + f.to.value + ": preview only (size it in " + f.from.value + " to send)"
      : "Convert " + (size ? size + " " : "") + f.from.value + " to " + f.to.value;
    $("t-submit").className = "convert"; return;
  }
  const size = f.size.value.trim();
  const unit = f.size_unit.value === "qty" ? baseOf(symbol) : quoteOf(symbol);
  const side = f.side.value === "buy" ? "Buy" : "Sell";
  const bound = f.limit.value.trim() ? (f.side.value === "buy" ? " at most " : " at least ") + f.limit.value.trim() + " " + priceUnit(symbol) : f.no_limit.checked ? " at any price" : "";
  $("t-submit").textContent = side + (size ? " " + size + " " + unit : "") + " " + symbol + bound;
  $("t-submit").className = f.side.value;
}
let previewTimer = null;
function schedulePreview() { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 200); }
async function preview() {
  const body = ticketValues();
  const box = $("preview");
  if (!body.qty && !body.quote_qty && !body.to_qty) { box.replaceChildren(el("p", { class: "muted" }, "Enter a size to see the split.")); return; }
  const params = converting() ? new URLSearchParams(body) : new URLSearchParams({ symbol: body.symbol, side: body.side, account: body.account, subaccount: body.subaccount });
  if (!converting()) for (const k of ["qty", "quote_qty", "limit", "no_limit"]) if (body[k]) params.set(k, body[k]);
  if (body.venues) params.set("venues", body.venues.join(","));
  const seq = ++state.previewSeq;
  try {
    const quote = await get("/api/quote?" + params.toString());
    if (seq !== state.previewSeq) return;
    clearErrors();
    if (quote.paths) renderPaths(quote); else renderPreview(quote);
  } catch (err) {
    if (seq !== state.previewSeq) return;
    showError(err.detail, err.message);
    box.replaceChildren(el("p", { class: "muted" }, "No preview: " + err.message));
  }
}
function renderPreview(q) {
  const base = baseOf(q.symbol), quote = quoteOf(q.symbol), pu = priceUnit(q.symbol);
  const p = q.preview, box = $("preview");
  const table = el("table", { class: "preview", "data-symbol": q.symbol, "data-side": q.side });
  table.appendChild(el("thead")).innerHTML = `<tr><th>venue</th><th>size<br>${base}</th><th>avg price<br>${pu}</th><th>${q.side === "buy" ? "pay" : "receive"}<br>${quote}</th><th>fee<br>${quote}</th><th>fixed cost<br>${quote}</th></tr>`;
  const tbody = table.appendChild(el("tbody"));
  q.legs.forEach((leg, i) => {
    const extra = p ? p.legs[i] : {};
    const tr = el("tr", { "data-venue": leg.venue });
    const swatch = el("span", { class: "swatch" }); swatch.style.background = colorOf(leg.venue);
    const name = el("td", { "data-field": "venue" }); name.append(swatch, leg.venue);
    tr.append(name, el("td", { "data-field": "qty" }, trim(leg.qty)), el("td", { "data-field": "avg_price" }, trim(leg.avg_price)),
      el("td", { "data-field": "quote_amount" }, trim(leg.quote_amount)), el("td", {}, trim(extra.fee) || "–"), el("td", {}, trim(extra.leg_cost) || "–"));
    tbody.appendChild(tr);
  });
  const dl = el("dl", { class: "summary" });
  const row = (label, value, key) => { dl.append(el("dt", {}, label), el("dd", key ? { "data-key": key } : {}, value)); };
  row("total", withUnit(q.qty, base) + (q.side === "buy" ? " for " : " receiving ") + withUnit(q.quote_amount, quote), "total");
  row("average price", withUnit(q.avg_price, pu), "avg_price");
  row("marginal price", withUnit(q.marginal_price, pu), "marginal_price");
  row("price protection", protectionText(q.protection, pu), "protection");
  if (p) row("fees · fixed costs", withUnit(p.fees, quote) + " · " + withUnit(p.fixed_costs, quote), "costs");
  const best = q.best_single_venue;
  row("best single venue", best ? best.venue + ": " + withUnit(best.quote_amount, quote) : "none can fill it alone", "best_single_venue");
  if (p) row("gain over it", p.gain_over_best_single === null ? "–" : withUnit(p.gain_over_best_single, quote) + " (" + withUnit(q.improvement_bps, "bps") + ")", "gain");
  if (!q.complete) row("unfilled", withUnit(q.unfilled_qty, base), "unfilled");
  if (p) {
    const m = p.margin;
    row("margin headroom", withUnit(m.headroom_before, m.asset) + " → " + withUnit(m.headroom_after, m.asset), "headroom");
    if (!m.accepted) row("margin check", "refused: " + m.reason, "margin_refused");
  }
  for (const note of q.notes || []) row("note", note);
  for (const warning of q.warnings || []) row("warning", warning, "warning");
  box.replaceChildren(table, dl);
  box.dataset.quote = JSON.stringify(Object.fromEntries(Object.entries(q).filter(([k]) => k !== "preview")));
}
// A conversion's multi-hop plan: each path (its assets, what it spends and receives), then its hops
// in execution order (step, venue, symbol and side as the venue sees them, amounts in and out).
function renderPaths(q) {
  const box = $("preview");
  const table = el("table", { class: "preview paths", "data-from": q.from, "data-to": q.to });
  table.appendChild(el("thead")).innerHTML = "<tr><th>step</th><th>venue</th><th>symbol · side</th><th>pay</th><th>receive</th></tr>";
  const tbody = table.appendChild(el("tbody"));
  for (const path of q.paths) {
    const head = el("tr", { class: "path", "data-path": path.assets.join(">") });
    head.appendChild(el("td", { colspan: 5 }, path.assets.join(" → ") + ": " + withUnit(path.amount_in, q.from) + " → " + withUnit(path.amount_out, q.to)));
    tbody.appendChild(head);
    for (const hop of path.hops) {
      const tr = el("tr", { class: "hop", "data-venue": hop.venue, "data-step": hop.step });
      const swatch = el("span", { class: "swatch" }); swatch.style.background = colorOf(hop.venue);
      const name = el("td", { "data-field": "venue" }); name.append(swatch, hop.venue);
      tr.append(el("td", {}, String(hop.step)), name, el("td", {}, hop.symbol + " · " + hop.side),
        el("td", { "data-field": "amount_in" }, withUnit(hop.amount_in, hop.from)), el("td", { "data-field": "amount_out" }, withUnit(hop.amount_out, hop.to)));
      tbody.appendChild(tr);
    }
  }
  const dl = el("dl", { class: "summary" });
  const row = (label, value, key) => { dl.append(el("dt", {}, label), el("dd", key ? { "data-key": key } : {}, value)); };
  row("total", withUnit(q.amount_in, q.from) + " → " + withUnit(q.amount_out, q.to), "total");
  const single = q.best_single_path, direct = q.best_direct_venue;
  row("best single path", single ? single.assets.join(" → ") + ": " + withUnit(single.amount_out, q.to) : "none", "best_single_path");
  row("best direct venue", direct ? direct.venue + ": " + withUnit(direct.amount_out, q.to) : "none", "best_direct_venue");
  row("gain over it", withUnit(q.improvement_bps, "bps"), "improvement_bps");
  const left = Object.entries(q.residual).map(([asset, amount]) => withUnit(amount, asset));
  if (left.length) row("left unconverted", left.join(", "), "residual");
  for (const note of q.notes || []) row("note", note);
  box.replaceChildren(table, dl);
  box.dataset.quote = JSON.stringify(q);
}
// A conversion's answer: status, what was spent and received (the inventory change), the hops done.
function conversionText(doc) {
  const m = doc.multihop, inv = m.inventory || {};
  const hops = m.hops.map((h) => `${h.venue} ${h.symbol} ${h.side}: ${h.status}`).join(", ");
  return [`${doc.client_id}: ${doc.status}`, `spent ${withUnit(trim((inv[m.from] || "0").replace("-", "")), m.from)} → received ${withUnit(trim(inv[m.to] || "0"), m.to)}`, hops, doc.reason].filter(Boolean).join(" · ");
}
async function submitOrder() {
  if ($("t-submit").disabled) return;
  const body = ticketValues();
  if (converting()) { const f = $("ticket"); body.account = f.account.value; body.subaccount = f.subaccount.value; }
  body.client_id = "web-" + Date.now().toString(36) + "-" + (++state.seq);
  $("t-result").textContent = ""; clearErrors();
  try {
    const doc = await call("POST", "/api/orders", body);
    if (doc.multihop) {
      $("t-result").textContent = conversionText(doc);
      $("t-result").className = doc.status === "filled" ? "ok" : "err";
      schedulePreview(); return;
    }
    const legs = doc.legs.map((l) => `${l.side} ${trim(l.filled_qty)} ${baseOf(l.symbol)} @ ${withUnit(l.avg_price, priceUnit(l.symbol))}`).join("; ");
    const guard = Object.values(doc.protection || {}).map((p) => "protection: " + protectionText(p, priceUnit(body.symbol)));
    $("t-result").textContent = [`${doc.client_id}: ${doc.status}`, legs, doc.reason, ...guard].filter(Boolean).join(" · ");
    $("t-result").className = doc.status === "rejected" ? "err" : "ok";
    loadWorking(); schedulePreview();
  } catch (err) {
    showError(err.detail, err.message);
  }
}

// -- working orders -------------------------------------------------------------------------------
async function loadWorking() {
  const data = await get("/api/orders?status=working&limit=200");
  const body = $("working").querySelector("tbody"); body.replaceChildren();
  for (const o of data.orders) {
    const r = o.request, symbol = r.symbol, limit = (o.amended || r).limit, qty = (o.amended || r).qty;
    const tr = el("tr", { "data-order": o.client_id });
    tr.append(el("td", {}, o.client_id), el("td", {}, o.subaccount), el("td", {}, symbol), el("td", { class: r.side }, r.side),
      el("td", {}, withUnit(limit, priceUnit(symbol))), el("td", {}, withUnit(qty, baseOf(symbol))),
      el("td", {}, withUnit(o.remaining_qty, baseOf(symbol))), el("td", { class: "status" }, o.status.replace("_", " ")));
    const actions = el("td", { class: "actions" });
    const amend = el("button", { type: "button", class: "amend" }, "amend");
    const cancel = el("button", { type: "button", class: "cancel" }, "cancel");
    amend.onclick = () => amendRow(tr, o, limit, qty);
    cancel.onclick = async () => {
      try { await call("DELETE", "/api/orders/" + encodeURIComponent(o.client_id)); loadWorking(); } catch (err) { actions.append(el("div", { class: "err" }, err.message)); }
    };
    actions.append(amend, cancel); tr.appendChild(actions); body.appendChild(tr);
  }
  $("working-empty").hidden = data.orders.length > 0;
}
function amendRow(tr, order, limit, qty) {
  const symbol = order.request.symbol;
  const form = el("form", { class: "amend-form" });
  const li = el("input", { name: "limit", value: limit, size: 10, "aria-label": "new limit" });
  const qi = el("input", { name: "qty", value: qty, size: 8, "aria-label": "new size" });
  const err = el("span", { class: "err" });
  form.append("limit ", li, " " + priceUnit(symbol) + "  size ", qi, " " + baseOf(symbol) + " ", el("button", { type: "submit" }, "send"), " ", err);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = {};
    if (li.value.trim() !== limit) body.limit = li.value.trim();
    if (qi.value.trim() !== qty) body.qty = qi.value.trim();
    try { await call("PATCH", "/api/orders/" + encodeURIComponent(order.client_id), body); loadWorking(); } catch (e) { err.textContent = e.message; }
  };
  form.addEventListener("keydown", (event) => { if (event.key === "Escape") loadWorking(); });
  const cell = el("td", { colspan: 9 }); cell.appendChild(form);
  const row = el("tr", { class: "amending" }); row.appendChild(cell);
  tr.after(row); li.focus();
}

// -- fills and routes -----------------------------------------------------------------------------
const esc = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// A figure and its unit; the unit may fold under the number when the column is narrow (never the
// number itself), so the table fits its panel instead of scrolling sideways.
const figureHtml = (value, unit) => (value === null || value === undefined ? "–" : `${esc(trim(value))} <span class="u">${esc(unit)}</span>`);
function fillRowHtml(f) {
  // One HTML string per row: a thousand rows render several times faster than through the DOM API.
  const base = baseOf(f.symbol), quote = quoteOf(f.symbol);
  const text = [f.fill_id, utc(f.t_ns).slice(11), f.subaccount, f.symbol, f.side].map(esc);
  const figures = [figureHtml(f.qty, base), figureHtml(f.avg_price, priceUnit(f.symbol)), figureHtml(f.quote_amount, quote), figureHtml(f.fee, quote)];
  const cells = [...text, ...figures, esc(f.venue), esc(f.client_id)];
  const tds = cells.map((c, i) => (i === 4 ? `<td class="${text[4]}">` : i >= 5 && i <= 8 ? '<td class="fig">' : "<td>") + c + "</td>").join("");
  return `<tr data-fill="${esc(f.fill_id)}" title="${esc(utc(f.t_ns))} UTC">${tds}</tr>`;
}
function addFills(fills, atTop) {
  const body = $("fills").querySelector("tbody");
  const fresh = fills.filter((f) => !state.fillIds.has(f.fill_id));
  for (const f of fresh) state.fillIds.add(f.fill_id);
  body.insertAdjacentHTML(atTop ? "afterbegin" : "beforeend", fresh.map(fillRowHtml).join(""));
  while (body.rows.length > MAX_FILLS) body.deleteRow(body.rows.length - 1);
  $("fills-count").textContent = body.rows.length + " shown, newest first";
}
async function loadFills() {
  const data = await get(`/api/fills?before=${2 ** 53}&limit=${MAX_FILLS}`);
  addFills(data.fills.reverse(), false);
}
function routeRows(r) {
  const rows = [];
  for (const leg of r.legs) {
    const tr = el("tr", { "data-order": r.client_id });
    const base = baseOf(leg.symbol);
    tr.append(el("td", {}, r.client_id), el("td", {}, leg.symbol), el("td", { class: leg.side }, leg.side),
      el("td", {}, withUnit(leg.filled_qty, base)), el("td", {}, withUnit(leg.avg_price, priceUnit(leg.symbol))));
    const split = el("td", { class: "split" });
    const total = leg.route.reduce((s, x) => s + +x.qty, 0) || 1;
    const bars = el("span", { class: "bars" });
    const byVenue = {};
    for (const part of leg.route) byVenue[part.venue] = (byVenue[part.venue] || 0) + +part.qty;
    for (const [venue, qty] of Object.entries(byVenue)) {
      const bar = el("span", { class: "bar", title: venue + " " + qty + " " + base });
      bar.style.width = Math.max(3, 140 * qty / total) + "px"; bar.style.background = colorOf(venue);
      bars.appendChild(bar);
    }
    split.append(bars, " " + leg.route.map((p) => p.venue + " " + withUnit(p.qty, base)).join(", "));
    tr.appendChild(split); rows.push(tr);
  }
  return rows;
}
function addRoute(r, atTop) {
  const body = $("routes").querySelector("tbody");
  const rows = routeRows(r);
  if (atTop) body.prepend(...rows); else body.append(...rows);
  while (body.rows.length > 40) body.deleteRow(body.rows.length - 1);
}
async function loadRoutes() {
  const data = await get("/api/routes?limit=20");
  for (const r of data.routes) addRoute(r, false);
}

// -- positions ------------------------------------------------------------------------------------
function renderAccounts(accounts) {
  const box = $("accounts"); box.replaceChildren();
  const quote = state.market ? quoteOf(state.market.venues[0].symbol) : "";
  for (const account of accounts) {
    const head = el("p", { class: "account" });
    head.append(el("b", {}, account.account), "  value " + withUnit(account.value, quote) + " · PnL ",
      el("span", { class: +account.pnl < 0 ? "neg" : "pos" }, withUnit(account.pnl, quote)));
    box.appendChild(head);
    const subs = el("table", { class: "subaccounts" });
    subs.innerHTML = `<thead><tr><th>subaccount</th><th>balances</th><th>value (${quote})</th><th>equity (${quote})</th><th>margin headroom (${quote})</th><th>maintenance margin (${quote})</th></tr></thead>`;
    const positions = el("table", { class: "positions" });
    positions.innerHTML = `<thead><tr><th>subaccount</th><th>position</th><th>size</th><th>entry price</th><th>mark price</th><th>liquidation price</th><th>distance to liquidation</th></tr></thead>`;
    const sb = subs.appendChild(el("tbody")), pb = positions.appendChild(el("tbody"));
    let count = 0;
    for (const sub of account.subaccounts) {
      const tr = el("tr", { "data-sub": sub.id });
      for (const c of [sub.name, Object.entries(sub.balances).map(([a, v]) => withUnit(v, a)).join(", "), trim(sub.value),
        trim(sub.margin.equity), trim(sub.margin.headroom), trim(sub.margin.maintenance_margin)]) tr.appendChild(el("td", {}, c));
      sb.appendChild(tr);
      for (const pos of sub.positions) {
        count += 1;
        const base = pos.symbol.split("-")[0], pu = quote + "/" + base;
        let distance = "none: no price liquidates it";
        if (pos.liquidation_price !== null && pos.liquidation_price !== undefined) {
          const gap = +pos.liquidation_price - +pos.mark; // display only
          distance = (gap >= 0 ? "+" : "") + gap.toFixed(2) + " " + pu + " (" + (gap >= 0 ? "+" : "") + (100 * gap / +pos.mark).toFixed(2) + "% of mark)";
        }
        const row = el("tr", { "data-sub": sub.id });
        [sub.name, pos.symbol, withUnit(pos.size, base), withUnit(pos.entry, pu), withUnit(pos.mark, pu), withUnit(pos.liquidation_price, pu), distance]
          .forEach((c, j) => row.appendChild(el("td", j === 5 ? { class: "liq" } : j === 6 ? { class: "distance" } : {}, c)));
        pb.appendChild(row);
      }
    }
    box.appendChild(subs);
    if (count) box.appendChild(positions); else box.appendChild(el("p", { class: "muted" }, "No open positions."));
  }
}

// -- charts ---------------------------------------------------------------------------------------
function depthChart(container, id, title, symbol, bids, asks, mid) {
  let box = document.getElementById(id);
  if (!box) {
    box = el("div", { id, class: "depth" });
    box.append(el("h3", {}, title), el("canvas", { width: 290, height: 190, "data-venue": title }));
    container.appendChild(box);
  }
  const canvas = box.querySelector("canvas"), ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 46, R = 8, T = 16, B = 34;
  ctx.fillStyle = "#161d26"; ctx.fillRect(0, 0, W, H);
  const b = bids.map(([p, q]) => [+p, +q]), a = asks.map(([p, q]) => [+p, +q]);
  const all = b.concat(a);
  // an empty book (or nothing within the sampled band) has no size scale: say so, draw no axes
  if (!all.some((x) => x[1] > 0)) {
    ctx.fillStyle = "#d8dee9"; ctx.font = "11px sans-serif";
    ctx.fillText(all.length ? "no depth within 0.5% of the mid" : "no depth", L, H / 2);
    return;
  }
  const x0 = Math.min(...all.map((x) => x[0])), x1 = Math.max(...all.map((x) => x[0]));
  const y1 = Math.max(1e-9, ...all.map((x) => x[1])) * 1.05;
  const X = (p) => L + (p - x0) / Math.max(1e-9, x1 - x0) * (W - L - R);
  const Y = (q) => H - B - q / y1 * (H - B - T);
  ctx.font = "10px sans-serif"; ctx.strokeStyle = "#3b4656"; ctx.fillStyle = "#aab4c3"; ctx.lineWidth = 1;
  for (const v of niceTicks(0, y1, 4)) {
    ctx.beginPath(); ctx.moveTo(L, Y(v) + .5); ctx.lineTo(W - R, Y(v) + .5); ctx.stroke();
    ctx.textAlign = "right"; ctx.fillText(short(v), L - 4, Y(v) + 3);
  }
  const xTicks = niceTicks(x0, x1, 4);
  let places = 0; // as many decimals as it takes for the price ticks to read differently
  while (places < 8 && new Set(xTicks.map((v) => v.toFixed(places))).size < xTicks.length) places++;
  for (const v of xTicks) {
    ctx.beginPath(); ctx.moveTo(X(v) + .5, H - B); ctx.lineTo(X(v) + .5, H - B + 4); ctx.stroke();
    ctx.textAlign = "center"; ctx.fillText(v.toFixed(places), X(v), H - B + 14);
  }
  ctx.textAlign = "center"; ctx.fillText("price (" + priceUnit(symbol) + ", all-in)", L + (W - L - R) / 2, H - 6);
  ctx.save(); ctx.translate(10, T + (H - B - T) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText("size (" + baseOf(symbol) + ")", 0, 0); ctx.restore();
  for (const [side, color] of [[b, "#a3be8c"], [a, "#bf616a"]]) {
    const pts = side.slice().sort((m, n) => m[0] - n[0]);
    if (!pts.length) continue;
    ctx.beginPath(); ctx.strokeStyle = color; ctx.fillStyle = color + "44"; ctx.lineWidth = 2;
    ctx.moveTo(X(pts[0][0]), Y(0));
    for (const [p, q] of pts) ctx.lineTo(X(p), Y(q));
    ctx.lineTo(X(pts[pts.length - 1][0]), Y(0)); ctx.closePath(); ctx.fill(); ctx.stroke();
  }
  if (mid !== null && mid !== undefined) {
    const m = +mid;
    ctx.setLineDash([4, 3]); ctx.strokeStyle = "#ebcb8b"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(X(m) + .5, T); ctx.lineTo(X(m) + .5, H - B); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#ebcb8b"; ctx.textAlign = X(m) > W - 90 ? "right" : "left";
    ctx.fillText("mid " + (+mid).toFixed(Math.max(2, places + 1)), X(m) + (X(m) > W - 90 ? -4 : 4), T + 8);
  }
  ctx.textAlign = "left"; ctx.fillStyle = "#a3be8c"; ctx.fillText("bids", L + 6, T + 22);
  ctx.fillStyle = "#bf616a"; ctx.textAlign = "right"; ctx.fillText("asks", W - R - 4, T + 22);
}
function renderMarket(market) {
  $("clock").textContent = utc(market.t_ns) + " UTC · tick " + market.tick;
  $("refs").textContent = Object.entries(market.refs).map(([s, p]) => s + " " + (+p).toFixed(2) + " " + priceUnit(s)).join("   ");
  for (const v of market.venues) depthChart($("venues"), "d-" + v.venue, v.venue + " · " + v.symbol + " · " + v.kind, v.symbol, v.bids, v.asks, v.mid);
  for (const u of market.unified) {
    const mid = u.bids.length && u.asks.length ? (+u.bids[0][0] + +u.asks[0][0]) / 2 : null;
    depthChart($("unified"), "u-" + u.symbol.replace(/[^A-Za-z0-9]/g, "_"), "unified " + u.symbol, u.symbol, u.bids, u.asks, mid);
  }
}
function renderPnl(data, quote) {
  const svg = $("pnl"), W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
  const ns = "http://www.w3.org/2000/svg", L = 70, R = 12, T = 26, B = 34;
  const add = (tag, attrs, text) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); if (text !== undefined) n.textContent = text; svg.appendChild(n); return n; };
  svg.replaceChildren();
  add("rect", { width: W, height: H, fill: "#161d26" });
  const pts = data.points.map(([t, v]) => [t, +v]);
  const last = data.points.length ? data.points[data.points.length - 1][1] : "0";
  add("text", { x: L, y: 16, fill: "#d8dee9", class: "title" }, `${data.account}: PnL since start, ${quote} (latest ${last} ${quote})`);
  if (pts.length < 2) { add("text", { x: L, y: H / 2, fill: "#aab4c3" }, "waiting for samples"); return; }
  const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
  const vs = pts.map((p) => p[1]); let lo = Math.min(0, ...vs), hi = Math.max(0, ...vs);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const X = (t) => L + (t - t0) / Math.max(1, t1 - t0) * (W - L - R);
  const Y = (v) => H - B - (v - lo) / (hi - lo) * (H - B - T);
  for (const v of niceTicks(lo, hi, 4)) {
    add("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), stroke: v === 0 ? "#6b7789" : "#2c3644" });
    add("text", { x: L - 6, y: Y(v) + 4, fill: "#aab4c3", "text-anchor": "end", "font-size": 10 }, short(v));
  }
  const spanS = (t1 - t0) / 1e9;
  for (const s of niceTicks(0, spanS, 5)) {
    const t = t0 + s * 1e9;
    add("line", { x1: X(t), x2: X(t), y1: H - B, y2: H - B + 4, stroke: "#6b7789" });
    add("text", { x: X(t), y: H - B + 16, fill: "#aab4c3", "text-anchor": "middle", "font-size": 10 }, utc(t).slice(11));
  }
  add("text", { x: L + (W - L - R) / 2, y: H - 4, fill: "#aab4c3", "text-anchor": "middle", "font-size": 10 }, "simulated time (UTC)");
  add("text", { x: 12, y: T + (H - B - T) / 2, fill: "#aab4c3", "font-size": 10, transform: `rotate(-90 12 ${T + (H - B - T) / 2})`, "text-anchor": "middle" }, "PnL (" + quote + ")");
  add("polyline", { points: pts.map(([t, v]) => X(t).toFixed(1) + "," + Y(v).toFixed(1)).join(" "), fill: "none", stroke: "#88c0d0", "stroke-width": 2, class: "pnl-line" });
}

// -- refresh and stream ---------------------------------------------------------------------------
async function refreshMarket() { state.market = await get("/api/market"); renderMarket(state.market); }
async function refreshAccounts(marketLoaded) {
  const data = await get("/api/accounts");
  await marketLoaded; // the accounts' unit is the market's quote asset: never render before it
  state.accounts = data.accounts; renderAccounts(data.accounts);
  if ($("t-account").options.length) fillSubaccounts();
}
async function refreshPnl() {
  const account = $("t-account").value || undefined;
  const data = await get("/api/pnl" + (account ? "?account=" + encodeURIComponent(account) : ""));
  renderPnl(data, state.market ? quoteOf(state.market.venues[0].symbol) : "");
}
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/stream");
  ws.onopen = () => { $("conn").textContent = "stream: live"; $("conn").className = "conn on"; };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "fill") addFills([msg.fill], true);
    else if (msg.type === "route") addRoute(msg.route, true);
    else if (msg.type === "order") loadWorking();
  };
  ws.onclose = () => { $("conn").textContent = "stream: reconnecting"; $("conn").className = "conn off"; setTimeout(connect, 2000); };
}
async function refresh() {
  try {
    const market = refreshMarket();
    await Promise.all([market, refreshAccounts(market)]);
    await refreshPnl();
  } catch (err) {
    $("clock").textContent = "error: " + err.message;
  }
}
async function start() {
  connect(); // first, so nothing between the loads and the stream is missed (fills dedup by id)
  const pnl = get("/api/pnl"); // the first account, as the ticket starts with it
  const market = refreshMarket();
  await Promise.all([market, refreshAccounts(market), loadFills(), loadRoutes(), loadWorking()]);
  initTicket();
  renderPnl(await pnl, quoteOf(state.market.venues[0].symbol));
  document.body.dataset.ready = "1";
  document.body.dataset.firstRenderMs = String(Math.round(performance.now()));
  // ... and once that frame is laid out and painted (the fills table's layout included)
  requestAnimationFrame(() => setTimeout(() => { document.body.dataset.firstPaintMs = String(Math.round(performance.now())); }, 0));
  setInterval(refresh, 1000);
}
start().catch((err) => { $("clock").textContent = "error: " + err.message; });
