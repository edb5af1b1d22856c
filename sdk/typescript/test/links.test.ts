// Shares a resource and opens a drop box through the SDK's link functions,
// against a running server (e2e/contract.sh starts one). API_WRITE_TOKEN is
// a token with resources:read and resources:write for the e2e-writer
// account; the links routes are only in our openapi.yaml, so the contract's
// pass over the published file leaves it unset and this test is skipped.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import {
  createResourcesClient,
  createUploadLink,
  downloadLinks,
  revokeDownloadLink,
  revokeUploadLink,
  shareResource,
  uploadLinks,
  uploadThroughLink,
} from "../src/index.js";

const baseUrl = process.env.API_URL ?? "";
const writeToken = process.env.API_WRITE_TOKEN ?? "";
const skip = writeToken === "" ? "set API_WRITE_TOKEN to run the links test" : false;

test("shares a resource by a link that needs no token, counts and revokes it", { skip }, async () => {
  const owner = createResourcesClient({ baseUrl, token: writeToken });
  const body = "a file for a model provider\n";
  const created = await owner.POST("/v1/resources", {
    body: { name: `shared-${randomUUID()}.txt`, directory_path: "/sdk/links", content: `data:text/plain;base64,${btoa(body)}` },
  });
  assert.ok(created.data, `create: ${created.response.status}`);
  const id = created.data.id;
  try {
    const link = await shareResource(owner, id, { max_downloads: 2, expires_in: 600 });
    assert.ok(link.url?.includes("/v1/links/rfd_"), link.url);
    const head = await fetch(link.url!, { method: "HEAD" });
    assert.equal(head.status, 200);
    const got = await fetch(link.url!);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), body);
    assert.equal(got.headers.get("content-security-policy"), "sandbox");
    const listed = await downloadLinks(owner, id);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.downloads, 1, "HEAD spends no use");
    assert.equal(listed[0]!.url, undefined, "a list never shows the url");
    await revokeDownloadLink(owner, id, link.id);
    const revoked = await fetch(link.url!);
    assert.equal(revoked.status, 404);
    assert.deepEqual(await revoked.json(), { error: "link not found" });
  } finally {
    await owner.DELETE("/v1/resource/{id}", { params: { path: { id } } });
  }
});

test("opens a drop box whose holder uploads without an account's token", { skip }, async () => {
  const owner = createResourcesClient({ baseUrl, token: writeToken });
  const dir = `/sdk/dropbox-${randomUUID()}`;
  const up = await createUploadLink(owner, { directory_path: dir, mime_types: ["text/*"], max_uploads: 1, tags: ["partner"] });
  assert.ok(up.token?.startsWith("rfu_"));
  const holder = createResourcesClient({ baseUrl, token: up.token });
  const r = await uploadThroughLink(holder, { content: "data:text/plain;base64,aGk=", directory_path: dir, name: "hello.txt" });
  try {
    assert.equal(r.created_by, `upload-link:${up.id}`);
    assert.deepEqual(r.tags, ["partner"]);
    await assert.rejects(uploadThroughLink(holder, { name: "again.txt", directory_path: dir, content: "data:text/plain;base64,aGk=" }), /401/);
    const listed = await uploadLinks(owner);
    assert.ok(!listed.some((l) => l.id === up.id), "a used-up link is not listed");
    const other = await createUploadLink(owner, { directory_path: dir });
    assert.ok((await uploadLinks(owner)).some((l) => l.id === other.id && l.token === undefined));
    await revokeUploadLink(owner, other.id);
    assert.ok(!(await uploadLinks(owner)).some((l) => l.id === other.id));
  } finally {
    await owner.DELETE("/v1/resource/{id}", { params: { path: { id: r.id } } });
  }
});
