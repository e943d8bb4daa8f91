// The API key prompt (driven by tests/e2e/test_ui_auth.py against a server started with --api-key).
// Env: BASE_URL, API_KEY, TRACE_ID, SCREENSHOT_DIR.
import { join } from "node:path";
import { BASE_URL, check, launch, runSteps } from "./browser.mjs";

const { API_KEY, TRACE_ID, SCREENSHOT_DIR } = process.env;
const browser = await launch();
const { page, context } = browser;

await runSteps(
  [
    [
      "asked for the key on a 401",
      async () => {
        await page.goto(`${BASE_URL}/traces`);
        await page.getByTestId("api-key-prompt").waitFor();
        await page.screenshot({ path: join(SCREENSHOT_DIR, "api-key-prompt.png") });
      },
    ],
    [
      "a wrong key is asked again",
      async () => {
        await page.getByTestId("api-key-input").fill("not-the-key");
        await page.getByTestId("api-key-submit").click();
        await page.waitForLoadState("load");
        await page.getByTestId("api-key-prompt").waitFor();
        check((await page.getByTestId("api-key-prompt").textContent()).includes("rejected"), "tells the stored key was rejected");
      },
    ],
    [
      "log in and read traces",
      async () => {
        await page.getByTestId("api-key-input").fill(API_KEY);
        await page.getByTestId("api-key-submit").click();
        await page.waitForLoadState("load");
        await page.locator(`[data-trace-id="${TRACE_ID}"]`).waitFor();
        check((await page.getByTestId("api-key-prompt").count()) === 0, "no prompt once logged in");
        const cookie = (await context.cookies(BASE_URL)).find((c) => c.name === "msgtrace_key");
        check(cookie && cookie.value === API_KEY && cookie.sameSite === "Strict" && cookie.path === "/", `cookie set (${JSON.stringify(cookie)})`);
        check((await page.evaluate(() => localStorage.getItem("msgtrace_key"))) === API_KEY, "key kept in localStorage");
      },
    ],
    [
      "live updates carry the key",
      async () => {
        await page.waitForFunction(() => document.querySelector('[data-testid="live-status"]')?.textContent === "Live");
      },
    ],
    [
      "the key survives a reload and opens a trace",
      async () => {
        await page.goto(`${BASE_URL}/traces/${TRACE_ID}`);
        await page.getByTestId("waterfall").waitFor();
        check((await page.getByTestId("api-key-prompt").count()) === 0, "not asked again");
      },
    ],
    ["no uncaught page errors", async () => check(browser.errors.length === 0, browser.errors.join("; "))],
  ],
  () => browser.close(),
);
