// Uploads a file in chunks through uploadFile (tus-js-client), pausing and
// resuming it, against a running server. API_UPLOAD_URL is the server itself
// (e2e/contract.sh passes it: Prism's validating proxy is no place for
// binary PATCH bodies); API_WRITE_TOKEN has resources:read and
// resources:write. Skipped unless both are set.
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { test } from "node:test";
import { createResourcesClient, uploadFile } from "../src/index.js";

const baseUrl = process.env.API_UPLOAD_URL ?? "";
const token = process.env.API_WRITE_TOKEN ?? "";
const skip = baseUrl === "" || token === "" ? "set API_UPLOAD_URL and API_WRITE_TOKEN to run the upload test" : false;

test("uploads a file in chunks, paused and resumed, into a resource at the upload's id", { skip }, async () => {
  const data = randomBytes(20 * 1024 * 1024 + 7);
  const sha256 = createHash("sha256").update(data).digest("hex");
  const progress: number[] = [];
  let task: ReturnType<typeof uploadFile> | undefined;
  let paused = false;
  task = uploadFile(
    data,
    { name: `big-${randomUUID()}.bin`, directory_path: "/sdk/uploads", tags: ["sdk"], metadata: { from: "tus-js-client" }, sha256 },
    {
      baseUrl,
      token,
      resume: false,
      onProgress: (sent, total) => {
        progress.push(sent);
        assert.equal(total, data.length);
        if (!paused && sent >= 8 * 1024 * 1024) {
          paused = true;
          void task!.pause().then(() => setTimeout(() => task!.resume(), 100));
        }
      },
    },
  );
  const id = await task.done;
  assert.ok(task.url?.endsWith(`/v1/uploads/${id}`), task.url ?? "no url");
  assert.ok(paused, "the upload was paused");
  assert.equal(progress.at(-1), data.length);
  const api = createResourcesClient({ baseUrl, token });
  const { data: r } = await api.GET("/v1/resource/{id}", { params: { path: { id } } });
  assert.ok(r);
  assert.equal(r.sha256, sha256);
  assert.equal(r.size_bytes, data.length);
  assert.deepEqual(r.tags, ["sdk"]);
  await api.DELETE("/v1/resource/{id}", { params: { path: { id } } });
});

test("is refused before any byte when a field breaks a rule", { skip }, async () => {
  const task = uploadFile(Buffer.from("x"), { name: "a", directory_path: "no-slash" }, { baseUrl, token, resume: false, retryDelays: [] });
  await assert.rejects(task.done, /upload: 400 Upload-Metadata: directory_path:/);
});
