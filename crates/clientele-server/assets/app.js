// The clientele dashboard: a small single-page app over the JSON API. Pages are addressed
// by the URL hash (#/sales?by=rep&region=North), so every drill-down step can be bookmarked
// and the browser's Back button goes back up. Data is only ever inserted as text.
'use strict';

let ME = null;
let charts = [];

const PAGES = [
  { id: 'overview', label: 'Overview', area: 'overview' },
  { id: 'sales', label: 'Sales', area: 'sales' },
  { id: 'pipeline', label: 'Pipeline', area: 'pipeline' },
  { id: 'forecast', label: 'Forecast', area: 'sales' },
  { id: 'baskets', label: 'Baskets', area: 'sales' },
  { id: 'customers', label: 'Customers', area: 'customers' },
  { id: 'campaigns', label: 'Campaigns', area: 'campaigns' },
  { id: 'attribution', label: 'Attribution', area: 'campaigns' },
  { id: 'experiments', label: 'Experiments', area: 'campaigns' },
  { id: 'mix', label: 'Marketing mix', area: 'campaigns' },
  { id: 'exceptions', label: 'Exceptions', area: 'overview' },
  { id: 'audit', label: 'Audit log', area: 'admin' },
];

// ---------------------------------------------------------------------------------------------
// Helpers

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const res = await fetch('/api/v1/' + path, { credentials: 'same-origin' });
  if (res.status === 401) {
    location.href = '/login';
    throw new ApiError(401, 'not logged in');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    throw new ApiError(res.status, body && body.error ? body.error.message : `request failed (${res.status})`);
  }
  return body;
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nf2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const money = (v) => (v === undefined || v === null ? '' : nf2.format(v));
const count = (v) => (v === undefined || v === null ? '' : nf0.format(v));
const pct = (v) => (v === undefined || v === null ? '' : (v * 100).toFixed(1) + '%');
// A KPI's change from the previous period: `change` × 100 in `change_unit` (docs/metrics.md):
// relative for amounts and counts (+25.0%), percentage points for rates (+3.2 pp).
const changeText = (v, unit) => {
  if (v === undefined || v === null) return '';
  const x = (v * 100).toFixed(1);
  const sign = v > 0 && Number(x) !== 0 ? '+' : '';
  return unit === 'pp' ? `${sign}${x} pp` : `${sign}${x}%`;
};

function byUnit(v, unit) {
  if (v === undefined || v === null) return '—';
  switch (unit) {
    case 'percent': return pct(v);
    case 'count': return count(v);
    case 'days': return v.toFixed(1) + ' d';
    default: return money(v);
  }
}

