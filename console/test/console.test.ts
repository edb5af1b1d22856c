// The console in a real browser: the binary on an in-memory database seeded
// from seed.jsonl, Debian's Chromium through playwright-core. Every list the
// console shows is checked against the API's own answer to the same query.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deflateSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { apiGet, apiList, chromiumPath, consoleDir, launch, repoRoot, seriousViolations, serve, type Served } from "./harness.js";

const browserPath = chromiumPath();
const screenshots = process.env.CONSOLE_SCREENSHOTS ?? join(repoRoot, "docs", "console");
const maxContentBytes = 1 << 20; // small, so the size check is quick to hit
const maxUploadBytes = 24 << 20; // past the content limit, files go in pieces up to this

describe("console", { skip: browserPath === null ? "Chromium is not installed (apt-get install chromium)" : false }, () => {
  let browser: Browser;
  let server: Served;
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "console-test-"));
    server = await serve(["--ephemeral", "--seed", join(consoleDir, "test", "seed.jsonl"), "--account", "console"],
      { MAX_CONTENT_BYTES: String(maxContentBytes), MAX_UPLOAD_BYTES: String(maxUploadBytes) });
    browser = await launch(browserPath!);
    await mkdir(screenshots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function context(viewport = { width: 1280, height: 860 }): Promise<BrowserContext> {
    return browser.newContext({ viewport, locale: "en-US", timezoneId: "UTC", acceptDownloads: true });
  }

  /** Opens the console signed in through the fragment, as `serve --dev` links do. */
  async function signedIn(ctx: BrowserContext, search = ""): Promise<Page> {
    const page = await ctx.newPage();
    await loaded(page, () => page.goto(`${server.base}/console/${search}#token=${server.token}`));
    return page;
  }

  /** Runs action and waits until the list it causes is fetched and shown. */
  async function loaded(page: Page, action: () => Promise<unknown>): Promise<void> {
    const listed = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/resources" && r.request().method() === "GET");
    await action();
    await listed;
    await page.waitForSelector("[data-total]");
  }

  /** Checks the rows and total on screen against the API's answer to the page's own query. */
  async function matchesAPI(page: Page, wantInSearch: Record<string, string>): Promise<void> {
    const search = new URL(page.url()).search;
    const params = new URLSearchParams(search);
    for (const [k, v] of Object.entries(wantInSearch)) {
      assert.equal(params.get(k), v, `page URL ${search} should carry ${k}=${v}`);
    }
    const want = await apiList(server, search);
    const ids = await page.$$eval("tbody tr", (rows) => rows.map((r) => (r as HTMLElement).dataset.id ?? ""));
    const total = Number(await page.getAttribute("[data-total]", "data-total"));
    assert.deepEqual({ ids, total }, { ids: want.ids, total: want.total }, `rows for ${search}`);
    assert.ok(want.total > 0 || ids.length === 0);
  }

  it("signs in with a pasted token, by keyboard, and refuses a bad one next to the field", async () => {
    const ctx = await context();
    const page = await ctx.newPage();
    await page.goto(`${server.base}/console/`);
    await page.waitForSelector("textarea#token");
    assert.deepEqual(await seriousViolations(page), []);
    await page.fill("#token", "not-a-jwt");
    await page.click("button[type=submit]");
    const err = await page.waitForSelector("#token-error");
    assert.match((await err.textContent()) ?? "", /token/i);
    assert.equal(await page.getAttribute("#token", "aria-describedby"), "token-error");

    await page.fill("#token", "");
    await page.focus("#token");
    await page.keyboard.type(server.token);
    await page.keyboard.press("Tab"); // past the help text to the button
    await loaded(page, () => page.keyboard.press("Enter"));
    await matchesAPI(page, {});
    assert.equal(await page.evaluate(() => sessionStorage.getItem("refactor.console.token")), server.token);
    assert.ok(!page.url().includes(server.token), "the token never appears in the address");
    await ctx.close();
  });

  it("filters by every parameter, each list equal to the API's answer, state in the URL", async () => {
    const ctx = await context();
    const page = await signedIn(ctx);
    await matchesAPI(page, {});
    assert.deepEqual(await seriousViolations(page), []);
    await page.screenshot({ path: join(screenshots, "list.png") });

    await loaded(page, async () => { await page.fill("#f-tag", "finance"); await page.press("#f-tag", "Enter"); });
    await matchesAPI(page, { tags: "finance" });
    await loaded(page, async () => { await page.fill("#f-tag", "draft"); await page.press("#f-tag", "Enter"); });
    await matchesAPI(page, { tags: "finance,draft" });
    await loaded(page, () => page.click('button[aria-label="Remove tag filter finance"]'));
    await matchesAPI(page, { tags: "draft" });
    await loaded(page, () => page.click('button[aria-label="Remove tag filter draft"]'));

    await loaded(page, async () => { await page.fill("#f-prefix", "/reports/2024"); await page.press("#f-prefix", "Enter"); });
    await matchesAPI(page, { directory_prefix: "/reports/2024" });
    await loaded(page, () => page.click('nav[aria-label="Directory prefix breadcrumbs"] button:text-is("reports")'));
    await matchesAPI(page, { directory_prefix: "/reports" });
    // A row's path segment filters too.
    await loaded(page, () => page.locator("tbody tr").first().locator('nav button:text-is("2023"), nav button:text-is("2024")').first().click());
    assert.match(new URL(page.url()).searchParams.get("directory_prefix") ?? "", /^\/reports\/202[34]$/);
    await matchesAPI(page, {});
    await loaded(page, () => page.click("a:text-is('Clear')"));

    await loaded(page, async () => { await page.fill("#f-after", "2024-03-01T00:00:00"); await page.press("#f-after", "Enter"); });
    await matchesAPI(page, { created_after: "2024-03-01T00:00:00Z" });
    await loaded(page, async () => { await page.fill("#f-before", "2024-09-01T12:30:00"); await page.press("#f-before", "Enter"); });
    await matchesAPI(page, { created_after: "2024-03-01T00:00:00Z", created_before: "2024-09-01T12:30:00Z" });
    await loaded(page, () => page.selectOption("#f-sort", "asc"));
    await matchesAPI(page, { sort: "asc", created_after: "2024-03-01T00:00:00Z" });
    await loaded(page, () => page.selectOption("#f-size", "10"));
    await matchesAPI(page, { page_size: "10", sort: "asc" });
    // A tag button on a row adds that tag to the filter.
    const tag = await page.locator("tbody tr button.tag").first().textContent();
    if (tag) {
      await loaded(page, () => page.locator("tbody tr button.tag").first().click());
      await matchesAPI(page, { tags: tag });
    }

    // The address alone restores the view (a bookmark, a shared link), in a
    // new tab (which has its own sessionStorage, hence the token again).
    const bookmarked = page.url();
    const again = await ctx.newPage();
    await loaded(again, () => again.goto(`${bookmarked}#token=${server.token}`));
    await matchesAPI(again, {});
    assert.match(await again.inputValue("#f-after"), /^2024-03-01T00:00(:00)?$/); // Chromium drops ":00" seconds
    assert.equal(await again.inputValue("#f-sort"), "asc");
    await ctx.close();
  });

  it("pages with the exact total", async () => {
    const ctx = await context();
    const page = await signedIn(ctx, "?page_size=10");
    const first = await apiList(server, "?page_size=10");
    const pages = Math.ceil(first.total / 10);
    assert.ok(pages >= 3, `the seed should make several pages (total ${first.total})`);
    await matchesAPI(page, { page_size: "10" });
    assert.match(await page.innerText("h2.summary"), new RegExp(`^${first.total} resources`));
    await page.getByText(`Page 1 of ${pages}`).waitFor();
    await loaded(page, () => page.click("a[rel=next]"));
    await matchesAPI(page, { page: "2", page_size: "10" });
    await page.getByText(`Page 2 of ${pages}`).waitFor();
    for (let p = 3; p <= pages; p++) {
      await loaded(page, () => page.click("a[rel=next]"));
    }
    await matchesAPI(page, { page: String(pages) });
    assert.equal(await page.locator("a[rel=next]").count(), 0, "no next link on the last page");
    await loaded(page, () => page.click("a[rel=prev]"));
    await matchesAPI(page, { page: String(pages - 1) });
    await ctx.close();
  });

  it("uploads a real file with progress, downloads it byte for byte, edits it and deletes it", async () => {
    const ctx = await context();
    const page = await signedIn(ctx);
    const png = pngImage(160, 120);
    const file = join(work, "gradient.png");
    await writeFile(file, png);
    // Record whether the progress bar ever showed: an upload on loopback is quick.
    await page.evaluate(() => {
      new MutationObserver(() => {
        if (document.querySelector("progress")) (window as unknown as { sawProgress: boolean }).sawProgress = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    await page.setInputFiles("#c-file", file);
    await page.fill("#c-dir", "/uploads/images");
    await page.fill("#c-tags", "upload, image");
    await page.fill("#c-meta", '{"owner": "browser-suite"}');
    await page.click("button:text-is('Upload')");
    await page.waitForURL(/\?id=/);
    await page.waitForSelector("img[alt='Preview of gradient.png']");
    assert.equal(await page.evaluate(() => (window as unknown as { sawProgress?: boolean }).sawProgress), true, "progress was shown");
    const id = new URL(page.url()).searchParams.get("id")!;
    const created = (await (await apiGet(server, `/v1/resource/${id}`)).json()) as Record<string, unknown>;
    assert.equal(created.mime_type, "image/png");
    assert.deepEqual(created.tags, ["image", "upload"]);
    assert.deepEqual(created.metadata, { owner: "browser-suite" });
    assert.deepEqual(await seriousViolations(page), []);
    await page.screenshot({ path: join(screenshots, "detail.png"), fullPage: false });

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("button:text-is('Download gradient.png')")]);
    assert.equal(download.suggestedFilename(), "gradient.png");
    assert.ok((await readFile((await download.path())!)).equals(png), "downloaded bytes equal the uploaded file");

    // The same name in the same directory is a 409, shown by the fields.
    const list = await signedIn(ctx, "?directory_prefix=/uploads/images");
    await list.setInputFiles("#c-file", file);
    await list.click("button:text-is('Upload')");
    const conflict = await list.waitForSelector("#c-where-error");
    assert.match((await conflict.textContent()) ?? "", /already/);
    await list.close();

    // Edit: rename, move, replace metadata (PUT).
    await page.fill("#e-name", "renamed.png");
    await page.fill("#e-dir", "/archive");
    await page.fill("#e-meta", '{"owner": "someone else", "n": 2}');
    await page.click("button:text-is('Save changes')");
    await page.getByText("Saved.").waitFor();
    const edited = (await (await apiGet(server, `/v1/resource/${id}`)).json()) as Record<string, unknown>;
    assert.deepEqual([edited.name, edited.directory_path, edited.metadata], ["renamed.png", "/archive", { owner: "someone else", n: 2 }]);
    assert.equal(await page.innerText("h1"), "renamed.png");

    // Delete asks first; cancelling keeps it.
    await page.click("button:text-is('Delete renamed.png…')");
    await page.click("dialog button:text-is('Cancel')");
    assert.equal((await apiGet(server, `/v1/resource/${id}`)).status, 200);
    await page.click("button:text-is('Delete renamed.png…')");
    await loaded(page, () => page.click("dialog button:text-is('Delete')"));
    assert.equal((await apiGet(server, `/v1/resource/${id}`)).status, 404);
    await ctx.close();
  });

  it("refuses a file over the server's limit before sending it", async () => {
    const ctx = await context();
    const page = await signedIn(ctx);
    let posted = false;
    page.on("request", (r) => { if (r.method() === "POST") posted = true; });
    const big = join(work, "big.bin");
    await writeFile(big, Buffer.alloc(maxUploadBytes + 1, 7));
    await page.setInputFiles("#c-file", big);
    const err = await page.waitForSelector("#c-file-error");
    assert.match((await err.textContent()) ?? "", /at most 24(\.0)? MiB/);
    assert.equal(await page.isDisabled("button:text-is('Upload')"), true);
    // Dropped rather than picked: the same check.
    await page.evaluate((size) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(size)], "dropped.bin", { type: "application/octet-stream" }));
      document.querySelector(".drop")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, maxUploadBytes + 1);
    await page.getByText(/dropped\.bin is 24(\.0)? MiB/).waitFor();
    assert.equal(posted, false);
    await ctx.close();
  });

  it("uploads a large file in pieces, paused, and resumed after a reload", async () => {
    const ctx = await context();
    let page = await signedIn(ctx);
    const data = Buffer.alloc(20 << 20);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32BE(i, i);
    const file = join(work, "recording.bin");
    await writeFile(file, data);
    await page.setInputFiles("#c-file", file);
    await page.getByText("Sent in pieces").waitFor();
    await page.fill("#c-dir", "/uploads/large");
    // On loopback the whole file can arrive before a click lands, so the
    // pieces after the first are held until Pause has been pressed.
    let patches = 0;
    let release!: () => void;
    const paused = new Promise<void>((resolve) => { release = resolve; });
    await page.route("**/v1/uploads/**", async (route) => {
      if (route.request().method() === "PATCH" && patches++ > 0) {
        await paused;
        await route.abort().catch(() => {});
        return;
      }
      await route.continue();
    });
    const firstPiece = page.waitForResponse((r) => r.request().method() === "PATCH" && r.status() === 204);
    await page.click("button:text-is('Upload')");
    await firstPiece;
    await page.click("button:text-is('Pause')");
    await page.waitForSelector("button:text-is('Resume')");
    release();
    assert.deepEqual(await seriousViolations(page), []);
    // A reload loses the File; choosing it again resumes where the server is.
    page = await signedIn(ctx);
    const offsets: number[] = [];
    page.on("request", (r) => { if (r.method() === "PATCH") offsets.push(Number(r.headers()["upload-offset"])); });
    await page.setInputFiles("#c-file", file);
    await page.fill("#c-dir", "/uploads/large");
    await page.click("button:text-is('Upload')");
    await page.waitForURL(/\?id=/);
    assert.ok(offsets.length > 0 && offsets[0]! >= 8 << 20, `the upload resumed, not restarted: PATCH offsets ${offsets}`);
    const id = new URL(page.url()).searchParams.get("id")!;
    const created = (await (await apiGet(server, `/v1/resource/${id}`)).json()) as Record<string, unknown>;
    assert.equal(created.size_bytes, data.length);
    assert.equal(created.sha256, createHash("sha256").update(data).digest("hex"));
    const listed = (await (await apiGet(server, "/v1/resources?directory_prefix=/uploads/large")).json()) as { total: number };
    assert.equal(listed.total, 1, "one resource, however many times the upload was taken up");
    await ctx.close();
  });

  it("never runs script from stored HTML or SVG", async () => {
    const ctx = await context();
    const page = await signedIn(ctx);
    const ran: string[] = [];
    ctx.on("request", (r) => { if (r.url().includes("/xss-ran")) ran.push(r.url()); });
    ctx.on("page", (p) => p.on("dialog", (d) => { ran.push("dialog " + d.message()); void d.dismiss(); }));
    page.on("dialog", (d) => { ran.push("dialog " + d.message()); void d.dismiss(); });
    const payloads = {
      "evil.html": `<!doctype html><title>x</title><script>window.top.xssRan = "html"; fetch("/xss-ran?html"); alert("html")</script><img src="x" onerror="fetch('/xss-ran?onerror')">`,
      "evil.svg": `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="fetch('/xss-ran?svg-onload')"><script>fetch("/xss-ran?svg"); alert("svg")</script><rect width="40" height="40" fill="red"/></svg>`,
    };
    const ids: string[] = [];
    for (const [name, body] of Object.entries(payloads)) {
      const file = join(work, name);
      await writeFile(file, body);
      await loaded(page, () => page.goto(`${server.base}/console/`));
      await page.setInputFiles("#c-file", file);
      await page.fill("#c-dir", "/hostile");
      await page.click("button:text-is('Upload')");
      await page.waitForURL(/\?id=/);
      ids.push(new URL(page.url()).searchParams.get("id")!);
      // Opened in the console: the SVG as an image, the HTML as text.
      if (name.endsWith(".svg")) {
        await page.waitForSelector("img[alt='Preview of evil.svg']");
        await page.waitForFunction(() => (document.querySelector("img") as HTMLImageElement | null)?.complete === true);
      } else {
        await page.waitForSelector("pre.text");
        assert.match(await page.innerText("pre.text"), /<script>/, "the HTML is shown as its source");
      }
      await page.waitForTimeout(300);
    }
    // And opened directly, inline, as a browser would follow a link.
    const direct = await ctx.newPage();
    await direct.setExtraHTTPHeaders({ Authorization: `Bearer ${server.token}` });
    direct.on("dialog", (d) => { ran.push("dialog " + d.message()); void d.dismiss(); });
    for (const id of ids) {
      const res = await direct.goto(`${server.base}/v1/resource/${id}/content?disposition=inline`);
      assert.equal(res?.headers()["content-security-policy"], "sandbox");
      await direct.waitForTimeout(300);
    }
    assert.equal(await page.evaluate(() => (window as unknown as { xssRan?: string }).xssRan), undefined);
    assert.deepEqual(ran, [], "stored content ran script");
    await ctx.close();
  });

  it("shares a resource by a link that opens in a fresh browser with no token, and revokes it", async () => {
    const body = "shared without a token\n";
    const created = await fetch(`${server.base}/v1/resources`, {
      method: "POST",
      headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "shared.txt", directory_path: "/shared", content: `data:text/plain;base64,${Buffer.from(body).toString("base64")}` }),
    });
    const { id } = (await created.json()) as { id: string };
    const ctx = await browser.newContext({ locale: "en-US", timezoneId: "UTC", permissions: ["clipboard-read", "clipboard-write"] });
    const page = await ctx.newPage();
    await page.goto(`${server.base}/console/?id=${id}#token=${server.token}`);
    await page.waitForSelector("#s-expires");
    await page.selectOption("#s-expires", "600");
    await page.fill("#s-max", "2");
    await page.check("#s-inline");
    await page.click("button:text-is('Create link')");
    const url = await page.inputValue("#s-url");
    assert.match(url, new RegExp(`^${server.base}/v1/links/rfd_[A-Za-z0-9_-]{43}$`));
    await page.click("#share-title ~ .secret button:text-is('Copy')");
    await page.getByText("Copied.").waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), url);
    await page.locator("section.share li[data-link]").first().waitFor();
    assert.match(await page.locator("section.share li[data-link]").first().innerText(), /inline, 0 of 2 downloads/);
    assert.deepEqual(await seriousViolations(page), []);

    // A stranger's browser: a fresh context, no token, no console.
    const stranger = await browser.newContext();
    const opened = await (await stranger.newPage()).goto(url);
    assert.equal(opened?.status(), 200);
    assert.equal(opened?.headers()["content-security-policy"], "sandbox");
    assert.equal(await opened?.text(), body);
    await stranger.close();

    await page.click("section.share li[data-link] button:text-is('Revoke')");
    await page.locator("#share-title ~ p:text-is('None.')").waitFor();
    const late = await browser.newContext();
    assert.equal((await (await late.newPage()).goto(url))?.status(), 404);
    await late.close();
    await ctx.close();
  });

  it("makes an upload link for a folder, whose token uploads there only, and revokes it", async () => {
    const ctx = await context();
    const page = await signedIn(ctx, "?directory_prefix=/dropbox");
    assert.equal(await page.inputValue("#u-dir"), "/dropbox");
    await page.fill("#u-types", "text/*");
    await page.fill("#u-uploads", "1");
    await page.click("button:text-is('Create upload link')");
    const token = await page.inputValue("#u-token");
    assert.match(token, /^rfu_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await seriousViolations(page), []);
    const upload = (dir: string) => fetch(`${server.base}/v1/resources`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "from-a-partner.txt", directory_path: dir, content: "data:text/plain;base64,aGk=" }),
    });
    assert.equal((await upload("/elsewhere")).status, 403, "outside the link's folder");
    assert.equal((await upload("/dropbox")).status, 200);
    assert.equal((await upload("/dropbox")).status, 401, "one upload allowed");
    assert.equal((await fetch(`${server.base}/v1/resources`, { headers: { Authorization: `Bearer ${token}` } })).status, 401);
    const listed = await apiList(server, "?directory_prefix=/dropbox");
    assert.equal(listed.total, 1);

    await page.fill("#u-uploads", "");
    await page.click("button:text-is('Create upload link')");
    const row = page.locator("section.share li[data-link]", { hasText: "/dropbox, 0 uploads" });
    await row.waitFor();
    await row.locator("button:text-is('Revoke')").click();
    await row.waitFor({ state: "detached" });
    await ctx.close();
  });

  it("shows new, changed and deleted resources live, without a reload", async () => {
    const ctx = await context();
    const page = await ctx.newPage();
    // Headers arrive at once; the body streams for as long as the page lives.
    const streaming = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/events/stream");
    await loaded(page, () => page.goto(`${server.base}/console/?directory_prefix=%2Flive#token=${server.token}`));
    assert.equal((await streaming).status(), 200);
    let navigations = 0;
    page.on("framenavigated", () => navigations++);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      assert.ok(res.ok, `${method} ${path}: ${res.status}`);
      return res.status === 204 ? undefined : ((await res.json()) as { id: string });
    };
    // Written by another client (the API here), seen on this page.
    const made = await call("POST", "/v1/resources", { name: "live.txt", directory_path: "/live", content: "data:text/plain;base64,bGl2ZQ==" });
    const row = `tr[data-id="${made!.id}"]`;
    await page.waitForSelector(row);
    assert.match(await page.innerText(".live"), /Added live\.txt/);
    assert.equal(await page.getAttribute("[data-total]", "data-total"), "1");
    await call("PUT", `/v1/resource/${made!.id}`, { name: "renamed.txt" });
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes("renamed.txt"), row);
    assert.match(await page.innerText(".live"), /Changed renamed\.txt/);
    // Outside the page's prefix: no change shown.
    await call("POST", "/v1/resources", { name: "elsewhere.txt", directory_path: "/other", content: "data:text/plain;base64,eA==" });
    await call("DELETE", `/v1/resource/${made!.id}`);
    await page.waitForSelector(row, { state: "detached" });
    assert.match(await page.innerText(".live"), /Deleted renamed\.txt/);
    assert.equal(await page.getAttribute("[data-total]", "data-total"), "0");
    assert.equal(navigations, 0, "the page never reloaded");
    assert.deepEqual(await seriousViolations(page), []);
    await ctx.close();
  });

  it("shows a 401 as a return to sign-in", async () => {
    const ctx = await context();
    const page = await signedIn(ctx);
    await page.evaluate(() => sessionStorage.setItem("refactor.console.token", "expired.or.forged"));
    await page.reload();
    await page.waitForSelector("textarea#token");
    assert.match(await page.innerText(".notice"), /Signed out/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("refactor.console.token")), null);
    await ctx.close();
  });

  it("reads well at 375 px", async () => {
    const ctx = await context({ width: 375, height: 812 });
    const page = await signedIn(ctx);
    await matchesAPI(page, {});
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 375 px`);
    assert.deepEqual(await seriousViolations(page), []);
    await page.screenshot({ path: join(screenshots, "list-375.png") });
    await page.locator("tbody tr a").first().click();
    await page.waitForSelector("pre.json");
    const detailOverflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(detailOverflow <= 0, `the detail view scrolls sideways by ${detailOverflow}px at 375 px`);
    assert.deepEqual(await seriousViolations(page), []);
    await ctx.close();
  });

  it("opens signed in from the link that serve --dev prints, and clears it from the address", async () => {
    const dir = await mkdtemp(join(tmpdir(), "console-dev-"));
    const dev = await serve(["--dev", "--ephemeral"], {}, dir);
    try {
      assert.match(dev.consoleLink, /\/console\/#token=/);
      const ctx = await context();
      const page = await ctx.newPage();
      await loaded(page, () => page.goto(dev.consoleLink));
      assert.equal(new URL(page.url()).hash, "", "the token is gone from the address bar");
      const want = await apiList(dev, "");
      const ids = await page.$$eval("tbody tr", (rows) => rows.map((r) => (r as HTMLElement).dataset.id ?? ""));
      assert.deepEqual(ids, want.ids);
      assert.ok(want.total > 0, "the demo data is loaded");
      await ctx.close();
    } finally {
      await dev.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A small RGB PNG with a gradient, made here so the test needs no fixture. */
function pngImage(width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = Math.round((x / width) * 255);
      raw[row + 2 + x * 3] = Math.round((y / height) * 255);
      raw[row + 3 + x * 3] = 180;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

function crc32(b: Buffer): number {
  let c = ~0;
  for (const byte of b) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
