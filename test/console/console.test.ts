/// <reference lib="dom" />
/**
 * The web console in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against a real cluster of one router and two agents: log in, see a function with its metrics,
 * change its memory and see it through the CLI, test-invoke it, watch a live log line arrive,
 * redrive a dead letter, see both agents. Layout is checked on the DOM (sizes, overlaps, labels),
 * not on pixels; screenshots of each page go to test/console/screenshots/ (not in git).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { StratusClient } from '../../sdk/client/stratus-client';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';
import { distEntry } from '../helpers/stratus-process';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOTS = path.join(__dirname, 'screenshots');
const CLI = distEntry('sdk/cli/main.js');

const HANDLER = 'exports.handler = async (e) => { console.log("handled", JSON.stringify(e)); if (e && e.fail) throw new TypeError("asked to fail"); return { echo: e }; };';

/** Fails the test when the page's layout is broken: things outside the viewport, overlapping, or unlabelled. */
async function checkLayout(page: Page, what: string): Promise<void> {
  const problems = await page.evaluate(() => {
    const out: string[] = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width + 1) out.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${width})`);
    const header = document.querySelector('header.top')!.getBoundingClientRect();
    const mainBox = document.querySelector('main')!.getBoundingClientRect();
    if (header.height < 20 || header.bottom > mainBox.top + 1) out.push('the header overlaps the content');
    for (const input of Array.from(document.querySelectorAll('input, textarea, select'))) {
      const i = input as HTMLInputElement;
      if (i.type !== 'hidden' && i.labels?.length === 0 && !i.getAttribute('aria-label')) out.push(`an input without a label: ${i.outerHTML.slice(0, 80)}`);
    }
    for (const b of Array.from(document.querySelectorAll('button'))) if (!(b.textContent ?? '').trim() && !b.getAttribute('aria-label')) out.push('a button without a name');
    for (const t of Array.from(document.querySelectorAll('table'))) {
      const box = t.getBoundingClientRect();
      if (box.width > width + 1) out.push(`table ${t.id} is wider than the page`);
      const first = (t as HTMLTableElement).rows[0];
      const cells = first ? Array.from(first.cells).map((c) => c.getBoundingClientRect()) : [];
      for (let i = 1; i < cells.length; i += 1) if (cells[i]!.left < cells[i - 1]!.right - 1) out.push(`table ${t.id}: columns ${i - 1} and ${i} overlap`);
    }
    return out;
  });
  expect({ page: what, problems }).toEqual({ page: what, problems: [] });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  // The README's pictures (docs/console-*.jpg) are these, copied by hand when the pages change.
  await page.screenshot({ path: path.join(SHOTS, `readme-${name}.jpg`), type: 'jpeg', quality: 70 });
}

// CI installs chromium (.ci/run): there a missing browser fails the suite instead of skipping it.
if (!CHROMIUM && process.env.CI) throw new Error('chromium is not installed: apt-get install chromium (the console tests need it)');

(CHROMIUM ? describe : describe.skip)('the web console in Chromium', () => {
  let cluster: TestCluster;
  let client: StratusClient;
  let browser: Browser;
  let page: Page;
  let base: string;
  const fn = uniqueName('con-fn');
  const failing = uniqueName('con-dlq');

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cluster = await startCluster({ agents: 2 });
    client = cluster.client({ maxAttempts: 1 });
    base = `http://127.0.0.1:${cluster.routers[0]!.httpPort}`;
    await client.deploy({ name: fn, source: functionDir({ 'index.js': HANDLER }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    await client.deploy({ name: failing, source: functionDir({ 'index.js': HANDLER }), settings: { runtime: 'nodejs', handler: 'index.handler', async: { maxRetryAttempts: 0 } } });
    for (let i = 0; i < 4; i += 1) await client.invoke(fn, JSON.stringify({ i }));
    await client.invoke(fn, '{"fail":true}');
    await client.invokeAsync(failing, '{"fail":true}');
    await waitFor('the dead letter', async () => (await client.listDeadLetters(failing)).deadLetters.length === 1, 30_000, 200);
    await waitFor('the invocation records', async () => (await client.invocations.list(fn)).invocations.length === 5, 10_000, 100);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  test('refuses the API without a login, and a bad token at the login', async () => {
    expect((await fetch(`${base}/console/api/functions`)).status).toBe(401);
    const json = { 'content-type': 'application/json' };
    expect((await fetch(`${base}/console/api/functions/${fn}`, { method: 'PATCH', headers: json, body: '{"memoryMb":512}' })).status).toBe(401);
    // A cross-site form posts text: refused before anything else.
    expect((await fetch(`${base}/console/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ token: cluster.apiToken }) })).status).toBe(400);
    const bad = await fetch(`${base}/console/login`, { method: 'POST', headers: json, body: JSON.stringify({ token: 'stx_nope' }) });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    await page.goto(`${base}/console`);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/Unauthenticated/);
  });

  test('logs in, and lists the function with its last hour: requests, errors, cold starts', async () => {
    await page.goto(`${base}/console`);
    await page.getByLabel('API token').waitFor();
    await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
    const paint = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]!.startTime);
    expect(paint).toBeGreaterThan(0);
    expect(paint).toBeLessThan(1000);
    await page.getByLabel('API token').fill(cluster.apiToken);
    await page.getByRole('button', { name: 'Log in' }).click();
    const row = page.locator(`tr[data-function="${fn}"]`);
    await row.waitFor();
    expect(await row.locator('[data-metric="requests"]').textContent()).toBe('5');
    expect(await row.locator('[data-metric="errors"]').textContent()).toBe('1');
    expect(await row.locator('[data-metric="cold"]').textContent()).toBe('1');
    // The cookie is HTTP-only: the page's scripts cannot read the token.
    expect(await page.evaluate(() => document.cookie)).toBe('');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'stratus_console')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    // Search narrows the list; keyboard reaches it.
    await page.getByLabel('Search').fill(fn);
    expect(await page.locator('#functions tbody tr').count()).toBe(1);
    await page.getByLabel('Search').fill('');
    await checkLayout(page, 'functions');
    await shot(page, 'functions');
  });

  test("edits the function's memory, and the CLI sees the change; a bad value is refused inline", async () => {
    await page.goto(`${base}/console#/functions/${fn}`);
    await page.getByLabel('Memory (MB)').fill('256');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    const cfg = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const got = spawnSync(process.execPath, [CLI, 'get', fn, '--json'], { env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), STRATUS_ENDPOINT: cluster.routers[0]!.address, STRATUS_TOKEN: cluster.apiToken, STRATUS_CONFIG: path.join(cfg, 'c.json') }, encoding: 'utf8' });
    expect(got.status).toBe(0);
    expect(JSON.parse(got.stdout).memoryMb).toBe(256);
    await page.getByLabel('Memory (MB)').fill('5');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await expect(page.locator('#config [role="alert"]').textContent()).resolves.toMatch(/InvalidRequest: invalid memory 5/);
    await page.getByLabel('Memory (MB)').fill('256');
  });

  test('test-invokes the function, and shows a live log line as it is written', async () => {
    await page.goto(`${base}/console#/functions/${fn}`);
    await page.locator('#live-state').filter({ hasText: 'Following' }).waitFor({ timeout: 10_000 });
    await page.getByLabel('Event (JSON)').fill('{"from":"console"}');
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    await page.locator('#invoke-result pre.result').waitFor();
    expect(JSON.parse((await page.locator('#invoke-result pre.result').textContent()) ?? '')).toEqual({ echo: { from: 'console' } });
    expect(await page.locator('#invoke-result').textContent()).toMatch(/REPORT RequestId/);
    const marker = `marker-${Date.now()}`;
    await client.invoke(fn, JSON.stringify({ marker }));
    await page.locator('#live-logs').filter({ hasText: marker }).waitFor({ timeout: 5000 });
    // A recent invocation opens with its record and its lines.
    await page.locator('#invocations button.request').first().click();
    await page.locator('#invocation-detail').filter({ hasText: 'START RequestId' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#invocation-detail').textContent()).toMatch(/"status": "(Success|Error)"[\s\S]*START RequestId/);
    await checkLayout(page, 'function');
    await shot(page, 'function');
  });

  test('lists, inspects and redrives a dead letter', async () => {
    await page.goto(`${base}/console#/functions/${failing}/dead-letters`);
    const row = page.locator('#dead-letters tbody tr');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    await row.first().getByRole('button', { name: 'Inspect' }).click();
    await expect(page.locator('#dead-letter-detail pre').textContent()).resolves.toMatch(/asked to fail/);
    await checkLayout(page, 'dead letters');
    await shot(page, 'dead-letters');
    await row.first().getByRole('button', { name: 'Redrive' }).click();
    await page.getByRole('status').filter({ hasText: 'Redriven 1' }).waitFor();
    // The redriven event ran again (and failed again, into a new dead letter): its record says redrive.
    await waitFor('the redriven run', async () => (await client.invocations.list(failing, { trigger: 'redrive' })).invocations.length === 1, 20_000, 200);
  });

  test('shows both agents and the router', async () => {
    await page.goto(`${base}/console#/cluster`);
    await page.locator('#agents tbody tr').nth(1).waitFor();
    expect(await page.locator('#agents tbody tr').count()).toBe(2);
    expect(await page.locator('#agents').textContent()).toMatch(/agent-1[\s\S]*agent-2|agent-2[\s\S]*agent-1/);
    expect(await page.locator('#routers tbody tr').count()).toBe(1);
    await checkLayout(page, 'cluster');
    await shot(page, 'cluster');
  });

  test('logs out: the cookie is gone and the API refuses the page again', async () => {
    await page.goto(`${base}/console`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API token').waitFor();
    expect((await page.context().cookies()).find((c) => c.name === 'stratus_console')).toBeUndefined();
    expect(await page.evaluate(async () => (await fetch('/console/api/functions')).status)).toBe(401);
  });
});
