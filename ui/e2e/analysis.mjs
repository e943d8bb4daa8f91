// Analysis tools end to end (driven by tests/e2e/test_ui_analysis.py): critical path, keyboard,
// in-trace search, flame graph, comparison, workflow aggregates, export/import, CSV, links.
// Env: BASE_URL, WORKFLOW, TRACE_ID, LLM_SPAN_ID, SPAN_COUNT, VARIANT_ID, WIDE_ID, SCREENSHOT_DIR, DOWNLOAD_DIR.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BASE_URL, check, launch, runSteps } from "./browser.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const WORKFLOW = env("WORKFLOW");
const TRACE_ID = env("TRACE_ID");
const LLM_SPAN_ID = env("LLM_SPAN_ID");
const SPAN_COUNT = Number(env("SPAN_COUNT"));
const VARIANT_ID = env("VARIANT_ID");
const WIDE_ID = env("WIDE_ID");
const SHOTS = env("SCREENSHOT_DIR");
const DOWNLOADS = env("DOWNLOAD_DIR");
mkdirSync(SHOTS, { recursive: true });
mkdirSync(DOWNLOADS, { recursive: true });

const browser = await launch();
const { page, context } = browser;
const shot = async (name) => {
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
};
const cursorId = () => page.evaluate(() => document.querySelector(".wf-row.cursor")?.dataset.spanId ?? null);
const rows = async () => Number(await page.getAttribute('[data-testid="waterfall"]', "data-rows"));
/** Clicks depth-1 rects of the flame graph (left to right) until one zooms the view. */
async function clickUntilZoomed(canvas) {
  const box = await canvas.boundingBox();
  for (const f of [0.02, 0.1, 0.25, 0.45, 0.65, 0.85]) {
    await canvas.click({ position: { x: box.width * f, y: 30 } });
    await page.waitForTimeout(350);
    if ((await page.getByTestId("flame-graph").getAttribute("data-zoom")) !== "0.0000,1.0000") return;
  }
  throw new Error("no click on depth 1 zoomed the flame graph");
}
const openTrace = async (id, query = "") => {
  await page.goto(`${BASE_URL}/traces/${id}${query}`);
  await page.getByTestId("trace-view").waitFor();
};