function fmtCell(col, v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') {
    if (/(^share|_share$|_rate$|^growth$|^retention$|^conversion|probability|^deviation$|^p_|^win_|^roi$|removal_effect|coverage_95$|mape$|^ctr$|^click_to_open$)/.test(col)) return pct(v);
    if (Number.isInteger(v)) return count(v);
    return money(v);
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

function table(rows, opts = {}) {
  if (!rows || rows.length === 0) return el('p', { class: 'muted', text: 'No rows.' });
  const cols = opts.columns || Object.keys(rows.reduce((a, r) => Object.assign(a, r), {}));
  const body = rows.map((r) => {
    const attrs = opts.onRow ? { class: 'clickable', onclick: () => opts.onRow(r) } : {};
    if (opts.onRow || opts.testid) attrs['data-testid'] = opts.testid || 'row';
    const tr = el('tr', attrs,
      cols.map((c) => el('td', { class: typeof r[c] === 'number' ? 'num' : '' }, fmtCell(c, r[c]))));
    return tr;
  });
  return el('div', { class: 'table-wrap' },
    el('table', {}, el('thead', {}, el('tr', {}, cols.map((c) => el('th', { text: (opts.labels && opts.labels[c]) || c.replace(/_/g, ' '), title: c })))), el('tbody', {}, body)));
}

function destroyCharts() {
  for (const c of charts) c.destroy();
  charts = [];
}

function chart(canvas, config) {
  const c = new Chart(canvas, config);
  charts.push(c);
  return c;
}

function barChart(labels, values, opts = {}) {
  const canvas = el('canvas', { id: opts.id || 'chart', 'data-testid': opts.testid || 'chart', height: opts.height || 110 });
  const c = chart(canvas, {
    type: 'bar',
    data: { labels, datasets: [{ label: opts.label || 'Revenue', data: values, backgroundColor: '#3b6fd8' }].concat(opts.extra || []) },
    options: {
      indexAxis: opts.horizontal ? 'y' : 'x',
      responsive: true,
      animation: false,
      onClick: (evt, elements) => { if (elements.length && opts.onClick) opts.onClick(elements[0].index); },
      onHover: (evt, elements) => { evt.native.target.style.cursor = elements.length && opts.onClick ? 'pointer' : 'default'; },
      plugins: { tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${opts.fmt ? opts.fmt(ctx.parsed[opts.horizontal ? 'x' : 'y']) : money(ctx.parsed[opts.horizontal ? 'x' : 'y'])}` } } },
    },
  });
  canvas.chart = c;
  return el('div', { class: 'chart' }, canvas);
}

function notes(list) {
  return (list || []).length ? el('ul', { class: 'notes' }, list.map((n) => el('li', { text: n }))) : null;
}

function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const [pathPart, query] = h.split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'home', arg: parts[1], params: Object.fromEntries(new URLSearchParams(query || '')) };
}

function go(page, params = {}) {
  location.hash = '#/' + page + qs(params);
}

function may(area) {
  return ME && ME.areas.includes(area);
}

/// Appends children, skipping the absent ones (null would print as text).
function put(parent, ...xs) {
  parent.append(...xs.flat().filter((x) => x !== null && x !== undefined));
}

// ---------------------------------------------------------------------------------------------
// Pages

function periodPicker(params, page) {
  const from = el('input', { type: 'date', id: 'from', value: params.from || '' });
  const to = el('input', { type: 'date', id: 'to', value: params.to || '' });
  return el('form', { class: 'period', id: 'period-picker', onsubmit: (e) => { e.preventDefault(); go(page, Object.assign({}, params, { from: from.value, to: to.value })); } },
    el('label', {}, 'From ', from), el('label', {}, 'To ', to),
    el('button', { type: 'submit', text: 'Apply' }),
    el('button', { type: 'button', class: 'link', text: 'Latest quarter', onclick: () => go(page, Object.assign({}, params, { from: '', to: '' })) }));
}

async function overview(main, params) {
  const period = { from: params.from, to: params.to };
  const kpis = await api('kpis' + qs(period));
  const p = kpis.period;
  const tiles = kpis.rows.map((k) => {
    const status = k.status || '';
    const cls = status === 'on target' ? 'on' : status ? 'off' : 'none';
    const arrow = k.change === undefined || k.change === null ? '' : k.change > 0 ? '▲' : k.change < 0 ? '▼' : '▶';
    return el('div', { class: `tile ${cls}`, 'data-testid': 'kpi-tile', title: k.definition || '' },
      el('div', { class: 'tile-name', text: k.name }),
      el('div', { class: 'tile-value', 'data-testid': 'kpi-value', text: byUnit(k.value, k.unit) }),
      el('div', { class: 'tile-meta' },
        el('span', { class: 'trend', 'data-testid': 'kpi-change', text: `${arrow} ${changeText(k.change, k.change_unit)}` }),
        el('span', { class: 'target', text: k.target === undefined || k.target === null ? 'no target' : `target ${byUnit(k.target, k.unit)}` })),
      el('div', { class: 'tile-status', text: status || 'no target' }));
  });
  put(main, 
    el('h1', { text: `Overview — ${p.label}` }),
    periodPicker(params, 'overview'),
    el('p', { class: 'muted', text: `${p.from} to ${p.to}, compared with ${kpis.previous_period ? kpis.previous_period.label : 'the previous period'}` }),
    el('div', { class: 'tiles', id: 'kpi-tiles' }, tiles),
    notes(kpis.notes));
  // Revenue trend: the months of the period's trailing year and the year before.
  const trend = await api('sales' + qs({ by: 'month', from: params.from && params.to ? params.from : undefined, to: params.to }));
  const rows = trend.rows;
  if (rows.length) {
    const first = trend.period.from, last = trend.period.to;
    const shift = (d) => { const x = new Date(d + 'T00:00:00Z'); x.setUTCFullYear(x.getUTCFullYear() - 1); return x.toISOString().slice(0, 10); };
    const prev = await api('sales' + qs({ by: 'month', from: shift(first), to: shift(last) }));
    const prevBy = {};
    for (const r of prev.rows) prevBy[r.period] = r.revenue;
    const lastYear = (m) => `${Number(m.slice(0, 4)) - 1}${m.slice(4)}`;
    const canvas = el('canvas', { id: 'trend-chart', 'data-testid': 'trend-chart', height: 90 });
    chart(canvas, {
      type: 'line',
      data: {
        labels: rows.map((r) => r.period),
        datasets: [
          { label: 'Revenue', data: rows.map((r) => r.revenue), borderColor: '#3b6fd8', backgroundColor: '#3b6fd8', tension: 0.2 },
          { label: 'Same month, previous year', data: rows.map((r) => prevBy[lastYear(r.period)] ?? null), borderColor: '#9aa5b1', backgroundColor: '#9aa5b1', borderDash: [6, 4], tension: 0.2 },
        ],
      },
      options: {
        animation: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${money(c.parsed.y)}` } } },
        onClick: (evt, els) => {
          if (!els.length) return;
          const m = rows[els[0].index].period;
          const [y, mo] = m.split('-').map(Number);
          const end = new Date(Date.UTC(y, mo, 0)).toISOString().slice(0, 10);
          go('sales', { by: 'region', from: `${m}-01`, to: end });
        },
      },
    });
    put(main, el('h2', { text: 'Revenue by month (click a month for its sales by region)' }), el('div', { class: 'chart' }, canvas));
  }
}

// Drill-down paths of the sales page: the next dimension after each.
const NEXT = { region: 'rep', rep: 'customer', channel: 'customer', category: 'product' };
const FILTER_OF = { region: 'region', rep: 'rep', channel: 'channel', category: 'category', product: 'product', customer: 'customer' };
const KEY_OF = { region: 'region', rep: 'sales_rep_id', channel: 'channel', category: 'category', product: 'product_id', customer: 'customer_id' };

async function sales(main, params) {
  const by = params.by || 'region';
  const filters = ['region', 'rep', 'channel', 'category', 'product'].filter((f) => params[f] !== undefined);
  const data = await api('sales' + qs(params));
  const key = KEY_OF[by] || 'period';
  // Orders without a customer (guest checkouts) are one row, '(none)', with no 360 to open.
  const guests = (r) => by === 'customer' && r[key] === '(none)';
  const label = (r) => (guests(r) ? 'Guest checkouts (no customer)' : by === 'rep' && r.rep_name ? `${r.rep_name} (${r[key]})` : by === 'product' && r.product_name ? r.product_name : by === 'customer' && r.customer_name ? `${r.customer_name} (${r[key]})` : r[key]);
  const top = data.rows.slice(0, 25);
  const drill = (r) => {
    const value = r[key];
    if (guests(r)) return;
    if (by === 'customer') { go('customer/' + encodeURIComponent(value)); return; }
    const next = NEXT[by];
    if (!next) { go('transactions', Object.assign(pick(params, ['from', 'to']), {})); return; }
    go('sales', Object.assign({}, params, { by: next, [FILTER_OF[by]]: value }));
  };
  const crumbs = [el('a', { href: '#/sales' + qs(Object.assign(pick(params, ['from', 'to']), { by: filters.includes('category') || by === 'category' || by === 'product' ? 'category' : filters.includes('channel') || by === 'channel' ? 'channel' : 'region' })), text: 'All', 'data-testid': 'crumb' })];
  const acc = pick(params, ['from', 'to']);
  for (const f of filters) {
    acc[f] = params[f];
    const nextBy = NEXT[f] || 'customer';
    crumbs.push(' › ', el('a', { href: '#/sales' + qs(Object.assign({}, acc, { by: nextBy })), text: `${f} ${params[f]}`, 'data-testid': 'crumb' }));
  }
  put(main, 
    el('h1', { text: data.title }),
    el('div', { class: 'tabs' }, ['region', 'category', 'channel'].map((d) => el('a', { href: '#/sales' + qs(Object.assign(pick(params, ['from', 'to']), { by: d })), class: by === d && !filters.length ? 'active' : '', text: `By ${d}` }))),
    periodPicker(params, 'sales'),
    el('nav', { class: 'breadcrumb', id: 'breadcrumb' }, crumbs),
    el('p', { class: 'muted', text: `${data.period.from} to ${data.period.to}${data.previous_period ? `, growth against ${data.previous_period.label}` : ''}. Click a bar or row to drill down.` }),
    top.length ? barChart(top.map(label), top.map((r) => r.revenue), { id: 'sales-chart', testid: 'sales-chart', onClick: (i) => drill(top[i]) }) : null,
    table(data.rows, { onRow: drill, testid: 'drill-row' }),
    el('p', {}, el('a', { href: `/api/v1/sales${qs(Object.assign({}, params, { format: 'csv' }))}`, text: 'Download CSV' })),
    notes(data.notes));
}

