// Lists, filters and pages through the seeded "e2e" account of a running
// server (e2e/contract.sh starts one and loads e2e/testdata/seed.jsonl).
// API_URL is the server or the Prism proxy in front of it, API_TOKEN a
// token for the e2e account with resources:read. With PRISM=true every
// violation Prism reports for a response fails the test, and so does any
// disagreement about a request: one Prism finds invalid that the server
// accepts, or a 400 for one Prism finds valid.
import assert from "node:assert/strict";
import { test } from "node:test";
import { allResources, createResourcesClient, type ListQuery, type Resource } from "../src/index.js";

const baseUrl = process.env.API_URL ?? "";
const token = process.env.API_TOKEN ?? "";
if (baseUrl === "" || token === "") {
  throw new Error("set API_URL and API_TOKEN (e2e/contract.sh does)");
}

const violations: string[] = [];

// checkedFetch records what Prism's proxy says is wrong with a response,
// and where it disagrees with the server about a request.
const checkedFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (process.env.PRISM !== "true") {
    return response;
  }
  const header = response.headers.get("sl-violations");
  const found = header ? (JSON.parse(header) as { location: string[]; severity: string; message: string }[]) : [];
  const request = found.filter((v) => v.location[0] === "request" && v.severity === "Error");
  for (const v of found.filter((v) => v.location[0] === "response")) {
    violations.push(`${response.url}: ${v.location.join(".")}: ${v.message}`);
  }
  if (response.status < 400 && request.length > 0) {
    violations.push(`${response.url}: accepted (${response.status}), but Prism finds the request invalid: ${request.map((v) => v.message).join("; ")}`);
  }
  if (response.status === 400 && request.length === 0) {
    violations.push(`${response.url}: refused with 400, but Prism finds the request valid`);
  }
  return response;
};

const client = createResourcesClient({ baseUrl, token, fetch: checkedFetch });

test.after(() => {
  assert.deepEqual(violations, [], "Prism reported violations");
});

async function list(query: ListQuery) {
  const { data, error, response } = await client.GET("/v1/resources", { params: { query } });
  assert.equal(error, undefined, `status ${response.status}`);
  assert.ok(data);
  return data;
}

function assertNewestFirst(items: Resource[]) {
  for (let i = 1; i < items.length; i++) {
    const [a, b] = [items[i - 1]!, items[i]!];
    assert.ok(a.created_at > b.created_at || (a.created_at === b.created_at && a.id > b.id), `${a.id} before ${b.id}`);
  }
}

test("lists the first page newest first, with defaults filled in", async () => {
  const page = await list({});
  assert.equal(page.page, 1);
  assert.equal(page.page_size, 20);
  assert.equal(page.items.length, Math.min(20, page.total));
  assert.ok(page.total > 20, "the seed has more than one page");
  assertNewestFirst(page.items);
  for (const r of page.items) {
    assert.equal(r.account_id, "e2e");
    assert.ok(Array.isArray(r.tags));
  }
});

test("filters by all of several tags", async () => {
  const page = await list({ tags: "alpha, beta", page_size: 100 });
  assert.ok(page.total > 0);
  assert.equal(page.items.length, page.total);
  for (const r of page.items) {
    assert.ok(r.tags?.includes("alpha") && r.tags.includes("beta"), `${r.id} has ${r.tags}`);
  }
});

test("filters by a literal directory prefix", async () => {
  const page = await list({ directory_prefix: "/odd/100%_", page_size: 100 });
  assert.ok(page.total > 0);
  for (const r of page.items) {
    assert.ok(r.directory_path.startsWith("/odd/100%_"), r.directory_path);
  }
});

test("filters by creation time with a + offset", async () => {
  const after = "2024-01-03T02:00:00+02:00";
  const page = await list({ created_after: after, sort: "asc", page_size: 100 });
  assert.ok(page.total > 0);
  for (const r of page.items) {
    assert.ok(Date.parse(r.created_at) > Date.parse(after), r.created_at);
  }
});

test("pages through everything once, in order", async () => {
  const { total } = await list({ page_size: 1 });
  const seen: Resource[] = [];
  for await (const r of allResources(client, { page_size: 7 })) {
    seen.push(r);
  }
  assert.equal(seen.length, total);
  assert.equal(new Set(seen.map((r) => r.id)).size, total);
  assertNewestFirst(seen);
});

test("page numbers and cursors walk the same resources", async () => {
  const byPage: string[] = [];
  for (let page = 1; ; page++) {
    const { items } = await list({ tags: "alpha", sort: "asc", page_size: 4, page });
    if (items.length === 0) break;
    byPage.push(...items.map((r) => r.id));
  }
  const byCursor: string[] = [];
  for await (const r of allResources(client, { tags: "alpha", sort: "asc", page_size: 4 })) {
    byCursor.push(r.id);
  }
  assert.ok(byPage.length > 4);
  assert.deepEqual(byCursor, byPage);
});

test("a page past the end is empty and keeps the total", async () => {
  const { total } = await list({});
  const page = await list({ page: 1000 });
  assert.deepEqual(page.items, []);
  assert.equal(page.total, total);
});

test("a missing token is a 401 with an error body", async () => {
  const anonymous = createResourcesClient({ baseUrl, fetch: checkedFetch });
  const { data, error, response } = await anonymous.GET("/v1/resources", {});
  assert.equal(data, undefined);
  assert.equal(response.status, 401);
  assert.equal(typeof error?.error, "string");
  assert.ok(response.headers.get("WWW-Authenticate")?.startsWith("Bearer"));
});