await runSteps(
  [
    [
      "critical path on the waterfall",
      async () => {
        await openTrace(TRACE_ID);
        await page.getByTestId("waterfall").waitFor();
        const sections = await page.getByTestId("critical-section").count();
        check(sections >= 2, `critical sections drawn (${sections})`);
        const rootCritical = await page.locator(".wf-row").first().evaluate((el) => el.classList.contains("on-critical"));
        check(rootCritical, "the root span is on the critical path");
        check((await page.locator(".wf-self").count()) > 0, "self time shown on spans with children");
        await shot("critical-path");
        await page.getByTestId("critical-toggle").uncheck();
        check((await page.getByTestId("critical-section").count()) === 0, "critical path can be switched off");
        await page.getByTestId("critical-toggle").check();
      },
    ],
    [
      "keyboard navigation",
      async () => {
        await openTrace(TRACE_ID);
        await page.getByTestId("waterfall").waitFor();
        await page.locator("body").click({ position: { x: 5, y: 5 } });
        const first = await page.locator(".wf-row").first().getAttribute("data-span-id");
        const second = await page.locator(".wf-row").nth(1).getAttribute("data-span-id");
        await page.keyboard.press("j");
        check((await cursorId()) === first, "j puts the cursor on the first span");
        await page.keyboard.press("j");
        check((await cursorId()) === second, "j moves down");
        await page.keyboard.press("k");
        check((await cursorId()) === first, "k moves up");
        await page.keyboard.press("h");
        await page.waitForFunction(() => document.querySelector('[data-testid="waterfall"]').dataset.rows === "1");
        await page.keyboard.press("l");
        await page.waitForFunction((n) => document.querySelector('[data-testid="waterfall"]').dataset.rows === String(n), SPAN_COUNT);
        await page.keyboard.press("ArrowDown");
        check((await cursorId()) === second, "arrow keys move too");
        await page.keyboard.press("?");
        await page.getByTestId("shortcut-sheet").waitFor();
        await shot("shortcuts");
        await page.keyboard.press("Escape");
        await page.getByTestId("shortcut-sheet").waitFor({ state: "detached" });
        await page.keyboard.press("/");
        check((await page.evaluate(() => document.activeElement?.dataset.testid)) === "trace-search", "/ focuses the search");
        await page.keyboard.type("chat");
        await page.getByTestId("match-count").waitFor();
        check((await page.getByTestId("match-count").textContent()) === "1 match", "one span matches 'chat'");
        check((await page.locator(".wf-row.match").count()) === 1, "the match is highlighted");
        check((await page.locator(".wf-row.dim").count()) === SPAN_COUNT - 1, "the others are dimmed");
        await page.keyboard.press("Enter"); // in the search box: jump to the next match
        check((await cursorId()) === LLM_SPAN_ID, "Enter in the search jumps to the match");
        await shot("search");
        await page.keyboard.press("Enter"); // outside the box: open the detail
        await page.waitForURL((url) => url.searchParams.get("span") === LLM_SPAN_ID);
        await page.getByTestId("llm-section").waitFor();
        await page.keyboard.press("Escape");
        await page.waitForURL((url) => !url.searchParams.has("span"));
      },
    ],
    [
      "detail panel loads one span on demand",
      async () => {
        const seen = [];
        page.on("request", (r) => seen.push(r.url()));
        await openTrace(TRACE_ID, `?span=${LLM_SPAN_ID}`);
        await page.getByTestId("llm-section").waitFor();
        check(seen.some((u) => u.endsWith(`/api/v1/traces/${TRACE_ID}/timeline`)), "the timeline was loaded");
        check(seen.some((u) => u.endsWith(`/api/v1/traces/${TRACE_ID}/spans/${LLM_SPAN_ID}`)), "the selected span was fetched");
        check(!seen.some((u) => u.endsWith(`/api/v1/traces/${TRACE_ID}`)), "the full trace was not fetched");
        page.removeAllListeners("request");
      },
    ],
    [
      "flame graph: zoom, colour, search",
      async () => {
        await openTrace(TRACE_ID);
        await page.getByTestId("view-flame").click();
        await page.waitForURL((url) => url.searchParams.get("view") === "flame");
        const canvas = page.locator(".flame-canvas");
        await canvas.waitFor();
        await page.waitForFunction(() => Number(document.querySelector(".flame-canvas")?.dataset.drawn ?? 0) === 6 || Number(document.querySelector(".flame-canvas")?.dataset.drawn ?? 0) >= 5);
        const flame = page.getByTestId("flame-graph");
        check((await flame.getAttribute("data-zoom")) === "0.0000,1.0000", "starts unzoomed");
        await clickUntilZoomed(canvas);
        await page.waitForTimeout(400); // the zoom animation settles
        const zoom = await flame.getAttribute("data-zoom");
        check(zoom !== "0.0000,1.0000", `zoomed to the clicked span (${zoom})`);
        await page.waitForURL((url) => url.searchParams.has("span"));
        await page.getByTestId("flame-reset").click();
        await page.waitForFunction(() => document.querySelector('[data-testid="flame-graph"]').dataset.zoom === "0.0000,1.0000");
        await page.getByTestId("flame-color-by").selectOption("tokens");
        check((await flame.getAttribute("data-color-by")) === "tokens", "colour by tokens");
        await page.getByTestId("trace-search").fill("tool");
        check((await page.getByTestId("match-count").textContent()) === "1 match", "search works in the flame graph");
        await page.goto(`${BASE_URL}/traces/${TRACE_ID}?view=flame`);
        await canvas.waitFor();
        await shot("flame-graph");
        await page.emulateMedia({ colorScheme: "dark" });
        await shot("flame-graph-dark");
        await page.emulateMedia({ colorScheme: "light" });
      },
    ],
    [
      "flame graph of a large trace",
      async () => {
        await page.goto(`${BASE_URL}/traces/${WIDE_ID}?view=flame`);
        await page.locator(".flame-canvas").waitFor();
        const drawn = async () => Number((await page.locator(".flame-canvas").getAttribute("data-drawn")) ?? 0);
        for (let i = 0; i < 50 && (await drawn()) <= 20; i++) await page.waitForTimeout(200);
        check((await drawn()) > 20, `rects drawn for the large trace (${await drawn()})`);
        await clickUntilZoomed(page.locator(".flame-canvas"));
        await page.waitForTimeout(400);
        await shot("flame-graph-large-zoomed");
      },
    ],
    [
      "compare two traces",
      async () => {
        await page.goto(`${BASE_URL}/traces?q=${encodeURIComponent(`workflow:${WORKFLOW}`)}`);
        await page.locator(`[data-trace-id="${TRACE_ID}"]`).waitFor();
        await page.locator(`[data-trace-id="${TRACE_ID}"] [data-testid="pick-row"]`).check();
        await page.locator(`[data-trace-id="${VARIANT_ID}"] [data-testid="pick-row"]`).check();
        await page.getByTestId("compare-button").click();
        await page.waitForURL((url) => url.pathname === "/compare" && url.searchParams.has("a") && url.searchParams.has("b"));
        await page.getByTestId("compare-row").first().waitFor();
        const status = async (name) => page.locator(`[data-testid="compare-row"][data-name="${name}"]`).first().getAttribute("data-status");
        const url = new URL(page.url());
        const variantIsB = url.searchParams.get("b") === VARIANT_ID;
        check((await status("rerank")) === (variantIsB ? "added" : "removed"), "the extra span is added/removed");
        check((await status("chat gpt-4o-mini")) === "changed", "the LLM span with other tokens is changed");
        check((await status("retrieve")) !== "added", "retrieve is matched");
        await page.locator('[data-testid="compare-row"][data-name="chat gpt-4o-mini"]').click();
        await page.getByTestId("completion-diff").waitFor();
        await page.waitForFunction(() => document.querySelector('[data-testid="completion-diff"] ins') !== null);
        const diff = await page.getByTestId("completion-diff").innerHTML();
        check(diff.includes("<ins>") || diff.includes("<del>"), "the completion diff marks the changed words");
        check((await page.getByTestId("compare-totals").textContent()).includes("Tokens"), "totals shown");
        await shot("compare");
      },
    ],
    [
      "workflow aggregates",
      async () => {
        await openTrace(TRACE_ID);
        await page.getByTestId("workflow-link").click();
        await page.waitForURL(`**/workflows/${WORKFLOW}`);
        await page.getByTestId("latency-histogram").waitFor();
        const table = await page.getByTestId("span-stats").textContent();
        check(table.includes("chat gpt-4o-mini") && table.includes("retrieve"), "per-span-name statistics");
        check((await page.getByTestId("workflow-stats").textContent()).includes("p95"), "percentiles shown");
        await shot("workflow-aggregates");
        await page.goto(`${BASE_URL}/traces?workflow=${encodeURIComponent(WORKFLOW)}`);
        await page.getByTestId("workflow-aggregates-link").waitFor();
      },
    ],
    [
      "export a trace and view it offline",
      async () => {
        await openTrace(TRACE_ID);
        const href = await page.getByTestId("export-otlp").getAttribute("href");
        const res = await page.request.get(`${BASE_URL}${href}`);
        check(res.ok(), `export answered ${res.status()}`);
        const file = join(DOWNLOADS, `trace-${TRACE_ID}.json`);
        writeFileSync(file, await res.body());
        await page.goto(`${BASE_URL}/import`);
        await page.getByTestId("import-page").waitFor();
        const apiCalls = [];
        page.on("request", (r) => {
          if (r.url().includes("/api/v1/traces")) apiCalls.push(r.url());
        });
        await page.getByTestId("import-file").setInputFiles(file);
        await page.getByTestId("waterfall").waitFor();
        check((await rows()) === SPAN_COUNT, `all ${SPAN_COUNT} imported spans shown`);
        await page.locator(`[data-span-id="${LLM_SPAN_ID}"]`).click();
        await page.getByTestId("llm-section").waitFor();
        check((await page.getByTestId("chat").textContent()).includes("capital of France"), "prompt from the file");
        await shot("import-offline");
        check(apiCalls.length === 0, `no trace requests to the server (${apiCalls.join(", ")})`);
        page.removeAllListeners("request");
        await page.getByTestId("import-file").setInputFiles({ name: "bad.json", mimeType: "application/json", buffer: Buffer.from('{"hello": 1}') });
        await page.getByTestId("import-error").waitFor();
        check((await page.getByTestId("import-error").textContent()).includes("resourceSpans"), "a bad file gets a clear error");
      },
    ],
    [
      "export the filtered list as CSV",
      async () => {
        await page.goto(`${BASE_URL}/traces?workflow=${encodeURIComponent(WORKFLOW)}`);
        await page.locator(`[data-trace-id="${TRACE_ID}"]`).waitFor();
        const href = await page.getByTestId("export-csv").getAttribute("href");
        const url = new URL(href, BASE_URL);
        check(url.searchParams.get("format") === "csv" && url.searchParams.get("workflow_name") === WORKFLOW, `CSV link carries the filters (${href})`);
        const res = await page.request.get(url.toString());
        const text = await res.text();
        check(res.ok() && text.split("\n")[0].includes("trace_id") && text.includes(TRACE_ID), "CSV of the filtered list");
        check(!text.includes("big.run"), "traces outside the filter are not exported");
      },
    ],
    [
      "copy links to a trace and a span",
      async () => {
        await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE_URL });
        await openTrace(TRACE_ID, `?span=${LLM_SPAN_ID}`);
        await page.getByLabel("Copy link to this trace").click();
        check((await page.evaluate(() => navigator.clipboard.readText())) === `${BASE_URL}/traces/${TRACE_ID}`, "trace link copied");
        await page.getByLabel("Copy link to this span").click();
        check((await page.evaluate(() => navigator.clipboard.readText())) === `${BASE_URL}/traces/${TRACE_ID}?span=${LLM_SPAN_ID}`, "span link copied");
      },
    ],
    ["no uncaught page errors", async () => check(browser.errors.length === 0, browser.errors.join("; "))],
  ],
  () => browser.close(),
);