function pick(o, keys) {
  const out = {};
  for (const k of keys) if (o[k]) out[k] = o[k];
  return out;
}

async function campaignsPage(main, params) {
  const data = await api('campaigns' + qs(pick(params, ['from', 'to'])));
  const rows = data.rows;
  const label = (r) => r.name || r.campaign_id;
  put(main,
    el('h1', { text: `Campaigns — ${data.period.label}` }),
    periodPicker(params, 'campaigns'),
    el('p', { class: 'muted', text: 'Revenue of the completed orders carrying each campaign, the spend booked to it, and ROI = (revenue − spend) / spend. The rows add up to the Marketing ROI KPI.' }),
    rows.length ? barChart(rows.map(label), rows.map((r) => r.revenue), {
      id: 'campaign-chart', testid: 'campaign-chart',
      extra: [{ label: 'Spend', data: rows.map((r) => r.spend ?? 0), backgroundColor: '#d9480f' }],
    }) : null,
    table(rows, { columns: ['campaign_id', 'name', 'channel', 'revenue', 'orders', 'customers', 'spend', 'roi', 'budget', 'sends', 'open_rate', 'clicks', 'ctr', 'conversion_rate', 'unsubscribe_rate'].filter((c) => rows.some((r) => r[c] !== undefined)) }),
    notes(data.notes));
  const ch = await api('channels' + qs(pick(params, ['from', 'to', 'attribution'])));
  const used = (c) => ch.rows.some((r) => r[c] !== undefined && r[c] !== null);
  const models = [['', 'campaign of the order']].concat(ATTRIBUTION_MODELS.map(([m, label]) => [m, label]));
  put(main,
    el('h2', { text: 'Channels' }),
    el('div', { class: 'period' }, picker('channels-attribution', 'Revenue attributed by', models, params.attribution || '', (v) => go('campaigns', Object.assign({}, params, { attribution: v })))),
    el('p', { class: 'muted', text: 'Sends, opens, impressions and clicks from the touchpoints; spend, CPC, CPM; new customers by acquisition channel and CAC; sessions and leads by source; revenue and conversions of the orders carrying a campaign of the channel, ROAS and ROI; the lifetime value of the customers acquired (sales so far plus stored CLV) and the ROI counted in it. Definitions in docs/metrics.md.' }),
    table(ch.rows, { testid: 'channel-row', columns: ['channel', 'sends', 'open_rate', 'impressions', 'clicks', 'ctr', 'unsubscribe_rate', 'engagement_rate', 'spend', 'cpc', 'cpm', 'new_customers', 'cac', 'sessions', 'mean_session_seconds', 'leads', 'downloads', 'engagements', 'attributed_revenue', 'conversions', 'conversion_rate', 'roas', 'roi', 'lifetime_value', 'clv_roi'].filter(used) }),
    notes(ch.notes));
  if (may('segments')) {
    put(main, el('p', {}, el('a', { href: '#/customers?tab=segments', text: 'Segments to target ›' })));
  }
}

// A select that navigates: one option per value, the current one selected.
function picker(id, label, values, current, onChange) {
  const s = el('select', { id, 'data-testid': id, onchange: (e) => onChange(e.target.value) },
    values.map(([v, text]) => el('option', { value: v, selected: v === current, text })));
  return el('label', {}, `${label} `, s);
}

// The forecast continues the actuals as a line, with the 80 % and 95 % intervals as bands.
function forecastChart(history, forecast, id) {
  const labels = history.map((r) => r.period).concat(forecast.map((r) => r.period));
  const pad = (n) => new Array(n).fill(null);
  const n = history.length;
  const last = n ? history[n - 1].actual : null;
  // The forecast line starts at the last actual so the two join.
  const joined = (key) => pad(Math.max(0, n - 1)).concat(n ? [last] : [], forecast.map((r) => r[key]));
  const canvas = el('canvas', { id, 'data-testid': id, height: 100 });
  chart(canvas, {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: 'Actual', data: history.map((r) => r.actual).concat(pad(forecast.length)), borderColor: '#1f2933', backgroundColor: '#1f2933', pointRadius: 1 },
        { label: '95 % lower', data: joined('lower_95'), borderColor: 'transparent', pointRadius: 0, fill: false },
        { label: '95 % interval', data: joined('upper_95'), borderColor: 'transparent', backgroundColor: 'rgba(59, 111, 216, 0.15)', pointRadius: 0, fill: '-1' },
        { label: '80 % lower', data: joined('lower_80'), borderColor: 'transparent', pointRadius: 0, fill: false },
        { label: '80 % interval', data: joined('upper_80'), borderColor: 'transparent', backgroundColor: 'rgba(59, 111, 216, 0.3)', pointRadius: 0, fill: '-1' },
        { label: 'Forecast', data: joined('forecast'), borderColor: '#3b6fd8', backgroundColor: '#3b6fd8', borderDash: [6, 3], pointRadius: 2 },
      ],
    },
    options: {
      animation: false,
      interaction: { mode: 'index', intersect: false },
      plugins: {
        legend: { labels: { filter: (item) => !/lower/.test(item.text) } },
        tooltip: { filter: (item) => item.parsed.y !== null, callbacks: { label: (c) => `${c.dataset.label}: ${money(c.parsed.y)}` } },
      },
    },
  });
  return el('div', { class: 'chart' }, canvas);
}

