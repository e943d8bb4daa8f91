// Screenshots of every view in both colour schemes (prefers-color-scheme emulated).
// Env: BASE_URL, TRACE_ID, LLM_SPAN_ID, SCREENSHOT_DIR. Prints one line per file written.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { BASE_URL, launch, runSteps } from "./browser.mjs";

const dir = process.env.SCREENSHOT_DIR ?? "test-artifacts/screenshots";
const { TRACE_ID, LLM_SPAN_ID } = process.env;
mkdirSync(dir, { recursive: true });
const browser = await launch();
const { page } = browser;

const views = [
  ["dashboard", "/", '[data-testid="stat-cards"] .stat-value'],
  ["traces", "/traces", '[data-testid="trace-row"]'],
  ["trace", `/traces/${TRACE_ID}`, '[data-testid="waterfall"]'],
  ["span-detail", `/traces/${TRACE_ID}?span=${LLM_SPAN_ID}`, '[data-testid="llm-section"]'],
];

const steps = [];
for (const scheme of ["light", "dark"]) {
  for (const [name, path, ready] of views) {
    steps.push([
      `${name}-${scheme}`,
      async () => {
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto(`${BASE_URL}${path}`);
        await page.locator(ready).first().waitFor();
        await page.waitForTimeout(300); // let charts and skeletons settle before the picture
        const file = join(dir, `${name}-${scheme}.png`);
        await page.screenshot({ path: file });
        console.log(`wrote ${file}`);
      },
    ]);
  }
}
await runSteps(steps, () => browser.close());
