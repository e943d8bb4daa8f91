// End-to-end scenarios against a running msgtrace server (driven by tests/e2e/test_ui.py).
// Env: BASE_URL, WORKFLOW (unique workflow of this run's traces), TRACE_ID + LLM_SPAN_ID + SPAN_COUNT
// (the LLM trace), DELETE_TRACE_ID (a trace to delete), LIVE_NAME (root span name of a trace the
// test sends after this script prints WAITING_LIVE).
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
const DELETE_TRACE_ID = env("DELETE_TRACE_ID");
const LIVE_NAME = env("LIVE_NAME");

const browser = await launch();
const { page } = browser;
/** Polls an async condition until it holds (or fails after `attempts` tries, 200 ms apart). */
async function waitUntil(condition, what, attempts = 100) {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`gave up waiting: ${what}`);
}
const rowCount = async () => Number(await page.getAttribute('[data-testid="waterfall"]', "data-rows"));

await runSteps(
  [
    [
      "search with a query",
      async () => {
        await page.goto(`${BASE_URL}/traces`);
        const input = page.getByTestId("query-input");
        await input.fill("(duration:>1s");
        await page.getByTestId("query-error").waitFor();
        await input.fill(`workflow:${WORKFLOW}`);
        await input.press("Enter");
        await page.waitForURL((url) => url.searchParams.get("q") === `workflow:${WORKFLOW}`);
        await page.locator(`[data-trace-id="${TRACE_ID}"]`).waitFor();
        await page.waitForFunction(() => document.querySelectorAll('[data-testid="trace-row"]').length === 2);
        check((await page.getByTestId("query-error").count()) === 0, "no query error for a valid query");
      },
    ],
    [
      "open a trace",
      async () => {
        await page.locator(`[data-trace-id="${TRACE_ID}"] a`).first().click();
        await page.waitForURL(`**/traces/${TRACE_ID}`);
        await page.getByTestId("waterfall").waitFor();
        check((await rowCount()) === SPAN_COUNT, `waterfall shows all ${SPAN_COUNT} spans`);
        check((await page.getByTestId("trace-header").textContent()).includes("gpt-4o-mini"), "header lists the model");
        await page.getByTestId("errors-section").waitFor();
      },
    ],
    [
      "expand and collapse the tree",
      async () => {
        await page.getByTestId("collapse-all").click();
        await page.waitForFunction(() => document.querySelector('[data-testid="waterfall"]').dataset.rows === "1");
        await page.locator('[data-testid="toggle"]').first().click();
        await page.waitForFunction((n) => Number(document.querySelector('[data-testid="waterfall"]').dataset.rows) > 1 && Number(document.querySelector('[data-testid="waterfall"]').dataset.rows) < n, SPAN_COUNT);
        await page.getByTestId("expand-all").click();
        await page.waitForFunction((n) => document.querySelector('[data-testid="waterfall"]').dataset.rows === String(n), SPAN_COUNT);
      },
    ],
    [
      "select a span and read its LLM section",
      async () => {
        await page.locator(`[data-span-id="${LLM_SPAN_ID}"]`).click();
        await page.waitForURL((url) => url.searchParams.get("span") === LLM_SPAN_ID);
        await page.getByTestId("llm-section").waitFor();
        const model = await page.getByTestId("llm-model").textContent();
        check(model.includes("gpt-4o-mini"), `model shown (${model})`);
        check((await page.getByTestId("llm-input-tokens").textContent()) === "1,200", "input tokens");
        check((await page.getByTestId("llm-output-tokens").textContent()) === "300", "output tokens");
        const chat = await page.getByTestId("chat").textContent();
        check(chat.includes("What is the capital of France?"), "prompt rendered as chat");
        check(chat.includes("Paris"), "completion rendered as chat");
        // deep link straight to the span
        await page.goto(`${BASE_URL}/traces/${TRACE_ID}?span=${LLM_SPAN_ID}`);
        await page.getByTestId("llm-section").waitFor();
      },
    ],
    [
      "delete a trace",
      async () => {
        await page.goto(`${BASE_URL}/traces?q=${encodeURIComponent(`workflow:${WORKFLOW}`)}`);
        const row = page.locator(`[data-trace-id="${DELETE_TRACE_ID}"]`);
        await row.waitFor();
        await row.getByTestId("delete-row").click();
        await page.getByRole("dialog").getByRole("button", { name: "Delete trace" }).click();
        await row.waitFor({ state: "detached" });
        // The delete is a tombstone in the log; the read API drops the trace once it is projected.
        await waitUntil(async () => (await page.request.get(`${BASE_URL}/api/v1/traces/${DELETE_TRACE_ID}`)).status() === 404, "deleted trace answers 404");
        await page.reload();
        await page.locator(`[data-trace-id="${TRACE_ID}"]`).waitFor();
        check((await row.count()) === 0, "deleted trace stays gone after a reload");
      },
    ],
    [
      "see a new trace arrive live",
      async () => {
        await page.waitForFunction(() => document.querySelector('[data-testid="live-status"]')?.textContent === "Live");
        const before = await page.locator('[data-testid="trace-row"]').count();
        console.log("WAITING_LIVE");
        await page.getByText(LIVE_NAME).waitFor({ timeout: 30_000 });
        check((await page.locator('[data-testid="trace-row"]').count()) === before + 1, "one more row, without reloading");
      },
    ],
    ["no uncaught page errors", async () => check(browser.errors.length === 0, browser.errors.join("; "))],
  ],
  () => browser.close(),
);
