// The browser suite's harness: the real binary on a free loopback port,
// Debian's Chromium driven by playwright-core (no browser download), and
// axe-core run inside the page.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

export const consoleDir = fileURLToPath(new URL("../../", import.meta.url));
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Where Chromium is, or null; under CI=true a missing browser fails the suite. */
export function chromiumPath(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p)) ?? null;
  if (found === null && process.env.CI === "true") {
    throw new Error("Chromium is not installed (apt-get install chromium); .ci/run installs it");
  }
  return found;
}

export async function launch(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    // The machine's network is closed: keep Chromium from calling home.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

export interface Served {
  base: string;
  token: string;
  /** The console link serve printed (token in the fragment). */
  consoleLink: string;
  stop: () => Promise<void>;
}

/** Starts `refactor serve ARGS` and reads its banner for the URL and token. */
export async function serve(args: string[], env: Record<string, string> = {}, cwd = repoRoot): Promise<Served> {
  const bin = process.env.REFACTOR_BIN ?? `${repoRoot}bin/refactor`;
  const port = await freePort();
  const proc: ChildProcess = spawn(bin, ["serve", ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", LISTEN_ADDR: `127.0.0.1:${port}`, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  proc.stderr?.on("data", (b: Buffer) => (log += b.toString()));
  const banner = await new Promise<{ token: string; link: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no token within 30 s; log:\n${log}`)), 30_000);
    let link = "";
    proc.on("exit", (code) => reject(new Error(`serve exited (${code}); log:\n${log}`)));
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      const m = /console \(signed in\):\s+(\S+)/.exec(line);
      if (m?.[1]) link = m[1];
      if (line.startsWith("TOKEN=")) {
        clearTimeout(timer);
        resolve({ token: line.slice("TOKEN=".length), link });
      }
    });
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    token: banner.token,
    consoleLink: banner.link,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** A list page as the API answers it, for comparison with the console's rows. */
export interface ListAnswer {
  ids: string[];
  total: number;
  page: number;
  page_size: number;
}

export async function apiList(s: Served, search: string): Promise<ListAnswer> {
  const res = await fetch(`${s.base}/v1/resources${search}`, { headers: { Authorization: `Bearer ${s.token}` } });
  if (!res.ok) throw new Error(`GET /v1/resources${search}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { items: { id: string }[]; total: number; page: number; page_size: number };
  return { ids: body.items.map((i) => i.id), total: body.total, page: body.page, page_size: body.page_size };
}

export async function apiGet(s: Served, path: string): Promise<Response> {
  return fetch(`${s.base}${path}`, { headers: { Authorization: `Bearer ${s.token}` } });
}

const axeSource = readFileSync(new URL(import.meta.resolve("axe-core/axe.min.js")), "utf8");

/** Runs axe-core in the page and returns its serious and critical violations. */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not
  // govern: the console itself needs no 'unsafe-inline' for this.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(", ")}`);
}