async function forecastPage(main, params) {
  const measure = params.measure || 'revenue';
  const q = { measure, by: measure === 'pipeline' ? undefined : params.by || 'month', split: measure === 'pipeline' ? undefined : params.split, horizon: params.horizon };
  const a = await api('forecast' + qs(q));
  const set = (k) => (v) => go('forecast', Object.assign({}, params, { [k]: v }));
  const controls = el('div', { class: 'period' },
    picker('forecast-measure', 'Forecast', [['revenue', 'Revenue'], ['orders', 'Orders'], ['units', 'Units'], ['new_customers', 'New customers'], ['pipeline', 'Pipeline (open deals)']], measure, set('measure')),
    measure === 'pipeline' ? null : picker('forecast-by', 'by', [['day', 'day'], ['week', 'week'], ['month', 'month'], ['quarter', 'quarter']], params.by || 'month', set('by')),
    measure === 'pipeline' ? null : picker('forecast-split', 'per', [['', 'whole business'], ['region', 'region'], ['category', 'category'], ['channel', 'channel'], ['rep', 'rep']], params.split || '', set('split')));
  put(main, el('h1', { text: a.title }), controls);
  const fc = a.tables.forecast || [];
  if (measure === 'pipeline') {
    const check = a.tables.check || [];
    put(main,
      el('p', { class: 'muted', text: `${count(a.open_deals)} open deals worth ${money(a.open_amount)} as of ${a.as_of}; win probabilities and times to close learnt from ${count(a.closed_deals_learnt_from)} closed deals.` }),
      forecastChart([], fc, 'forecast-chart'),
      table(fc, { testid: 'forecast-row' }),
      check.length ? el('h2', { text: `Check: forecast from ${a.check.snapshot} against what happened` }) : null,
      check.length ? barChart(check.map((r) => r.period), check.map((r) => r.forecast), { id: 'pipeline-check-chart', testid: 'pipeline-check-chart', label: 'Forecast', extra: [{ label: 'Actual', data: check.map((r) => r.actual), backgroundColor: '#2f9e44' }] }) : null,
      check.length ? table(check) : null,
      notes(a.notes));
    return;
  }
  const models = a.tables.models || [];
  const history = a.tables.history || [];
  const splits = [...new Set(fc.map((r) => r.split).filter((x) => x !== undefined))];
  const member = params.member && splits.includes(params.member) ? params.member : splits[0];
  const of = (rows) => (splits.length ? rows.filter((r) => r.split === member) : rows);
  const m = of(models)[0] || {};
  const accuracy = (r, p) => `MAPE ${r[p + 'mape'] == null ? '—' : pct(r[p + 'mape'])}, MASE ${r[p + 'mase'] == null ? '—' : r[p + 'mase'].toFixed(2)}, 95 % coverage ${pct(r[p + 'coverage_95'])}`;
  put(main,
    splits.length ? picker('forecast-member', a.split || 'member', splits.map((x) => [x, x]), member, set('member')) : null,
    el('p', { class: 'muted', 'data-testid': 'forecast-model' }, `Model ${m.model || '—'}: ${m.reason || ''}.`),
    el('p', { class: 'muted' }, `Backtest: ${accuracy(m, '')}; seasonal naive ${accuracy(m, 'naive_')}.`),
    forecastChart(of(history), of(fc), 'forecast-chart'),
    table(of(fc), { testid: 'forecast-row', columns: ['period', 'forecast', 'lower_80', 'upper_80', 'lower_95', 'upper_95'] }),
    el('p', {}, el('a', { href: `/api/v1/forecast${qs(Object.assign({}, q, { format: 'csv' }))}`, text: 'Download CSV' })),
    splits.length ? el('h2', { text: 'Models per member' }) : null,
    splits.length ? table(models) : null,
    notes(a.notes));
}

const ATTRIBUTION_MODELS = [['first_touch', 'First touch'], ['last_touch', 'Last touch'], ['linear', 'Linear'], ['time_decay', 'Time decay'], ['position_based', 'Position based'], ['markov', 'Markov'], ['shapley', 'Shapley']];
const MODEL_COLOURS = ['#9aa5b1', '#52606d', '#3b6fd8', '#0b7285', '#5f3dc4', '#d9480f', '#2f9e44'];

