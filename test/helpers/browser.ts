import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT, freePort, startServerProcess, type ServerProcess } from "./server";

const run = promisify(execFile);
export const ARTIFACTS = path.join(ROOT, "test-artifacts");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Debian's Chromium, with the flags that keep it quiet and offline (playwright-core never downloads one). */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) { throw new Error(`${CHROMIUM} is missing: apt-get install chromium (see .ci/run)`); }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      // no --user-data-dir: playwright refuses it in launch() and gives every launch a new temporary profile itself
      "--disable-component-update", "--disable-sync"],
  });
}

let built = false;
/** `vite build` once per test process: the pages the server serves are the built ones. */
export async function buildWeb() {
  if (built) { return; }
  await run("npx", ["vite", "build", "--logLevel", "warn"], { cwd: ROOT });
  built = true;
}

/**
 * A development server (pages and /dev/token on) over an SQLite file, so that a
 * restart on the same port finds every conversation again.
 */
export async function startWebServer(extra: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cc-web-"));
  const port = await freePort();
  const env = { NODE_ENV: "development", AUTH_SECRET: "", DATABASE_URL: `sqlite:${path.join(dir, "chat.sqlite")}`, TRANSCRIPT_JOIN_EVENTS: "true", ...extra };
  let server: ServerProcess = await startServerProcess(env, port);
  return {
    get url() { return server.url; },
    get server() { return server; },
    async restart() { await server.kill(); server = await startServerProcess(env, port); },
    async kill() { await server.kill(); },
    async start() { server = await startServerProcess(env, port); },
    async stop() { await server.stop(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Page errors and console errors of a page, for "nothing went wrong" assertions. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource|ERR_CONNECTION_REFUSED|WebSocket connection/.test(m.text())) { errors.push(m.text()); } });
  return errors;
}

export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
