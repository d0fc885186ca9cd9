"use strict";
// One page, no build step: polls the JSON API once a second and listens to the websocket.
const COLORS = ["#88c0d0", "#a3be8c", "#ebcb8b", "#b48ead", "#d08770", "#5e81ac"];
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, text = "") => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
};
async function get(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(path + " " + response.status);
  return response.json();
}

function depthChart(title, bids, asks, id) {
  // Cumulative base (y) against all-in price (x): bids green to the left, asks red to the right.
  let box = document.getElementById(id);
  if (!box) {
    box = el("div", { id, class: "depth" });
    box.appendChild(el("h3", {}, title));
    box.appendChild(el("canvas", { width: 300, height: 140, "data-venue": title }));
  }
  const canvas = box.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#161d26"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  const points = bids.map(([p, q]) => [+p, +q]).concat(asks.map(([p, q]) => [+p, +q]));
  if (!points.length) return box;
  const xs = points.map((x) => x[0]), ys = points.map((x) => x[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y1 = Math.max(1e-9, ...ys);
  const X = (p) => 4 + (p - x0) / Math.max(1e-9, x1 - x0) * (canvas.width - 8);
  const Y = (q) => canvas.height - 14 - q / y1 * (canvas.height - 20);
  for (const [side, color] of [[bids, "#a3be8c"], [asks, "#bf616a"]]) {
    ctx.beginPath(); ctx.strokeStyle = color; ctx.fillStyle = color + "55"; ctx.lineWidth = 2;
    const pts = side.map(([p, q]) => [+p, +q]).sort((a, b) => a[0] - b[0]);
    if (!pts.length) continue;
    ctx.moveTo(X(pts[0][0]), Y(0));
    for (const [p, q] of pts) ctx.lineTo(X(p), Y(q));
    ctx.lineTo(X(pts[pts.length - 1][0]), Y(0)); ctx.closePath(); ctx.fill(); ctx.stroke();
  }
  ctx.fillStyle = "#d8dee9"; ctx.font = "10px sans-serif";
  ctx.fillText(x0.toFixed(2), 2, canvas.height - 2);
  ctx.fillText(x1.toFixed(2), canvas.width - 50, canvas.height - 2);
  ctx.fillText(y1.toFixed(2) + " base", 4, 10);
  return box;
}

async function refreshMarket() {
  const market = await get("/api/market");
  $("clock").textContent = "tick " + market.tick + " · " + new Date(market.t_ns / 1e6).toISOString();
  $("refs").textContent = Object.entries(market.refs).map(([s, p]) => s + " " + (+p).toFixed(2)).join("  ");
  for (const v of market.venues) $("venues").appendChild(depthChart(v.venue + " (" + v.symbol + ", " + v.kind + ")", v.bids, v.asks, "d-" + v.venue));
  for (const u of market.unified) $("unified").appendChild(depthChart("unified " + u.symbol, u.bids, u.asks, "u-" + u.symbol.replace(/[^A-Za-z0-9]/g, "_")));
}

async function refreshAccounts() {
  const data = await get("/api/accounts");
  const box = $("accounts"); box.replaceChildren();
  for (const account of data.accounts) {
    const pnlClass = +account.pnl < 0 ? "neg" : "pos";
    const head = el("p"); head.append(el("b", {}, account.account), " value " + account.value + " · PnL ");
    head.append(el("span", { class: pnlClass }, account.pnl));
    box.appendChild(head);
    const table = el("table", { class: "positions" });
    table.innerHTML = "<tr><th>subaccount</th><th>balances</th><th>equity</th><th>headroom</th><th>position</th><th>size</th><th>entry</th><th>mark</th><th>liquidation price</th></tr>";
    for (const sub of account.subaccounts) {
      const balances = Object.entries(sub.balances).map(([a, v]) => a + " " + (+v).toFixed(4)).join(", ");
      const rows = sub.positions.length ? sub.positions : [null];
      for (const pos of rows) {
        const tr = el("tr");
        const cells = [sub.name, balances, (+sub.margin.equity).toFixed(2), "headroom " + (+sub.margin.headroom).toFixed(2),
          pos ? pos.symbol : "no positions", pos ? pos.size : "", pos ? (+pos.entry).toFixed(2) : "", pos ? pos.mark : "",
          pos ? (pos.liquidation_price === null ? "none" : pos.liquidation_price) : ""];
        for (const c of cells) tr.appendChild(el("td", {}, String(c)));
        table.appendChild(tr);
      }
    }
    box.appendChild(table);
  }
}

async function refreshPnl() {
  const data = await get("/api/pnl");
  const svg = $("pnl"), w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const bg = document.createElementNS(ns, "rect");
  bg.setAttribute("width", w); bg.setAttribute("height", h); bg.setAttribute("fill", "#161d26");
  svg.appendChild(bg);
  const pts = data.points.map(([t, v]) => [t, +v]);
  if (pts.length < 2) return;
  const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
  const vs = pts.map((p) => p[1]), lo = Math.min(0, ...vs), hi = Math.max(0, ...vs);
  const X = (t) => 30 + (t - t0) / Math.max(1, t1 - t0) * (w - 40);
  const Y = (v) => h - 10 - (v - lo) / Math.max(1e-9, hi - lo) * (h - 20);
  const zero = document.createElementNS(ns, "line");
  zero.setAttribute("x1", 30); zero.setAttribute("x2", w - 10); zero.setAttribute("y1", Y(0)); zero.setAttribute("y2", Y(0));
  zero.setAttribute("stroke", "#4c566a"); svg.appendChild(zero);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.map(([t, v]) => X(t).toFixed(1) + "," + Y(v).toFixed(1)).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#88c0d0"); line.setAttribute("stroke-width", "2");
  line.setAttribute("class", "pnl-line");
  svg.appendChild(line);
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 34); label.setAttribute("y", 14); label.setAttribute("fill", "#d8dee9");
  label.textContent = data.account + " PnL " + vs[vs.length - 1].toFixed(2);
  svg.appendChild(label);
}

async function refreshRoutes() {
  const data = await get("/api/routes?limit=10");
  const body = $("routes").querySelector("tbody"); body.replaceChildren();
  const venues = [];
  for (const r of data.routes) for (const leg of r.legs) {
    const tr = el("tr");
    for (const c of [r.client_id, leg.id + " " + leg.symbol, leg.side, leg.filled_qty, leg.avg_price || ""]) tr.appendChild(el("td", {}, c));
    const split = el("td", { class: "split" });
    const total = leg.route.reduce((s, x) => s + +x.qty, 0) || 1;
    for (const part of leg.route) {
      if (!venues.includes(part.venue)) venues.push(part.venue);
      const bar = el("span", { class: "bar", title: part.venue + " " + part.qty });
      bar.style.width = Math.max(2, 160 * +part.qty / total) + "px";
      bar.style.background = COLORS[venues.indexOf(part.venue) % COLORS.length];
      split.appendChild(bar);
    }
    split.appendChild(document.createTextNode(" " + leg.route.map((p) => p.venue + " " + p.qty).join(", ")));
    tr.appendChild(split); body.appendChild(tr);
  }
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/stream");
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "fill") {
      const f = msg.fill;
      const li = el("li", {}, `#${f.fill_id} ${f.account} ${f.side} ${f.qty} ${f.symbol} on ${f.venue} @ ${f.avg_price}`);
      $("fills").prepend(li);
    }
  };
  ws.onclose = () => setTimeout(connect, 2000);
}

async function refresh() {
  try {
    await Promise.all([refreshMarket(), refreshAccounts(), refreshPnl(), refreshRoutes()]);
    document.body.dataset.ready = "1";
  } catch (err) {
    $("clock").textContent = "error: " + err.message;
  }
}
refresh();
setInterval(refresh, 1000);
connect();