async function attributionPage(main, params) {
  const by = params.by || 'channel';
  const value = params.measure === 'value';
  const a = await api('attribution' + qs({ by, goal: params.goal, lookback_days: params.lookback_days, order: params.order }));
  const rows = a.tables.attribution || [];
  const key = by === 'campaign' ? 'campaign' : 'channel';
  const suffix = value ? '_value' : '';
  const canvas = el('canvas', { id: 'attribution-chart', 'data-testid': 'attribution-chart', height: 110 });
  chart(canvas, {
    type: 'bar',
    data: { labels: rows.map((r) => r[key]), datasets: ATTRIBUTION_MODELS.map(([m, label], i) => ({ label, data: rows.map((r) => r[m + suffix]), backgroundColor: MODEL_COLOURS[i] })) },
    options: { animation: false, plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${value ? money(c.parsed.y) : nf2.format(c.parsed.y)}` } } } },
  });
  const set = (k) => (v) => go('attribution', Object.assign({}, params, { [k]: v }));
  put(main,
    el('h1', { text: a.title }),
    el('div', { class: 'period' },
      picker('attribution-by', 'Credit', [['channel', 'channels'], ['campaign', 'campaigns']], by, set('by')),
      picker('attribution-measure', 'in', [['conversions', 'conversions'], ['value', 'revenue']], value ? 'value' : 'conversions', set('measure')),
      picker('attribution-order', 'Markov order', [['1', '1'], ['2', '2'], ['3', '3']], params.order || '1', set('order'))),
    el('p', { class: 'muted', text: `${count(a.conversions)} conversions worth ${money(a.conversion_value)} over ${count(a.paths)} paths (${count(a.null_paths)} without conversion); each model shares them out differently.` }),
    el('div', { class: 'chart' }, canvas),
    table(rows, { columns: [key].concat(ATTRIBUTION_MODELS.map(([m]) => m + suffix)), testid: 'attribution-row' }),
    el('h2', { text: 'Markov removal effects' }),
    table(a.tables.removal_effects || []),
    notes(a.notes));
}

// A/B tests: each variant's difference from its control with the interval drawn as a bar
// from the lower to the upper bound and the estimate as a mark; bars that cross 0 are grey.
const AB_MEASURES = {
  conversion: { label: 'conversion rate', d: 'difference', lo: 'ci_lower', hi: 'ci_upper', fmt: (v) => `${(v * 100).toFixed(2)} pts` },
  revenue: { label: 'revenue per customer', d: 'revenue_difference', lo: 'revenue_ci_lower', hi: 'revenue_ci_upper', fmt: money },
  orders: { label: 'orders per customer', d: 'orders_difference', lo: 'orders_ci_lower', hi: 'orders_ci_upper', fmt: (v) => nf2.format(v) },
};

async function experimentsPage(main, params) {
  const a = await api('abtest' + qs(pick(params, ['experiment', 'window_days', 'control_share'])));
  const measure = AB_MEASURES[params.measure] ? params.measure : 'conversion';
  const m = AB_MEASURES[measure];
  const rows = a.tables.variants || [];
  const compared = rows.filter((r) => r.role === 'variant' && r[m.lo] != null && r[m.hi] != null);
  const crosses = (r) => r[m.lo] <= 0 && r[m.hi] >= 0;
  const canvas = el('canvas', { id: 'abtest-chart', 'data-testid': 'abtest-chart', height: Math.max(60, 14 * compared.length + 30) });
  chart(canvas, {
    type: 'bar',
    data: {
      labels: compared.map((r) => `${r.experiment_id} · ${r.variant}`),
      datasets: [
        { label: `${Math.round(a.level * 100)} % interval`, data: compared.map((r) => [r[m.lo], r[m.hi]]), backgroundColor: compared.map((r) => (crosses(r) ? '#ced4da' : '#74c0fc')), barPercentage: 0.5, grouped: false, order: 2 },
        // The estimate as a zero-length bar drawn a few pixels wide, over the interval.
        { label: 'Estimate', data: compared.map((r) => [r[m.d], r[m.d]]), minBarLength: 4, backgroundColor: '#1f2933', barPercentage: 0.8, grouped: false, order: 1 },
      ],
    },
    options: {
      indexAxis: 'y',
      animation: false,
      plugins: { tooltip: { callbacks: { label: (c) => (c.raw[0] === c.raw[1] ? `${c.dataset.label}: ${m.fmt(c.raw[0])}` : `${c.dataset.label}: ${m.fmt(c.raw[0])} to ${m.fmt(c.raw[1])}`) } } },
      scales: { x: { title: { display: true, text: `difference in ${m.label}, variant − control` } } },
    },
  });
  const set = (k) => (v) => go('experiments', Object.assign({}, params, { [k]: v }));
  const experiments = a.tables.experiments || [];
  put(main,
    el('h1', { text: a.title }),
    el('div', { class: 'period' },
      picker('abtest-measure', 'Compare', Object.entries(AB_MEASURES).map(([k, v]) => [k, v.label]), measure, set('measure')),
      picker('abtest-experiment', 'experiment', [['', 'all']].concat(experiments.map((x) => [x.experiment_id, x.experiment_id])), params.experiment || '', set('experiment')),
      // The split the design intended, which the sample-ratio check compares the sizes with.
      picker('abtest-design', 'design', [['', 'even split'], ['0.1', '10 % control'], ['0.2', '20 % control'], ['0.3', '30 % control'], ['0.5', '50 % control']], params.control_share || '', set('control_share'))),
    el('p', { class: 'muted', text: `${count(a.experiments)} experiments; a conversion is a sale within ${a.window_days} days of the assignment. An interval that crosses 0 (grey) does not show an effect.` }),
    compared.length ? el('div', { class: 'chart' }, canvas) : el('p', { text: 'No variant to compare with a control.' }),
    table(rows, { testid: 'abtest-row', columns: ['experiment_id', 'variant', 'role', 'customers', 'conversion_rate', 'lift', 'lift_ci_lower', 'lift_ci_upper', 'p_value_holm', 'significant', 'always_valid_p', 'revenue_per_customer', 'revenue_difference', 'revenue_p_value', 'orders_per_customer', 'orders_p_value'] }),
    el('h2', { text: 'Experiments' }),
    table(experiments, { testid: 'experiment-row' }),
    notes(a.notes));
}

// Marketing mix: each channel's steady-state response curve (weekly revenue against weekly
// spend), with its current spend marked, then the channel table and the budget split.
const CURVE_COLOURS = ['#3b6fd8', '#d9480f', '#2f9e44', '#5f3dc4', '#0b7285', '#e67700', '#c2255c', '#52606d'];

async function mixPage(main, params) {
  const a = await api('mmm' + qs(pick(params, ['budget'])));
  const channels = a.tables.channels || [];
  const curves = a.tables.response_curves || [];
  const names = [...new Set(curves.map((r) => r.channel))];
  const canvas = el('canvas', { id: 'mmm-chart', 'data-testid': 'mmm-chart', height: 110 });
  const colour = (i) => CURVE_COLOURS[i % CURVE_COLOURS.length];
  chart(canvas, {
    type: 'scatter',
    data: {
      datasets: names.flatMap((name, i) => [
        { label: name, data: curves.filter((r) => r.channel === name).map((r) => ({ x: r.weekly_spend, y: r.weekly_revenue })), showLine: true, pointRadius: 0, borderColor: colour(i), backgroundColor: colour(i) },
        { label: `${name} now`, data: curves.filter((r) => r.channel === name && r.current).map((r) => ({ x: r.weekly_spend, y: r.weekly_revenue })), pointRadius: 5, pointStyle: 'circle', borderColor: colour(i), backgroundColor: colour(i) },
      ]),
    },
    options: {
      animation: false,
      plugins: {
        legend: { labels: { filter: (item) => !/ now$/.test(item.text) } },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: spend ${money(c.parsed.x)} → revenue ${money(c.parsed.y)} a week` } },
      },
      scales: { x: { title: { display: true, text: 'spend per week' } }, y: { title: { display: true, text: 'modelled revenue per week' } } },
    },
  });
  const weeks = a.tables.fit || [];
  put(main,
    el('h1', { text: a.title }),
    el('p', { class: 'muted', text: `Weekly revenue over ${count(a.weeks)} weeks fitted on each channel's spend through adstock and saturation (R² ${a.r_squared == null ? '—' : a.r_squared.toFixed(2)}). The curves show what a steady weekly spend brings in; the dots are today's spend.` }),
    el('div', { class: 'chart' }, canvas),
    table(channels, { testid: 'mmm-row' }),
    a.tables.allocation ? el('h2', { text: 'Budget split for the most modelled revenue' }) : null,
    a.tables.allocation ? table(a.tables.allocation, { testid: 'allocation-row' }) : null,
    weeks.length ? el('h2', { text: 'Fit, week by week' }) : null,
    weeks.length ? barChart(weeks.map((r) => r.week), weeks.map((r) => r.revenue), { id: 'mmm-fit-chart', label: 'Revenue', extra: [{ type: 'line', label: 'Fitted', data: weeks.map((r) => r.fitted), borderColor: '#d9480f', pointRadius: 0 }] }) : null,
    notes(a.notes));
}

