// The change feed and webhooks against a real server: REFACTOR_BIN is the
// refactor binary (e2e/contract.sh builds it), started here as an
// ephemeral server that may deliver to this process's loopback receiver
// (URI_FETCH_ALLOW_PRIVATE). watch() resumes after a drop; the stream also
// works for a third-party EventSource (the eventsource package), which
// reconnects with Last-Event-ID by itself; a delivery verifies both with
// the SDK's verifyWebhook and with the standardwebhooks package.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { after, before, test } from "node:test";
import { EventSource } from "eventsource";
import { Webhook } from "standardwebhooks";
import { createResourcesClient, verifyWebhook, watch, type Event } from "../src/index.js";

const bin = process.env.REFACTOR_BIN ?? "";
const skip = bin === "" ? "set REFACTOR_BIN to the refactor binary to run the events tests" : false;

let server: ChildProcess | undefined;
let baseUrl = "";
let token = "";

before(async () => {
  if (skip) return;
  server = spawn(bin, ["serve", "--ephemeral", "--listen", "127.0.0.1:0"], {
    env: { ...process.env, URI_FETCH_ALLOW_PRIVATE: "true", DATABASE_URL: "", BLOB_URL: "" },
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  for await (const chunk of server.stdout!) {
    out += String(chunk);
    const url = /on (http:\/\/[0-9.:]+)/.exec(out);
    const tok = /TOKEN=(\S+)/.exec(out);
    if (url && tok) {
      baseUrl = url[1]!;
      token = tok[1]!;
      break;
    }
  }
  assert.ok(token, `no token in the server's banner: ${out}`);
});

after(() => server?.kill());

async function create(name: string, dir = "/sdk/events"): Promise<string> {
  const client = createResourcesClient({ baseUrl, token });
  const r = await client.POST("/v1/resources", {
    body: { name, directory_path: dir, content: `data:text/plain;base64,${btoa(name)}` },
  });
  assert.ok(r.data, `create ${name}: ${r.response.status}`);
  return r.data.id;
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("watch delivers every change in order and resumes after a drop", { skip }, async () => {
  const seen: Event[] = [];
  // A fetch that drops the first connection after its first event, as a
  // proxy or a restarting replica would.
  let connections = 0;
  const dropping: typeof fetch = async (input, init) => {
    connections++;
    const res = await fetch(input, init);
    if (connections > 1 || res.body === null) return res;
    const reader = res.body.getReader();
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        const { value, done } = await reader.read();
        if (done) return c.close();
        c.enqueue(value);
        if (sent || new TextDecoder().decode(value).includes("data:")) {
          sent = true;
          await reader.cancel();
          c.error(new Error("connection dropped"));
        }
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  const w = watch({ baseUrl, token, directoryPrefix: "/sdk/watch", fetch: dropping, retryMs: 50 }, (e) => {
    seen.push(e);
  });
  await new Promise((r) => setTimeout(r, 300));
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await create(`w${i}.txt`, "/sdk/watch"));
  await create("elsewhere.txt", "/sdk/other");
  await until(() => seen.length >= 5, "5 events");
  w.stop();
  await w.done;
  assert.ok(connections >= 2, "the first connection was dropped and made again");
  assert.deepEqual(seen.map((e) => e.data.resource && "id" in e.data.resource ? e.data.resource.id : ""), ids);
  const seqs = seen.map((e) => e.sequence);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "in sequence order");
  assert.equal(new Set(seqs).size, seqs.length, "no repeat");
  assert.equal(w.lastSequence, seqs.at(-1));
});

test("a third-party EventSource follows the stream and resumes with Last-Event-ID", { skip }, async () => {
  const client = createResourcesClient({ baseUrl, token });
  const before = await client.GET("/v1/events", {});
  assert.ok(before.data);
  const start = before.data.next_after;
  const got: number[] = [];
  const es = new EventSource(`${baseUrl}/v1/events/stream?after=${start}&types=resource.created`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, Authorization: `Bearer ${token}` } }),
  });
  es.addEventListener("resource.created", (m) => got.push(Number(m.lastEventId)));
  await create("es1.txt");
  await until(() => got.length === 1, "the first event");
  await create("es2.txt");
  await until(() => got.length === 2, "the second event");
  es.close();
  assert.deepEqual(got, [start + 1, start + 2]);
});

test("webhook deliveries verify with verifyWebhook and the standardwebhooks package", { skip }, async () => {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.end();
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  const port = (receiver.address() as { port: number }).port;
  try {
    const client = createResourcesClient({ baseUrl, token });
    const made = await client.POST("/v1/webhooks", {
      body: { url: `http://127.0.0.1:${port}/hook`, types: ["resource.created"], directory_prefix: "/sdk/hooks" },
    });
    assert.ok(made.data?.secret, `register: ${made.response.status}`);
    const secret = made.data.secret;
    const id = await create("hooked.txt", "/sdk/hooks");
    await until(() => received.length >= 1, "a delivery");
    const d = received[0]!;
    const mine = await verifyWebhook(secret, d.headers as Record<string, string>, d.body);
    assert.equal(mine.type, "resource.created");
    const theirs = new Webhook(secret).verify(d.body, d.headers as Record<string, string>) as Event;
    assert.equal(theirs.sequence, mine.sequence);
    assert.ok(theirs.data.resource && "id" in theirs.data.resource && theirs.data.resource.id === id);
    await assert.rejects(verifyWebhook(secret, d.headers as Record<string, string>, d.body + " "), /no valid signature/);
    assert.throws(() => new Webhook(secret).verify(d.body.replace("hooked", "hacked"), d.headers as Record<string, string>));
    // After a rotation both keys sign, so either verifies.
    const rotated = await client.PATCH("/v1/webhooks/{webhook_id}", {
      params: { path: { webhook_id: made.data.id } },
      body: { rotate_secret: true },
    });
    assert.ok(rotated.data?.secret);
    await create("rotated.txt", "/sdk/hooks");
    await until(() => received.length >= 2, "a delivery after the rotation");
    const r = received[1]!;
    new Webhook(secret).verify(r.body, r.headers as Record<string, string>);
    new Webhook(rotated.data.secret).verify(r.body, r.headers as Record<string, string>);
    const deliveries = await client.GET("/v1/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: made.data.id } } });
    assert.equal(deliveries.data?.items.length, 2);
  } finally {
    receiver.close();
  }
});
