// Dashboard tests in a real headless Chromium (Debian's package, driven by playwright-core):
// a demo workspace, users of three roles, the real server on a random port; then log in,
// see the KPI tiles, click a region bar and land on its reps, open a customer 360, and check
// what each role sees. Screenshots go to tests/browser/artifacts/.
//
//   node tests/browser/dashboard.test.mjs        (CLIENTELE_BIN: the binary, default target/debug/clientele)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const bin = process.env.CLIENTELE_BIN || join(root, process.env.CARGO_TARGET_DIR || 'target', 'debug', 'clientele');
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const ws = mkdtempSync(join(tmpdir(), 'clientele-browser-'));

function cli(...args) {
  return execFileSync(bin, ['--workspace', ws, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function startServer() {
  return new Promise((resolveStart, reject) => {
    const child = spawn(bin, ['--workspace', ws, 'serve', '--bind', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CLIENTELE_LOG: 'warn' } });
    let err = '';
    const timer = setTimeout(() => reject(new Error('the server did not start: ' + err)), 30000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = /serving .* at (http:\/\/[0-9.:]+)\//.exec(err);
      if (m) { clearTimeout(timer); resolveStart({ child, base: m[1] }); }
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${err}`)));
  });
}

const results = [];
/// The page a failing check is screenshotted from.
let current = null;
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, 'ok', Date.now() - t0]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, 'FAILED', Date.now() - t0]);
    console.log(`FAIL ${name}\n     ${e.stack || e}`);
    if (current) {
      const shot = join(artifacts, `failed-${results.length}.png`);
      await current.screenshot({ path: shot, fullPage: true }).catch(() => {});
      const shown = await current.evaluate(() => document.querySelector('#error')?.textContent || '').catch(() => '');
      console.log(`     screenshot ${shot}${shown ? `; the page says: ${shown}` : ''}`);
    }
  }
}

async function login(browser, base, token) {
  const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log('     page error:', e.message));
  await page.goto(base + '/');
  await page.waitForURL('**/login');
  await page.fill('#token', token);
  await page.click('#login-button');
  await page.waitForFunction(() => location.pathname === '/' && location.hash.length > 2);
  return { context, page };
}

/// Clicks the bar `index` of the Chart.js chart drawn on `canvasSelector`.
async function clickBar(page, canvasSelector, index) {
  const canvas = await page.waitForSelector(canvasSelector);
  const point = await page.evaluate(({ sel, i }) => {
    const c = document.querySelector(sel).chart;
    const bar = c.getDatasetMeta(0).data[i];
    return { x: bar.x, y: (bar.y + bar.base) / 2, label: c.data.labels[i] };
  }, { sel: canvasSelector, i: index });
  const box = await canvas.boundingBox();
  await page.mouse.click(box.x + point.x, box.y + point.y);
  return point.label;
}


// How the dashboard shows a number (docs: the overview's tiles and its tables), written out
// here from the rules rather than taken from app.js, so a tile that drifts from them fails.
const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nf2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
/// A KPI tile's value: percent to one decimal with '%', counts grouped without decimals, days
/// to one decimal with ' d', money and plain numbers grouped with two decimals, '—' for none.
function tileText(v, unit) {
  if (v === null || v === undefined) return '—';
  if (unit === 'percent') return (v * 100).toFixed(1) + '%';
  if (unit === 'count') return nf0.format(v);
  if (unit === 'days') return v.toFixed(1) + ' d';
  return nf2.format(v);
}
/// The number a displayed text stands for, and half its last digit (how far it may be from
/// the exact value by rounding alone).
function readBack(text) {
  const m = /^(-?[0-9,]+)(?:\.(\d+))?(%| d)?$/.exec(text);
  assert.ok(m, `not a number as the dashboard shows one: '${text}'`);
  const decimals = m[2] ? m[2].length : 0;
  const scale = m[3] === '%' ? 100 : 1;
  return { value: Number(`${m[1].replace(/,/g, '')}.${m[2] || '0'}`) / scale, half: 0.5 * 10 ** -decimals / scale };
}
/// A table's cells by column key (each header's title is its key).
async function tableCells(page, rowSelector) {
  return page.evaluate((sel) => {
    const rows = [...document.querySelectorAll(sel)];
    if (rows.length === 0) return [];
    const keys = [...rows[0].closest('table').querySelectorAll('thead th')].map((th) => th.title);
    return rows.map((tr) => Object.fromEntries([...tr.children].map((td, i) => [keys[i], td.textContent])));
  }, rowSelector);
}
/// First and last day of the quarter before `label` (YYYY-Qn): a complete quarter, whatever
/// day the demo's history ends on.
function quarterBefore(label) {
  let [y, q] = [Number(label.slice(0, 4)), Number(label.slice(6))];
  if (--q === 0) { q = 4; y -= 1; }
  const last = new Date(Date.UTC(y, 3 * q, 0)).getUTCDate();
  const mm = (m) => String(m).padStart(2, '0');
  return { from: `${y}-${mm(3 * q - 2)}-01`, to: `${y}-${mm(3 * q)}-${last}` };
}

let server;
let browser;
try {
  console.log(`workspace ${ws}`);
  cli('demo', '--customers', '1500', '--seed', '7');
  const tokens = {};
  for (const [name, role] of [['ada', 'admin'], ['sam', 'sales_manager'], ['mia', 'marketing_manager']]) {
    tokens[role] = JSON.parse(cli('users', 'add', name, '--role', role, '--format', 'json')).token;
  }
  server = await startServer();
  const base = server.base;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });

  await check('the dashboard sends a visitor without a session to the login page', async () => {
    const page = await browser.newPage();
    await page.goto(base + '/');
    await page.waitForURL('**/login');
    await page.fill('#token', 'clt_not_a_token');
    await page.click('#login-button');
    await page.waitForSelector('#login-error:not([hidden])');
    assert.match(await page.textContent('#login-error'), /not valid/);
    await page.screenshot({ path: join(artifacts, '01-login-refused.png') });
    await page.close();
  });

  const admin = await login(browser, base, tokens.admin);
  const page = admin.page;
  current = page;

  await check('an admin logs in and sees the KPI tiles', async () => {
    await page.waitForSelector('[data-testid=kpi-tile]');
    const tiles = await page.$$eval('[data-testid=kpi-tile]', (ts) => ts.map((t) => ({ name: t.querySelector('.tile-name').textContent, value: t.querySelector('.tile-value').textContent, cls: t.className })));
    assert.ok(tiles.length >= 5, `only ${tiles.length} tiles`);
    const revenue = tiles.find((t) => t.name === 'Sales revenue');
    assert.ok(revenue, 'no Sales revenue tile');
    assert.match(revenue.value, /^[0-9,]+\.\d\d$/);
    assert.ok(tiles.some((t) => /\b(on|off)\b/.test(t.cls)), 'no tile is coloured by its target');
    await page.waitForSelector('#trend-chart');
    assert.match(await page.textContent('#nav'), /Audit log/);
    await page.screenshot({ path: join(artifacts, '02-overview.png'), fullPage: true });
  });

  // An explicit, complete quarter (not the default period): the one before the demo's
  // report quarter, which its truth file names.
  const truth = JSON.parse(readFileSync(join(ws, 'demo', 'truth', 'ground_truth.json'), 'utf8'));
  const quarter = quarterBefore(truth.kpi_targets.report_quarter);
  const apiJson = (path) => page.evaluate((p) => fetch(p, { credentials: 'same-origin' }).then((r) => r.json()), path);

  await check('the KPI tiles show the numbers /api/v1/kpis answers, formatted by the dashboard\'s rules', async () => {
    await page.goto(`${base}/#/overview?from=${quarter.from}&to=${quarter.to}`);
    await page.waitForFunction((from) => document.querySelector('#from')?.value === from && document.querySelector('[data-testid=kpi-tile]'), quarter.from);
    const api = await apiJson(`/api/v1/kpis?from=${quarter.from}&to=${quarter.to}`);
    assert.equal(api.period.from, quarter.from);
    assert.equal(api.period.to, quarter.to);
    assert.equal(await page.textContent('h1'), `Overview — ${api.period.label}`);
    const tiles = await page.$$eval('[data-testid=kpi-tile]', (ts) => ts.map((t) => ({
      name: t.querySelector('.tile-name').textContent,
      value: t.querySelector('.tile-value').textContent,
      target: t.querySelector('.target').textContent,
      status: t.querySelector('.tile-status').textContent,
    })));
    assert.deepEqual(tiles.map((t) => t.name), api.rows.map((k) => k.name), 'one tile per KPI, in the API\'s order');
    let numbers = 0;
    for (const [i, k] of api.rows.entries()) {
      const t = tiles[i];
      assert.equal(t.value, tileText(k.value, k.unit), `${k.name}: shown '${t.value}', API ${k.value} (${k.unit})`);
      assert.equal(t.target, k.target === null || k.target === undefined ? 'no target' : `target ${tileText(k.target, k.unit)}`, k.name);
      assert.equal(t.status, k.status || 'no target', k.name);
      if (k.value !== null && k.value !== undefined) {
        // Read back, the text is the API's number to within its rounding.
        const { value, half } = readBack(t.value);
        assert.ok(Math.abs(value - k.value) <= half + 1e-9, `${k.name}: '${t.value}' reads ${value}, API ${k.value}`);
        numbers += 1;
      }
    }
    // The demo's quarter has sales, customers, deals, tickets and surveys: most tiles hold a
    // number, and revenue is not nothing.
    assert.ok(numbers >= 15, `only ${numbers} tiles with a number`);
    assert.ok(api.rows.find((k) => k.kpi === 'sales_revenue').value > 1000);
  });

  await check('a drill-down table and the customer list show the numbers their API calls answer', async () => {
    // Sales by region for the quarter: each row's revenue, orders and customers.
    await page.goto(`${base}/#/sales?by=region&from=${quarter.from}&to=${quarter.to}`);
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Sales by region' && document.querySelector('[data-testid=drill-row]'));
    const api = await apiJson(`/api/v1/sales?by=region&from=${quarter.from}&to=${quarter.to}`);
    const shown = await tableCells(page, '[data-testid=drill-row]');
    assert.equal(shown.length, api.rows.length, 'one row per region');
    assert.ok(api.rows.length >= 2, `${api.rows.length} regions`);
    for (const [i, r] of api.rows.entries()) {
      const s = shown[i];
      assert.equal(s.region, r.region);
      // Table cells: whole numbers grouped without decimals, others with two; shares in %.
      assert.equal(s.revenue, Number.isInteger(r.revenue) ? nf0.format(r.revenue) : nf2.format(r.revenue), `${r.region} revenue`);
      assert.ok(Math.abs(readBack(s.revenue).value - r.revenue) <= 0.005 + 1e-9, `${r.region}: '${s.revenue}' against ${r.revenue}`);
      assert.equal(s.orders, nf0.format(r.orders), `${r.region} orders`);
      assert.equal(s.customers, nf0.format(r.customers), `${r.region} customers`);
      assert.equal(s.share, (r.share * 100).toFixed(1) + '%', `${r.region} share`);
    }
    // The regions' revenue adds up to the Sales revenue KPI of the same quarter.
    const kpis = await apiJson(`/api/v1/kpis?from=${quarter.from}&to=${quarter.to}`);
    const total = api.rows.reduce((a, r) => a + r.revenue, 0);
    assert.ok(Math.abs(total - kpis.rows.find((k) => k.kpi === 'sales_revenue').value) < 0.005, `regions sum to ${total}`);

    // The customer list: its count and the first page's orders and revenue.
    await page.goto(base + '/#/customers?tab=list');
    await page.waitForSelector('[data-testid=customer-row]');
    const list = await apiJson('/api/v1/customers?page=1&page_size=25');
    assert.equal(list.total, truth.config.customers, 'every customer of the demo is listed');
    assert.match(await page.textContent('main'), new RegExp(`${nf0.format(list.total)} customers`));
    const rows = await tableCells(page, '[data-testid=customer-row]');
    assert.equal(rows.length, list.rows.length);
    for (const [i, r] of list.rows.entries()) {
      assert.equal(rows[i].customer_id, r.customer_id);
      for (const col of ['orders', 'revenue']) {
        if (r[col] === null || r[col] === undefined) { assert.equal(rows[i][col] ?? '', ''); continue; }
        assert.equal(rows[i][col], Number.isInteger(r[col]) ? nf0.format(r[col]) : nf2.format(r[col]), `${r.customer_id} ${col}`);
      }
    }
    await page.screenshot({ path: join(artifacts, '02b-numbers-checked.png'), fullPage: true });
  });

  await check('clicking a region bar lands on that region\'s reps, with a breadcrumb back', async () => {
    await page.click('#nav-sales');
    await page.waitForSelector('#sales-chart');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Sales by region');
    const region = await clickBar(page, '#sales-chart', 0);
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Sales by rep');
    assert.match(location_hash(await page.evaluate(() => location.hash)), new RegExp(`region=${encodeURIComponent(region)}`));
    assert.match(await page.textContent('#breadcrumb'), new RegExp(`region ${region}`));
    assert.ok((await page.$$('[data-testid=drill-row]')).length >= 1, 'no reps listed');
    await page.screenshot({ path: join(artifacts, '03-region-reps.png'), fullPage: true });
    // One level further: the first rep's customers, then back up with the breadcrumb.
    await page.click('[data-testid=drill-row]');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Sales by customer');
    await page.click('[data-testid=crumb] >> nth=1');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Sales by rep');
  });

  await check('a customer 360 opens from the at-risk list', async () => {
    await page.goto(base + '/#/customers?tab=at-risk');
    await page.waitForSelector('[data-testid=customer-row]');
    // Purchases without a contract: the list is by (1 − P(alive)) × CLV, the churn model's
    // column labelled for what it is.
    const heads = await page.$$eval('th', (ths) => ths.map((t) => t.textContent));
    assert.ok(heads.includes('P(alive)'), heads.join(' | '));
    assert.ok(heads.includes('P(no purchase in the next 90 days)'), heads.join(' | '));
    assert.match(await page.textContent('h2'), /\(1 − P\(alive\)\) × CLV/);
    await page.click('[data-testid=customer-row]');
    await page.waitForSelector('#customer-name');
    const name = await page.textContent('#customer-name');
    assert.match(name, /\(C\d+\)/);
    for (const id of ['#outlook', '#profile', '#consent', '#scores', '[data-testid=section-orders]']) {
      assert.ok(await page.$(id), `missing ${id}`);
    }
    // The 360 leads with P(alive); the churn model's number says what it is.
    const outlook = await page.textContent('#outlook');
    assert.ok(outlook.indexOf('P(alive)') < outlook.indexOf('P(no purchase in the next 90 days)'), outlook);
    assert.ok(await page.$('#outlook [data-testid=measure-p_alive].lead'), 'P(alive) leads');
    assert.match(await page.textContent('#scores'), /churn probability \(old name of P\(no purchase in the next 90 days\)\)/);
    assert.match(await page.textContent('#profile'), /@/);
    await page.screenshot({ path: join(artifacts, '04-customer-360.png'), fullPage: true });
  });

  await check('the forecast draws history and bands and names its model; attribution credits every channel', async () => {
    await page.goto(base + '/#/forecast');
    await page.waitForSelector('[data-testid=forecast-row]');
    assert.match(await page.textContent('[data-testid=forecast-model]'), /Model (ETS\(|seasonal naive|drift)/);
    assert.ok(await page.$('#forecast-chart'), 'forecast chart');
    assert.equal((await page.$$('[data-testid=forecast-row]')).length, 12);
    await page.screenshot({ path: join(artifacts, '07-forecast.png'), fullPage: true });
    await page.goto(base + '/#/forecast?measure=pipeline');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=forecast-row]').length === 6);
    await page.goto(base + '/#/attribution');
    await page.waitForSelector('[data-testid=attribution-row]');
    assert.ok(await page.$('#attribution-chart'), 'attribution chart');
    assert.match(await page.textContent('main'), /shapley/);
    await page.screenshot({ path: join(artifacts, '08-attribution.png'), fullPage: true });
  });

  await check('A/B results draw each variant\'s interval; the marketing mix draws a response curve per channel; channels attribute by a chosen model', async () => {
    await page.goto(base + '/#/experiments');
    await page.waitForSelector('[data-testid=abtest-row]');
    const bars = await page.evaluate(() => window.Chart.getChart('abtest-chart').data.datasets[0].data);
    assert.ok(bars.length >= 1 && bars.every((b) => b.length === 2 && b[0] <= b[1]), `intervals ${JSON.stringify(bars)}`);
    assert.ok((await page.$$('[data-testid=abtest-row]')).length >= 2 * bars.length, 'a row per variant and control');
    // The demo holds out 20 % of each email campaign: against an even split every experiment
    // fails the sample-ratio check, against the design's 20 % none does.
    assert.match(await page.textContent('main'), /far from the even split/);
    await page.selectOption('[data-testid=abtest-design]', '0.2');
    await page.waitForFunction(() => location.hash.includes('control_share=0.2'));
    await page.waitForSelector('[data-testid=experiment-row]');
    assert.doesNotMatch(await page.textContent('main'), /far from the/);
    await page.screenshot({ path: join(artifacts, '09-experiments.png'), fullPage: true });
    await page.selectOption('[data-testid=abtest-measure]', 'revenue');
    await page.waitForFunction(() => location.hash.includes('measure=revenue'));
    await page.waitForSelector('#abtest-chart');
    await page.goto(base + '/#/mix');
    await page.waitForSelector('[data-testid=mmm-row]', { timeout: 120000 });
    const curves = await page.evaluate(() => window.Chart.getChart('mmm-chart').data.datasets.filter((d) => !/ now$/.test(d.label)).map((d) => d.data.length));
    const channels = (await page.$$('[data-testid=mmm-row]')).length;
    assert.equal(curves.length, channels, 'one curve per channel');
    assert.ok(curves.every((n) => n === 42), `points per curve ${curves}`);
    await page.screenshot({ path: join(artifacts, '10-mix.png'), fullPage: true });
    await page.goto(base + '/#/campaigns');
    await page.waitForSelector('[data-testid=channel-row]');
    await page.selectOption('[data-testid=channels-attribution]', 'markov');
    await page.waitForFunction(() => /the markov model's credit/.test(document.querySelector('main').textContent));
    assert.ok((await page.$$('[data-testid=channel-row]')).length >= 4, 'a row per channel');
  });

  await check('the baskets page lists the rules with the highest lift first, for products and for categories', async () => {
    await page.goto(base + '/#/baskets');
    await page.waitForSelector('[data-testid=basket-row]', { timeout: 120000 });
    const lifts = async () => page.$$eval('[data-testid=basket-row]', (rows) => rows.map((r) => Number(r.children[4].textContent.replace(/,/g, ''))));
    const shown = await lifts();
    assert.ok(shown.length >= 1, 'no rules');
    assert.ok(shown.every((v, i) => i === 0 || v <= shown[i - 1]), `lifts not descending: ${shown}`);
    const api = await apiJson('/api/v1/basket?level=product&min_support=0.01');
    assert.equal(shown.length, Math.min(100, api.rules), 'one row per rule, at most 100');
    await page.selectOption('[data-testid=basket-level]', 'category');
    await page.waitForFunction(() => location.hash.includes('level=category'));
    await page.waitForSelector('[data-testid=basket-row]');
    assert.match(await page.textContent('main'), /Product categories bought together/);
    await page.screenshot({ path: join(artifacts, '11-baskets.png'), fullPage: true });
  });

  await check('the segment explorer lists a segment\'s members', async () => {
    await page.goto(base + '/#/customers?tab=segments');
    await page.waitForSelector('[data-testid=segment-cell]');
    await page.click('[data-testid=segment-cell]');
    await page.waitForSelector('[data-testid=customer-row]');
    assert.match(await page.evaluate(() => location.hash), /rfm_segment=/);
    await page.goto(base + '/#/customers?tab=cohorts');
    await page.waitForSelector('#cohort-heatmap td');
    await page.screenshot({ path: join(artifacts, '05-cohorts.png'), fullPage: true });
  });

  await check('a sales manager lands on sales, sees names, and has no segments or audit', async () => {
    const s = await login(browser, base, tokens.sales_manager);
    await s.page.waitForFunction(() => location.hash.startsWith('#/sales'));
    await s.page.waitForSelector('#sales-chart');
    const nav = await s.page.textContent('#nav');
    assert.match(nav, /Pipeline/);
    assert.doesNotMatch(nav, /Audit/);
    await s.page.goto(base + '/#/customers?tab=list');
    await s.page.waitForSelector('[data-testid=customer-row]');
    const firstRow = await s.page.textContent('[data-testid=customer-row]');
    assert.match(firstRow, /@/);
    assert.doesNotMatch(firstRow, /\*\*\*/);
    await s.context.close();
  });

  await check('a marketing manager lands on campaigns and segments, and sees personal data masked', async () => {
    const m = await login(browser, base, tokens.marketing_manager);
    await m.page.waitForFunction(() => location.hash.startsWith('#/campaigns'));
    await m.page.waitForSelector('#campaign-chart');
    assert.match(await m.page.textContent('main'), /ROI/);
    await m.page.screenshot({ path: join(artifacts, '06-marketing-campaigns.png'), fullPage: true });
    await m.page.goto(base + '/#/customers?tab=segments');
    await m.page.waitForSelector('[data-testid=segment-cell]');
    assert.doesNotMatch(await m.page.textContent('#nav'), /Pipeline/);
    await m.page.goto(base + '/#/customers?tab=list');
    await m.page.waitForSelector('[data-testid=customer-row]');
    assert.match(await m.page.textContent('[data-testid=customer-row]'), /\*\*\*@\w\*\*\*/);
    await m.page.screenshot({ path: join(artifacts, '07-marketing-masked.png'), fullPage: true });
    await m.context.close();
  });

  await check('the pages load no asset from outside the server', async () => {
    const outside = [];
    page.on('request', (r) => { if (!r.url().startsWith(base)) outside.push(r.url()); });
    await page.goto(base + '/#/overview');
    await page.waitForSelector('[data-testid=kpi-tile]');
    assert.deepEqual(outside, []);
  });
} catch (e) {
  results.push(['setup', 'FAILED', 0]);
  console.log(`FAIL setup\n     ${e.stack || e}`);
} finally {
  if (browser) await browser.close();
  if (server) server.child.kill('SIGTERM');
  rmSync(ws, { recursive: true, force: true });
}

function location_hash(h) { return h; }

const failed = results.filter((r) => r[1] !== 'ok');
console.log(`${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${artifacts}`);
process.exit(failed.length ? 1 : 0);