// Market baskets: products (or categories) bought together, the strongest rules by lift
// first (the API lists them in itemset order).
const BASKET_RULES_SHOWN = 100;

async function basketsPage(main, params) {
  const level = params.level || 'product';
  const support = params.min_support || '0.01';
  const a = await api('basket' + qs({ level, min_support: support, min_confidence: params.min_confidence }));
  const rules = (a.tables.rules || []).slice().sort((x, y) => y.lift - x.lift || y.confidence - x.confidence);
  const set = (k) => (v) => go('baskets', Object.assign({}, params, { [k]: v }));
  put(main,
    el('h1', { text: a.title }),
    el('div', { class: 'period' },
      picker('basket-level', 'Items', [['product', 'products'], ['category', 'categories']], level, set('level')),
      picker('basket-support', 'in at least', [['0.002', '0.2 %'], ['0.005', '0.5 %'], ['0.01', '1 %'], ['0.02', '2 %'], ['0.05', '5 %'], ['0.1', '10 %']], support, set('min_support')),
      picker('basket-confidence', 'confidence at least', [['', 'any'], ['0.1', '10 %'], ['0.3', '30 %'], ['0.5', '50 %']], params.min_confidence || '', set('min_confidence'))),
    el('p', { class: 'muted', text: `${count(a.baskets)} baskets (sales with order lines), ${count(a.itemsets)} itemsets in at least ${pct(Number(support))} of them, ${count(a.rules)} rules${a.rules > BASKET_RULES_SHOWN ? `; the ${BASKET_RULES_SHOWN} with the highest lift are shown` : ''}. Lift above 1: bought together more often than by chance.` }),
    table(rules.slice(0, BASKET_RULES_SHOWN), { testid: 'basket-row', columns: ['antecedents', 'consequents', 'support', 'confidence', 'lift', 'leverage', 'conviction', 'zhangs_metric'] }),
    notes(a.notes));
}

async function pipeline(main) {
  const funnel = await api('pipeline');
  const byRep = await api('pipeline?by=rep');
  const rows = funnel.rows;
  put(main, 
    el('h1', { text: 'Pipeline' }),
    el('p', { class: 'muted', text: 'Deals that entered each stage; conversion to the next stage and days spent in it.' }),
    barChart(rows.map((r) => r.stage), rows.map((r) => r.entered), { id: 'funnel-chart', testid: 'funnel-chart', label: 'Deals entered', horizontal: true, fmt: count }),
    table(rows, { columns: ['stage', 'entered', 'conversion_to_next', 'avg_days_in_stage', 'open_deals', 'open_amount', 'weighted_amount', 'win_rate'] }),
    el('h2', { text: 'By rep' }),
    table(byRep.rows),
    notes(funnel.notes));
}

