// Shared helpers for the end-to-end scenarios: Debian's Chromium through playwright-core (no
// browser download), a fresh profile per run, and small assertion/reporting helpers.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const BASE_URL = (process.env.BASE_URL ?? "").replace(/\/$/, "");
if (!BASE_URL) {
  console.error("BASE_URL is not set (the msgtrace server's URL)");
  process.exit(2);
}

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches Chromium with a fresh --user-data-dir; `close()` removes the profile. */
export async function launch({ colorScheme = "light", viewport = { width: 1440, height: 900 } } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "msgtrace-e2e-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    colorScheme,
    viewport,
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Runs named steps in order, printing `ok <name>` or `FAIL <name>: <error>`; exits 1 on failure. */
export async function runSteps(steps, cleanup) {
  let failed = false;
  for (const [name, fn] of steps) {
    try {
      await fn();
      console.log(`ok ${name}`);
    } catch (err) {
      console.log(`FAIL ${name}: ${err instanceof Error ? err.message : String(err)}`);
      failed = true;
      break;
    }
  }
  await cleanup?.();
  process.exit(failed ? 1 : 0);
}
