import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../reports/render-html.ts';
import type { Report } from '../reports/report-model.ts';
import { runRehearsal } from '../scripts/rehearsal.ts';
import { requireSystemBinary } from './support/system-binary.ts';

/**
 * report.html in a real browser: Debian's Chromium, headless, never a browser Playwright downloads.
 * The unit tests check the markup; this checks what a reader gets: no error, no request for
 * anything but the file itself, every chart laid out with a size, and a page that prints.
 * The fixtures' shape and arithmetic are checked in reports/render.test.ts.
 */

const CHARTS = ['chart-arrivals', 'chart-funnel', 'chart-latency', 'chart-losses', 'chart-utilisation'];
const OUT = join(import.meta.dirname, '..', 'test-output');
const fixture = (name: string): Report =>
  JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'reports', 'fixtures', `report.${name}.json`), 'utf8'),
  );
const FIXTURES = { broken: fixture('broken'), held: fixture('held') };

const chromiumPath = requireSystemBinary(['chromium', 'chromium-browser'], 'chromium');

interface Observed {
  errors: string[];
  requests: string[];
}

/** Records console errors, page errors and every request; refuses any request but the report itself. */
async function watch(page: Page, allowed: string): Promise<Observed> {
  const seen: Observed = { errors: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.errors.push(`page: ${e.message}`));
  page.on('request', (r) => seen.requests.push(r.url()));
  await page.route('**/*', (route) => (route.request().url() === allowed ? route.continue() : route.abort()));
  return seen;
}

async function chartBoxes(page: Page): Promise<Array<{ id: string; width: number; height: number }>> {
  return page.$$eval('figure.chart', (figures) =>
    figures.map((figure) => {
      const box = figure.querySelector('svg')?.getBoundingClientRect();
      return { id: figure.id, width: box?.width ?? 0, height: box?.height ?? 0 };
    }),
  );
}

describe.skipIf(!chromiumPath)('report.html in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    // A CI container runs as root without user namespaces: Chromium's sandbox cannot start there.
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** Opens a report's HTML and checks what a reader gets. */
  async function checkInBrowser(name: string, html: string, report: Report): Promise<void> {
    const file = join(OUT, `report-${name}.html`);
    writeFileSync(file, html);
    const url = pathToFileURL(file).href;
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const seen = await watch(page, url);

    await page.goto(url, { waitUntil: 'load' });

    const boxes = await chartBoxes(page);
    expect(boxes.map((b) => b.id).sort()).toEqual(CHARTS);
    for (const box of boxes) {
      expect(box.width, box.id).toBeGreaterThan(100);
      expect(box.height, box.id).toBeGreaterThan(100);
    }
    const verdict = page.locator('#verdict .headline strong');
    await expect(verdict.textContent()).resolves.toBe(report.verdict.held ? 'HELD' : 'BROKE');
    // Red for broke, green for held: the colour a reader sees first must agree with the words.
    // An expression, not a function: the project's TypeScript has no DOM library; the page has.
    const colour = await page.evaluate(
      `getComputedStyle(document.querySelector('#verdict .headline strong')).backgroundColor`,
    );
    expect(colour).toBe(report.verdict.held ? 'rgb(27, 122, 51)' : 'rgb(179, 38, 30)');

    await page.screenshot({ path: join(OUT, `report-${name}.png`), fullPage: true });
    const pdf = await page.pdf({
      path: join(OUT, `report-${name}.pdf`),
      format: 'A4',
      printBackground: true,
    });
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(readFileSync(join(OUT, `report-${name}.pdf`)).length).toBe(pdf.length);

    expect(seen.errors).toEqual([]);
    expect(seen.requests).toEqual([url]);
    await page.close();
  }

  for (const [name, report] of Object.entries(FIXTURES)) {
    it(`${name}: loads with no error and no request, shows every chart, and prints`, async () => {
      await checkInBrowser(name, await renderHtml(report), report);
    });
  }

  it('live: the report of a tiny rehearsal on the real stack, the same checks', async () => {
    const results = mkdtempSync(join(tmpdir(), 'gelombang-live-report-'));
    const r = await runRehearsal({
      scenario: 'registration-day',
      scenarioFile: resolve('scenarios/registration-day.ts'),
      // The first two minutes at full scale are 61,923 registrants: the prediction takes seconds.
      scale: 0.0005,
      compress: 60,
      window: [0, 2],
      knobs: { SCRYPT_N: '1024' },
      serviceProfile: '2020',
      resultsDir: results,
      runId: 'live',
      env: { THINK_COMPRESS: '20000', GRACEFUL_STOP: '20s' },
      intervalSeconds: 0.5,
      quiet: true,
      fullScale: true,
      log: () => {},
    });
    expect(r.error).toBeUndefined();
    const report = JSON.parse(readFileSync(join(results, 'live', 'report.json'), 'utf8')) as Report;
    expect(report.fullScale?.predicted).toBe(true);
    const html = readFileSync(join(results, 'live', 'report.html'), 'utf8');
    const section = html.slice(html.indexOf('<section id="full-scale"'));
    expect(section.slice(0, section.indexOf('</section>')).match(/<table/g)).toHaveLength(2);
    await checkInBrowser('live', readFileSync(join(results, 'live', 'report.html'), 'utf8'), report);
  }, 120_000);
});