async function customers(main, params) {
  const tab = params.tab || 'segments';
  const tabs = [['segments', 'RFM segments'], ['lifecycle', 'Lifecycle'], ['clusters', 'Behavioural clusters'], ['at-risk', 'At risk'], ['cohorts', 'Cohorts'], ['list', 'All customers']];
  put(main, el('h1', { text: 'Customers' }),
    el('div', { class: 'tabs' }, tabs.map(([id, label]) => el('a', { href: `#/customers?tab=${id}`, class: tab === id ? 'active' : '', text: label, 'data-testid': `tab-${id}` }))));
  const members = (filter) => go('members', filter);
  if (tab === 'segments' || tab === 'lifecycle' || tab === 'clusters') {
    if (!may('segments')) {
      put(main, el('p', { class: 'muted', text: 'Your role does not include segment analyses; the stored segments are still filters of the customer list.' }));
      return;
    }
    const kind = tab === 'segments' ? 'rfm' : tab === 'lifecycle' ? 'lifecycle' : 'behavioral';
    const a = await api('segments/' + kind);
    const t = a.tables.segments || a.tables.stages || a.tables.clusters || [];
    const name = (r) => r.segment || r.stage || `cluster ${r.cluster}`;
    const filter = (r) => (kind === 'rfm' ? { rfm_segment: r.segment } : kind === 'lifecycle' ? { lifecycle_stage: r.stage } : { cluster: r.cluster });
    put(main, el('p', { class: 'muted', text: `${a.title}. Click a segment for its members.` }));
    if (kind === 'rfm') {
      put(main, el('div', { class: 'grid', id: 'rfm-grid' }, t.map((r) => el('button', { class: 'cell', 'data-testid': 'segment-cell', onclick: () => members(filter(r)), title: r.description || '' },
        el('strong', { text: name(r) }), el('span', { text: `${count(r.customers)} customers · ${pct(r.share_of_customers)}` }), el('span', { text: `${pct(r.share_of_revenue)} of revenue` })))));
    } else {
      put(main, barChart(t.map(name), t.map((r) => r.customers), { id: 'segment-chart', testid: 'segment-chart', label: 'Customers', fmt: count, onClick: (i) => members(filter(t[i])) }));
    }
    put(main, table(t, { onRow: (r) => members(filter(r)), testid: 'segment-row' }), notes(a.notes));
  } else if (tab === 'at-risk') {
    await customerList(main, 'at-risk', params, null);
  } else if (tab === 'cohorts') {
    const a = await api('cohorts');
    const rows = a.tables.retention || [];
    const periods = Object.keys(rows[0] || {}).filter((k) => /^[mq]\d+$/.test(k)).sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));
    const heat = el('table', { class: 'heatmap', id: 'cohort-heatmap' },
      el('thead', {}, el('tr', {}, el('th', { text: 'cohort' }), el('th', { text: 'customers' }), periods.map((p) => el('th', { text: p })))),
      el('tbody', {}, rows.map((r) => el('tr', {}, el('td', { text: r.cohort }), el('td', { class: 'num', text: count(r.customers) }), periods.map((p) => {
        const v = r[p];
        const td = el('td', { class: 'num', title: v === undefined ? 'not observed' : `${r.cohort}, ${p}: ${pct(v)} retained` }, v === undefined ? '' : pct(v));
        if (v !== undefined) td.style.backgroundColor = `rgba(59, 111, 216, ${Math.min(1, v * 1.6).toFixed(2)})`;
        if (v !== undefined && v > 0.45) td.style.color = '#fff';
        return td;
      })))));
    put(main, el('p', { class: 'muted', text: 'Share of each acquisition cohort buying again n periods after its first purchase.' }), el('div', { class: 'table-wrap' }, heat), notes(a.notes));
  } else {
    await customerList(main, 'customers', params, 'All customers');
  }
}

async function customerList(main, endpoint, params, title) {
  const page = Number(params.page || 1);
  const filter = Object.assign({}, params);
  delete filter.tab; delete filter.page;
  const data = await api(endpoint + qs(Object.assign({}, filter, { page, page_size: 25 })));
  // The measures of whether a customer is being lost, the one that fits the business first
  // (P(alive) for purchases, the churn model for subscriptions), then CLV and the value at
  // risk by the leading measure; churn_probability is the churn model's column by its old name.
  const measures = (data.measures || []).map((m) => m.column);
  const risk = data.value_at_risk || (measures[0] === 'p_alive' ? 'value_at_risk_p_alive' : 'value_at_risk');
  const cols = ['customer_id', 'customer_name', 'email', 'region', 'orders', 'revenue', 'rfm_segment', 'lifecycle_stage', ...measures, 'clv', risk]
    .filter((c, i, all) => all.indexOf(c) === i && data.rows.some((r) => r[c] !== undefined));
  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  const nav = (p) => go(route().page, Object.assign({}, params, { page: p }));
  put(main, 
    el('h2', { text: title || data.title }),
    el('p', { class: 'muted', text: `${count(data.total)} customers${data.notes.length ? ' — ' + data.notes.join('; ') : ''}. Page ${page} of ${pages}.` }),
    table(data.rows, { columns: cols, labels: data.labels, onRow: (r) => go('customer/' + encodeURIComponent(r.customer_id)), testid: 'customer-row' }),
    el('div', { class: 'pager' },
      el('button', { disabled: page <= 1, onclick: () => nav(page - 1), text: '‹ Previous' }),
      el('button', { disabled: page >= pages, onclick: () => nav(page + 1), text: 'Next ›' }),
      el('a', { href: `/api/v1/${endpoint}${qs(Object.assign({}, filter, { format: 'csv' }))}`, text: 'Download CSV' })));
}

async function membersPage(main, params) {
  put(main, el('nav', { class: 'breadcrumb' }, el('a', { href: '#/customers', text: 'Customers' }), ' › members'));
  await customerList(main, 'customers', params, 'Members: ' + Object.entries(params).filter(([k]) => k !== 'page').map(([k, v]) => `${k} = ${v}`).join(', '));
}

function dl(obj, labels = {}) {
  return el('dl', { class: 'facts' }, Object.entries(obj || {}).flatMap(([k, v]) => [el('dt', { text: labels[k] || k.replace(/_/g, ' '), title: k }), el('dd', { text: fmtCell(k, v) })]));
}

// Will the customer stay? The stored measures, the one that fits the business first, each
// with what it means: P(alive) says whether a customer is still one; the churn model's
// P(no purchase in the next N days) is often high for a slow buyer who is.
function outlook(o) {
  const ms = (o && o.measures) || [];
  if (ms.length === 0) return el('p', { class: 'muted', text: 'No stored measure: run clv (P(alive)) or churn.' });
  return el('div', {}, ms.map((m, i) => el('div', { class: i === 0 ? 'lead' : 'muted', 'data-testid': `measure-${m.column}` },
    el(i === 0 ? 'strong' : 'span', { text: `${m.label}: ${m.value === undefined || m.value === null ? '—' : pct(m.value)}` }),
    el('p', { class: 'muted', text: m.meaning }))));
}

