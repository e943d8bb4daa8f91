// Measures, in headless Chromium, opening a big trace until its waterfall is interactive and the
// frame times while scrolling it. Env: BASE_URL, TRACE_ID, RUNS. Prints one JSON line.
import { BASE_URL, launch } from "../e2e/browser.mjs";

const TRACE_ID = process.env.TRACE_ID;
const RUNS = Number(process.env.RUNS ?? 5);
const browser = await launch({ viewport: { width: 1440, height: 900 } });
const { page, context } = browser;
const cdp = await context.newCDPSession(page);
await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });

const open = [];
const scroll = [];
const uiAfterApi = [];
for (let run = 0; run < RUNS; run++) {
  await page.goto("about:blank");
  const t0 = Date.now();
  await page.goto(`${BASE_URL}/traces/${TRACE_ID}`);
  await page.locator('[data-testid="waterfall"] [data-span-id]').first().waitFor({ timeout: 60_000 });
  // Interactive: a collapse click re-renders the tree (proves the main thread is free and wired).
  const before = await page.getAttribute('[data-testid="waterfall"]', "data-rows");
  await page.locator('[data-testid="toggle"]').first().click();
  await page.waitForFunction((b) => document.querySelector('[data-testid="waterfall"]').dataset.rows !== b, before);
  open.push(Date.now() - t0);
  // Split: how much of that was the API answering, and how much the UI (parse, build, render, click).
  uiAfterApi.push(
    await page.evaluate((id) => {
      const api = performance.getEntriesByType("resource").find((e) => e.name.endsWith(`/api/v1/traces/${id}`) || e.name.endsWith(`/api/v1/traces/${id}/timeline`));
      return api ? performance.now() - api.responseEnd : null;
    }, TRACE_ID),
  );
  await page.locator('[data-testid="toggle"]').first().click(); // expand again for the scroll test
  await page.waitForFunction((b) => document.querySelector('[data-testid="waterfall"]').dataset.rows === b, before);

  const frames = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const el = document.querySelector(".waterfall-body");
        const deltas = [];
        let last = performance.now();
        let n = 0;
        const step = (now) => {
          deltas.push(now - last);
          last = now;
          el.scrollTop += 240;
          if (++n < 150) requestAnimationFrame(step);
          else resolve(deltas.slice(1));
        };
        requestAnimationFrame(step);
      }),
  );
  frames.sort((a, b) => a - b);
  const q = (p) => frames[Math.min(frames.length - 1, Math.floor(p * frames.length))];
  scroll.push({ p50: q(0.5), p95: q(0.95), max: frames[frames.length - 1], long: frames.filter((f) => f > 50).length, count: frames.length });
}
await browser.close();
console.log(JSON.stringify({ open_ms: open, ui_after_api_ms: uiAfterApi, scroll }));
