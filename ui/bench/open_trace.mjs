// Measures, in headless Chromium, opening a big trace until its waterfall is interactive and the
// frame times while scrolling it. Env: BASE_URL, TRACE_ID, RUNS. Prints one JSON line.
import { BASE_URL, launch } from "../e2e/browser.mjs";

const TRACE_ID = process.env.TRACE_ID;
const TRACE_B = process.env.TRACE_B ?? TRACE_ID;
const RUNS = Number(process.env.RUNS ?? 5);
const browser = await launch({ viewport: { width: 1440, height: 900 } });
const { page, context } = browser;
const cdp = await context.newCDPSession(page);
await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });

const open = [];
const scroll = [];
const uiAfterApi = [];
const flameRender = [];
const flameZoom = [];
const compareOpen = [];
const compareScroll = [];

/** rAF deltas (ms) while `drive(frameIndex)` runs on each of `count` frames. */
const frameTimes = (selector, count, mode) =>
  page.evaluate(
    ({ selector, count, mode }) =>
      new Promise((resolve) => {
        const el = document.querySelector(selector);
        const deltas = [];
        let last = performance.now();
        let n = 0;
        const rect = el.getBoundingClientRect();
        const step = (now) => {
          deltas.push(now - last);
          last = now;
          if (mode === "scroll") el.scrollTop += 240;
          else if (n % 12 === 0) {
            // a click on a depth-1 rect zooms (animated over the next frames); alternate with reset
            const reset = document.querySelector('[data-testid="flame-reset"]');
            if ((n / 12) % 2 === 1 && reset && !reset.disabled) reset.click();
            else el.dispatchEvent(new MouseEvent("click", { clientX: rect.left + rect.width * (0.1 + ((n * 7) % 80) / 100), clientY: rect.top + 30, bubbles: true }));
          }
          if (++n < count) requestAnimationFrame(step);
          else resolve(deltas.slice(1));
        };
        requestAnimationFrame(step);
      }),
    { selector, count, mode },
  );
const summary = (frames) => {
  frames.sort((a, b) => a - b);
  const q = (p) => frames[Math.min(frames.length - 1, Math.floor(p * frames.length))];
  return { p50: q(0.5), p95: q(0.95), max: frames[frames.length - 1], long: frames.filter((f) => f > 50).length, count: frames.length };
};
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

  // Flame graph: navigation until the canvas has drawn, then frame times over zoom clicks.
  await page.goto("about:blank");
  const f0 = Date.now();
  await page.goto(`${BASE_URL}/traces/${TRACE_ID}?view=flame`);
  await page.waitForFunction(() => Number(document.querySelector(".flame-canvas")?.dataset.drawn ?? 0) > 0, null, { timeout: 60_000 });
  flameRender.push(Date.now() - f0);
  flameZoom.push(summary(await frameTimes(".flame-canvas", 144, "zoom")));

  // Compare view: navigation until the first matched row, then scroll frame times.
  await page.goto("about:blank");
  const c0 = Date.now();
  await page.goto(`${BASE_URL}/compare?a=${TRACE_ID}&b=${TRACE_B}`);
  await page.locator('[data-testid="compare-row"]').first().waitFor({ timeout: 60_000 });
  compareOpen.push(Date.now() - c0);
  compareScroll.push(summary(await frameTimes(".cmp-body", 150, "scroll")));
}
await browser.close();
console.log(JSON.stringify({ open_ms: open, ui_after_api_ms: uiAfterApi, scroll, flame_render_ms: flameRender, flame_zoom: flameZoom, compare_open_ms: compareOpen, compare_scroll: compareScroll }));