function scoreLabels(o) {
  const labels = {};
  for (const m of (o && o.measures) || []) {
    labels[m.column] = m.label;
    if (m.column !== 'p_alive') labels.churn_probability = `churn probability (old name of ${m.label})`;
  }
  return labels;
}

async function customer360(main, id) {
  const c = await api('customers/' + encodeURIComponent(id));
  const p = c.profile || {};
  const name = [p.first_name, p.last_name].filter(Boolean).join(' ') || id;
  put(main, 
    el('nav', { class: 'breadcrumb' }, el('a', { href: '#/customers', text: 'Customers' }), ` › ${id}`),
    el('h1', { id: 'customer-name', text: `${name} (${id})` }),
    el('div', { class: 'cols' },
      el('section', { class: 'card', id: 'outlook' }, el('h2', { text: 'Will they stay?' }), outlook(c.outlook)),
      el('section', { class: 'card', id: 'profile' }, el('h2', { text: 'Profile' }), dl(p)),
      el('section', { class: 'card', id: 'consent' }, el('h2', { text: 'Consent' }), dl(c.consent)),
      el('section', { class: 'card', id: 'summary' }, el('h2', { text: 'Purchases' }), dl(c.summary)),
      el('section', { class: 'card', id: 'scores' }, el('h2', { text: 'Scores' }), dl(c.scores, scoreLabels(c.outlook)))));
  if ((c.bought_together || []).length) {
    put(main, el('section', { class: 'section', 'data-testid': 'bought-together' },
      el('h2', { text: 'Customers who bought this also bought' }),
      el('p', { class: 'muted', text: 'Stored basket rules (clientele basket) whose products this customer has all bought, and whose other products they have not, by lift.' }),
      table(c.bought_together, { columns: ['because', 'also_bought', 'confidence', 'lift'] })));
  }
  for (const [section, rows] of Object.entries(c.sections || {})) {
    put(main, el('section', { class: 'section', 'data-testid': `section-${section}` },
      el('h2', { text: `${section.replace(/_/g, ' ')} (${rows.length}${rows.length >= c.section_rows ? '+' : ''})` }),
      table(rows)));
  }
}

async function exceptionsPage(main, params) {
  const data = await api('exceptions' + qs(pick(params, ['from', 'to'])));
  put(main, el('h1', { text: data.title }), periodPicker(params, 'exceptions'),
    data.rows.length ? el('ul', { class: 'alerts', id: 'alerts' }, data.rows.map((r) => el('li', { class: `alert ${r.kind}`, 'data-testid': 'alert' },
      el('strong', { text: r.subject }), ` — ${r.note || r.kind}: `,
      `${byUnit(r.value, r.unit)} against ${byUnit(r.expected, r.unit)} (${changeText(r.deviation, r.deviation_unit)})`)))
      : el('p', { text: 'No exceptions in this period.' }),
    notes(data.notes));
}

async function auditPage(main, params) {
  const data = await api('audit' + qs({ page: params.page || 1, user: params.user, customer: params.customer }));
  put(main, el('h1', { text: 'Audit log' }), el('p', { class: 'muted', text: `${count(data.total)} entries, newest first.` }),
    table(data.rows.map((r) => Object.assign({}, r, { customers: r.customers.slice(0, 10).join(' ') + (r.customers.length > 10 ? ` … (${r.customers.length})` : '') }))));
}

async function transactionsPage(main, params) {
  const data = await api('transactions' + qs(Object.assign({}, params, { page_size: 50 })));
  put(main, el('h1', { text: 'Transactions' }), el('p', { class: 'muted', text: `${count(data.total)} lines, ${data.period.from} to ${data.period.to}` }),
    table(data.rows, { onRow: (r) => go('customer/' + encodeURIComponent(r.customer_id)), testid: 'transaction-row' }));
}

// ---------------------------------------------------------------------------------------------
// Shell

function renderNav() {
  const nav = document.getElementById('nav');
  nav.replaceChildren(...PAGES.filter((p) => may(p.area)).map((p) => el('a', { href: `#/${p.id}`, id: `nav-${p.id}`, text: p.label })));
  document.getElementById('who').textContent = `${ME.user} · ${ME.role.replace('_', ' ')}${ME.personal_data ? '' : ' · personal data masked'}`;
}

async function render() {
  const main = document.getElementById('main');
  destroyCharts();
  const r = route();
  if (r.page === 'home') { go(ME.home); return; }
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.id === `nav-${r.page}`);
  const content = el('div', {});
  main.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
  try {
    switch (r.page) {
      case 'overview': await overview(content, r.params); break;
      case 'sales': await sales(content, r.params); break;
      case 'pipeline': await pipeline(content, r.params); break;
      case 'customers': await customers(content, r.params); break;
      case 'campaigns': await campaignsPage(content, r.params); break;
      case 'forecast': await forecastPage(content, r.params); break;
      case 'baskets': await basketsPage(content, r.params); break;
      case 'attribution': await attributionPage(content, r.params); break;
      case 'experiments': await experimentsPage(content, r.params); break;
      case 'mix': await mixPage(content, r.params); break;
      case 'members': await membersPage(content, r.params); break;
      case 'customer': await customer360(content, r.arg); break;
      case 'exceptions': await exceptionsPage(content, r.params); break;
      case 'audit': await auditPage(content, r.params); break;
      case 'transactions': await transactionsPage(content, r.params); break;
      default: content.append(el('p', { text: 'No such page.' }));
    }
    main.replaceChildren(content);
  } catch (e) {
    if (e.status === 401) return;
    main.replaceChildren(el('div', { class: 'error', role: 'alert', id: 'error', text: e.status === 403 ? `Not available to your role: ${e.message}` : e.message }));
  }
}

async function start() {
  try {
    ME = await api('me');
  } catch (e) {
    return;
  }
  renderNav();
  document.getElementById('logout').hidden = !ME.auth;
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/api/v1/logout', { method: 'POST', credentials: 'same-origin' });
    location.href = '/login';
  });
  window.addEventListener('hashchange', render);
  await render();
}

start();
