// The catalog's live dashboard: polls the catalog, draws small SVG charts. No library.
// Product data comes through the catalog (/dashboard/api/products/<urn>/data), which
// fetches it from the product's registered REST port; see docs/dashboard.md.
"use strict";

(() => {
  const POLL_MS = Number(document.body.dataset.pollMs) || 2000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const seenAlerts = new Set();
  let firstAlertsPoll = true;
  let polls = 0;

  // -- small helpers -----------------------------------------------------------------

  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (value) => String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
  const num = (value) => (value === null || value === undefined ? null : Number(value));
  const fmt = (value, digits = 0) =>
    value === null || Number.isNaN(value)
      ? "–"
      : value.toLocaleString("en", { maximumFractionDigits: digits });
  const clock = (iso) =>
    iso ? new Date(iso).toLocaleTimeString("en-GB", { hour12: false }) : "–";
  const stamp = (iso) => {
    if (!iso) return "–";
    const d = new Date(iso);
    return `${d.toLocaleDateString("en-GB", { day: "2-digit", month: "short" })} ${clock(iso)}`;
  };
  const ago = (iso) => {
    if (!iso) return "never";
    const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    return s < 90 ? `${Math.round(s)} s ago` : `${Math.round(s / 60)} min ago`;
  };

  async function getJson(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (err) {
      throw new Error(`the catalog does not answer (${err.message})`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const title = (body && body.title) || `HTTP ${response.status}`;
      throw new Error(body && body.detail ? `${title}: ${body.detail}` : title);
    }
    return body;
  }

  function setStatus(panel, text, failed) {
    panel.querySelector(".status").textContent = text;
    panel.classList.toggle("failed", Boolean(failed));
  }

  // Each panel fails on its own: the others, and the next poll, carry on.
  async function refresh(panel, url, render) {
    let body;
    try {
      body = await getJson(url);
    } catch (err) {
      const since = panel.dataset.updatedAt ? `; showing data from ${panel.dataset.updatedAt}` : "";
      setStatus(panel, `${err.message}${since}`, true);
      return;
    }
    try {
      const summary = render(panel, body);
      panel.dataset.updatedAt = clock(new Date().toISOString());
      setStatus(panel, `${summary} · updated ${panel.dataset.updatedAt}`, false);
    } catch (err) {
      console.error(`dashboard: cannot show ${panel.id}`, err);
      setStatus(panel, `cannot show this data: ${err.message}`, true);
    }
  }

  function refreshProduct(panel, render) {
    const query = panel.dataset.query ? `?${panel.dataset.query}` : "";
    const url = `/dashboard/api/products/${encodeURIComponent(panel.dataset.urn)}/data${query}`;
    return refresh(panel, url, (p, envelope) => {
      const page = envelope.data;
      p.dataset.asOf = page.as_of || "";
      p.dataset.count = String(page.count);
      const fresh = page.freshness_ms === null ? "" : ` · freshness ${fmt(page.freshness_ms / 1000, 1)} s`;
      p.querySelector(".source").textContent = `from ${envelope.source} in ${envelope.elapsed_ms} ms`;
      return `${render(p, page)} · as of ${clock(page.as_of)}${fresh}`;
    });
  }

  // -- a horizontal bar chart ------------------------------------------------------------

  // rows: [{label, segments: [{value, cls, title}], marker, markerTitle, text, attrs}]
  function barChart(rows, { max, width = 560, label = 120, ticks = [], tickText = String }) {
    const ROW = 16;
    const GAP = 5;
    const right = 84;
    const plot = width - label - right;
    const scale = max > 0 ? max : 1;
    const x = (v) => label + (Math.max(0, Math.min(v, scale)) / scale) * plot;
    const axisY = rows.length * (ROW + GAP) + 2;
    const height = axisY + (ticks.length ? 16 : 0);
    let svg = `<svg class="chart" xmlns="${SVG_NS}" viewBox="0 0 ${width} ${height}" role="img">`;
    rows.forEach((row, i) => {
      const y = i * (ROW + GAP);
      svg += `<g class="row" ${row.attrs || ""}>`;
      svg += `<text class="label" x="${label - 6}" y="${y + ROW - 4}" text-anchor="end">${esc(row.label)}</text>`;
      let start = 0;
      for (const seg of row.segments) {
        const value = Math.max(0, seg.value || 0);
        const w = x(start + value) - x(start);
        svg += `<rect class="${seg.cls}" x="${x(start).toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${ROW}"><title>${esc(seg.title)}</title></rect>`;
        start += value;
      }
      if (row.marker !== null && row.marker !== undefined) {
        const mx = x(row.marker).toFixed(1);
        svg += `<line class="threshold" x1="${mx}" x2="${mx}" y1="${y - 2}" y2="${y + ROW + 2}"><title>${esc(row.markerTitle)}</title></line>`;
      }
      svg += `<text class="value" x="${(x(start) + 4).toFixed(1)}" y="${y + ROW - 4}">${esc(row.text)}</text></g>`;
    });
    for (const tick of ticks) {
      const tx = x(tick).toFixed(1);
      svg += `<line class="tick" x1="${tx}" x2="${tx}" y1="0" y2="${axisY}"/>`;
      svg += `<text class="tick" x="${tx}" y="${axisY + 12}" text-anchor="middle">${esc(tickText(tick))}</text>`;
    }
    return `${svg}</svg>`;
  }

  // -- the panels ----------------------------------------------------------------------

  function inventory(panel, page) {
    const byWarehouse = new Map();
    let max = 0;
    for (const item of page.items) {
      if (!byWarehouse.has(item.warehouse)) byWarehouse.set(item.warehouse, []);
      byWarehouse.get(item.warehouse).push(item);
      max = Math.max(max, num(item.on_hand) || 0, num(item.risk_threshold) || 0);
    }
    let html = "";
    let atRisk = 0;
    for (const [warehouse, items] of [...byWarehouse].sort((a, b) => a[0].localeCompare(b[0]))) {
      const onHand = items.reduce((sum, i) => sum + (num(i.on_hand) || 0), 0);
      const available = items.reduce((sum, i) => sum + (num(i.available) || 0), 0);
      const risky = items.filter((i) => i.at_risk).length;
      atRisk += risky;
      const rows = items.map((i) => ({
        label: i.sku,
        attrs: `data-warehouse="${esc(i.warehouse)}" data-sku="${esc(i.sku)}" data-on-hand="${esc(i.on_hand)}"`,
        segments: [
          { value: num(i.available), cls: i.at_risk ? "at-risk" : "available", title: `${i.sku}: ${i.available} ${i.unit} available${i.at_risk ? ", at risk of stock-out" : ""}` },
          { value: num(i.reserved), cls: "reserved", title: `${i.sku}: ${i.reserved} ${i.unit} reserved` },
        ],
        marker: num(i.risk_threshold),
        markerTitle: `risk threshold ${fmt(num(i.risk_threshold), 1)} (daily demand ${i.daily_demand} × lead time ${i.lead_time_days} d + safety stock ${i.safety_stock})`,
        text: `${fmt(num(i.on_hand))}${i.stock_out_on ? ` · out ${i.stock_out_on}` : ""}`,
      }));
      html += `<div class="warehouse" data-warehouse="${esc(warehouse)}"><h3>${esc(warehouse)} <small>on hand ${fmt(onHand)} · available ${fmt(available)}${risky ? ` · <span class="bad">${risky} at risk</span>` : ""}</small></h3>`;
      html += barChart(rows, { max }) + "</div>";
    }
    const legend =
      `<p class="legend"><span class="key available"></span>available ` +
      `<span class="key at-risk"></span>available, at risk of stock-out ` +
      `<span class="key reserved"></span>reserved <span class="key threshold"></span>risk threshold</p>`;
    panel.querySelector(".body").innerHTML = html ? legend + html : `<p class="empty">No stock materialized yet.</p>`;
    return `${page.count} SKU×warehouse, ${atRisk} at risk`;
  }

  function suppliers(panel, page) {
    const rows = page.items.map((s) => {
      const figures = s.window.receipts ? s.window : s.all_time;
      const rate = num(figures.on_time_rate);
      const pct = rate === null ? 0 : rate * 100;
      const cls = rate === null ? "unknown" : pct >= 90 ? "good" : pct >= 75 ? "warn" : "bad";
      const scope = figures === s.window ? `last ${s.window_days} d` : "all time";
      return {
        label: s.name || s.supplier,
        attrs: `data-supplier="${esc(s.supplier)}" data-on-time-rate="${esc(figures.on_time_rate)}"`,
        segments: [{ value: pct, cls, title: `${s.supplier}: ${figures.on_time}/${figures.receipts} receipts on time (${scope})` }],
        text: rate === null ? "no receipt" : `${fmt(pct, 0)} % of ${figures.receipts}`,
      };
    });
    panel.querySelector(".body").innerHTML = rows.length
      ? barChart(rows, { max: 100, width: 420, label: 150, ticks: [0, 50, 75, 90, 100], tickText: (t) => `${t}%` })
      : `<p class="empty">No receipt yet.</p>`;
    return `${page.count} suppliers`;
  }

  function alerts(panel, page) {
    const items = [...page.items].sort((a, b) => b.raised_at.localeCompare(a.raised_at));
    const active = items.filter((a) => a.active).length;
    const rows = items.map((a) => {
      const isNew = !firstAlertsPoll && !seenAlerts.has(a.alert_id);
      seenAlerts.add(a.alert_id);
      const details = Object.entries(a.details || {})
        .filter(([, v]) => v !== null && v !== "")
        .slice(0, 4)
        .map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`)
        .join(" · ");
      const state = a.active ? "active" : `cleared ${clock(a.cleared_at)}`;
      return `<li class="alert ${a.active ? "active" : "cleared"} ${esc(a.severity)}${isNew ? " new" : ""}" data-alert-id="${esc(a.alert_id)}" data-type="${esc(a.type)}">
<span class="when">${clock(a.raised_at)}</span>
<span class="what">${esc(a.type.replaceAll("_", " "))} <b>${esc(a.subject)}</b></span>
<span class="state">${esc(a.severity)} · ${esc(state)}</span>
<span class="details">${esc(details)}</span></li>`;
    });
    firstAlertsPoll = false;
    panel.querySelector(".body").innerHTML = rows.length
      ? `<ul class="alerts">${rows.join("")}</ul>`
      : `<p class="empty">No alert has fired.</p>`;
    return `${active} active, ${items.length - active} cleared`;
  }

  function delay(minutes) {
    if (minutes === null || minutes === undefined) return `<td class="delay">–</td>`;
    const cls = minutes > 0 ? "bad" : "good";
    return `<td class="delay ${cls}">${minutes > 0 ? "+" : ""}${esc(minutes)} min</td>`;
  }

  function timelines(panel, page) {
    const latest = [...page.items].sort((a, b) => b.as_of.localeCompare(a.as_of)).slice(0, 8);
    let rows = "";
    for (const t of latest) {
      const legs = t.legs.length ? t.legs : [null];
      legs.forEach((leg, i) => {
        rows += `<tr data-shipment="${esc(t.shipment_id)}">`;
        if (i === 0) {
          const span = `rowspan="${legs.length}"`;
          const late = t.delay_minutes > 0 ? ` <span class="bad">+${esc(t.delay_minutes)} min</span>` : "";
          rows += `<td ${span}><b>${esc(t.shipment_id)}</b><br><small>${esc(t.account)} · ${esc(t.warehouse)}</small></td>`;
          rows += `<td ${span} class="status-${esc(t.status)}">${esc(t.status.replaceAll("_", " "))}${late}<br><small>planned ${stamp(t.planned_delivery)}${t.delivered_at ? `, delivered ${stamp(t.delivered_at)}` : t.eta ? `, eta ${stamp(t.eta)}` : ""}</small></td>`;
        }
        if (leg === null) {
          rows += `<td colspan="5" class="empty">no leg planned</td></tr>`;
          return;
        }
        rows += `<td>${esc(leg.sequence)}. ${esc(leg.origin)} → ${esc(leg.destination)}<br><small>${esc(leg.carrier)}</small></td>`;
        rows += `<td>${stamp(leg.planned_departure)}<br>${stamp(leg.planned_arrival)}</td>`;
        rows += `<td>${stamp(leg.departed_at)}<br>${stamp(leg.arrived_at)}</td>`;
        rows += delay(leg.departure_delay_minutes) + delay(leg.arrival_delay_minutes) + "</tr>";
      });
    }
    panel.querySelector(".body").innerHTML = rows
      ? `<table class="timelines"><thead><tr><th>Shipment</th><th>Status</th><th>Leg</th><th>Planned departure / arrival</th><th>Actual departure / arrival</th><th>Departure</th><th>Arrival</th></tr></thead><tbody>${rows}</tbody></table>`
      : `<p class="empty">No shipment yet.</p>`;
    const late = page.items.filter((t) => t.delay_minutes > 0).length;
    return `${page.count} shipments, ${late} late; the ${latest.length} most recently changed shown`;
  }

  // The SLO status the catalog gives, whichever shape it has; else judged from its SLOs.
  function sloStatus(product) {
    if (typeof product.slo_status === "string") return product.slo_status;
    if (product.slo && typeof product.slo.status === "string") return product.slo.status;
    const judged = (product.slos || []).filter((s) => s.met !== null && s.met !== undefined);
    if (!judged.length) return (product.slos || []).length ? "unknown" : "no objective";
    return judged.every((s) => s.met) ? "met" : "breached";
  }

  function catalog(panel, page) {
    const rows = page.items.map((p) => {
      const status = sloStatus(p);
      const beat = p.heartbeat
        ? `${esc(p.heartbeat.status)}<br><small>${ago(p.heartbeat.received_at)}</small>`
        : `<span class="muted">no heartbeat</span>`;
      const slos = (p.slos || [])
        .map((s) => {
          const cls = s.met === true ? "good" : s.met === false ? "bad" : "unknown";
          const value = s.value === null || s.value === undefined ? "no value" : fmt(s.value, 4);
          return `<span class="chip ${cls}" title="${esc(s.description)}">${esc(s.sli)} ${esc(value)} (${esc(s.objective)})</span>`;
        })
        .join(" ");
      return `<tr data-urn="${esc(p.urn)}" data-slo-status="${esc(status)}">
<td><a href="/api/v1/products/${esc(p.urn)}">${esc(p.name)}</a><br><small>${esc(p.urn)}</small></td>
<td>${esc(p.domain)}</td><td>${esc(p.owner)}</td><td>${esc(p.status)} ${esc(p.version)}</td>
<td>${beat}</td><td><span class="slo ${esc(status.replaceAll(" ", "-"))}">${esc(status)}</span> ${slos}</td></tr>`;
    });
    panel.querySelector(".body").innerHTML = rows.length
      ? `<table class="products"><thead><tr><th>Product</th><th>Domain</th><th>Owner</th><th>Status</th><th>Heartbeat</th><th>SLOs</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
      : `<p class="empty">No product has registered yet.</p>`;
    return `${page.total} products`;
  }

  async function lineage(panel) {
    let text;
    try {
      const response = await fetch(panel.dataset.source, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
    } catch (err) {
      setStatus(panel, `cannot load the lineage (${err.message})`, true);
      return;
    }
    // Drawn by the catalog from what products registered; replaced only when it changes.
    if (text !== panel.dataset.svg) {
      panel.querySelector(".body").innerHTML = text;
      panel.dataset.svg = text;
    }
    setStatus(panel, `topics and systems on the left, the products that read them to the right; dashed: through an anti-corruption layer · updated ${clock(new Date().toISOString())}`, false);
  }

  // Any product: its rows' own fields (the freshness fields aside), the first 50 rows.
  const FRESHNESS = new Set(["as_of", "materialized_at", "freshness_ms"]);
  const MAX_COLUMNS = 8;
  const MAX_ROWS = 50;

  function table(panel, page) {
    const items = page.items || [];
    const columns = items.length
      ? Object.keys(items[0]).filter((key) => !FRESHNESS.has(key)).slice(0, MAX_COLUMNS)
      : [];
    const cell = (value) => (value !== null && typeof value === "object" ? JSON.stringify(value) : value);
    const head = columns.map((c) => `<th>${esc(c)}</th>`).join("");
    const rows = items
      .slice(0, MAX_ROWS)
      .map((item) => `<tr>${columns.map((c) => `<td>${esc(cell(item[c]))}</td>`).join("")}</tr>`)
      .join("");
    panel.querySelector(".body").innerHTML = items.length
      ? `<table class="rows"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`
      : `<p class="empty">No rows materialized yet.</p>`;
    return `${page.count} row(s)`;
  }

  // -- the poll loop ---------------------------------------------------------------------

  const panel = (id) => document.getElementById(id);
  // How each panel kind of the manifests is drawn; an unknown kind as a table.
  const RENDERERS = { inventory, suppliers, alerts, timelines, table };

  async function poll() {
    const started = Date.now();
    const products = [...document.querySelectorAll("section[data-kind]")].map((section) =>
      refreshProduct(section, RENDERERS[section.dataset.kind] || table),
    );
    await Promise.allSettled([
      ...products,
      refresh(panel("catalog"), panel("catalog").dataset.source, catalog),
      lineage(panel("lineage")),
    ]);
    polls += 1;
    document.body.dataset.polls = String(polls);
    panel("poll-status").textContent = `Refreshed ${clock(new Date().toISOString())}, every ${POLL_MS / 1000} s`;
    setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
  }

  poll();
})();
