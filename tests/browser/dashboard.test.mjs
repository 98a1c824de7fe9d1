// Dashboard tests in a real headless Chromium (Debian's package, driven by playwright-core):
// a demo workspace, users of three roles, the real server on a random port; then log in,
// see the KPI tiles, click a region bar and land on its reps, open a customer 360, and check
// what each role sees. Screenshots go to tests/browser/artifacts/.
//
//   node tests/browser/dashboard.test.mjs        (CLIENTELE_BIN: the binary, default target/debug/clientele)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
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
