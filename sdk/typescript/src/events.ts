// The change feed: watch() follows the account's events over server-sent
// events and picks up after a drop from the last sequence it delivered;
// verifyWebhook() checks a webhook delivery's Standard Webhooks signature.
import type { components } from "./schema.js";

export type Event = components["schemas"]["Event"];
export type EventType = components["schemas"]["EventType"];

/** What watch() follows: the feed's filters and where to start. */
export interface WatchOptions {
  baseUrl: string;
  token: string;
  /** Event types to receive; all when absent. */
  types?: EventType[];
  /** Only events whose resource carries all these tags. */
  tags?: string[];
  /** Only events whose resource's directory_path starts with this. */
  directoryPrefix?: string;
  /** Start after this sequence (replaying what came since); from now on when absent. */
  after?: number;
  /** Wait before reconnecting after a drop, unless the server says (retry:). Default 1000 ms. */
  retryMs?: number;
  /** A fetch to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
  /** Called with each error that dropped the stream (it reconnects). */
  onError?: (err: unknown) => void;
}

/** A running watch; stop() ends it. `done` settles when it has stopped. */
export interface Watch {
  stop(): void;
  done: Promise<void>;
  /** The last sequence delivered to onEvent (0 before any). */
  readonly lastSequence: number;
}

/**
 * Follows the account's events, calling onEvent with each in sequence
 * order, until stop(). After a dropped connection, a server restart or a
 * replica that drains, it reconnects with Last-Event-ID, so nothing is
 * missed or repeated. A 410 (the sequence was pruned) or a 4xx stops it
 * with the error in `done`: re-list, then watch again.
 */
export function watch(opts: WatchOptions, onEvent: (e: Event) => void | Promise<void>): Watch {
  const controller = new AbortController();
  const doFetch = opts.fetch ?? globalThis.fetch;
  let last = opts.after;
  let retry = opts.retryMs ?? 1000;
  const state = { lastSequence: opts.after ?? 0 };
  const url = new URL("/v1/events/stream", opts.baseUrl);
  if (opts.types?.length) url.searchParams.set("types", opts.types.join(","));
  if (opts.tags?.length) url.searchParams.set("tags", opts.tags.join(","));
  if (opts.directoryPrefix) url.searchParams.set("directory_prefix", opts.directoryPrefix);

  const once = async (): Promise<void> => {
    const headers: Record<string, string> = { Authorization: `Bearer ${opts.token}`, Accept: "text/event-stream" };
    if (last !== undefined) headers["Last-Event-ID"] = String(last);
    const res = await doFetch(url, { headers, signal: controller.signal });
    if (res.status >= 400 && res.status < 500) {
      throw new FatalWatchError(res.status, await res.text());
    }
    if (!res.ok || res.body === null) throw new Error(`GET /v1/events/stream: ${res.status}`);
    for await (const frame of frames(res.body)) {
      if (frame.retry !== undefined) retry = frame.retry;
      if (frame.data === undefined || frame.id === undefined) continue;
      const e = JSON.parse(frame.data) as Event;
      await onEvent(e);
      last = e.sequence;
      state.lastSequence = e.sequence;
    }
  };

  const done = (async () => {
    while (!controller.signal.aborted) {
      try {
        await once();
      } catch (err) {
        if (controller.signal.aborted) return;
        if (err instanceof FatalWatchError) throw err;
        opts.onError?.(err);
      }
      if (controller.signal.aborted) return;
      await sleep(retry, controller.signal);
    }
  })();
  return {
    stop: () => controller.abort(),
    done,
    get lastSequence() {
      return state.lastSequence;
    },
  };
}

/** A refusal that reconnecting cannot mend (401, 403, 410 and the like). */
export class FatalWatchError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`GET /v1/events/stream: ${status} ${body}`);
  }
}

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
}

/** Parses a text/event-stream body into its frames (the WHATWG rules that matter here). */
async function* frames(body: ReadableStream<Uint8Array>): AsyncGenerator<Frame> {
  const decoder = new TextDecoder();
  let buf = "";
  let frame: Frame = {};
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        yield frame;
        frame = {};
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
      else if (field === "id") frame.id = value;
      else if (field === "event") frame.event = value;
      else if (field === "retry" && /^\d+$/.test(value)) frame.retry = Number(value);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** The headers of a webhook delivery, as any HTTP library hands them over. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/**
 * Checks a webhook delivery's signature (Standard Webhooks: HMAC-SHA256
 * keyed by the whsec_ secret over id.timestamp.body) and that its
 * timestamp is within toleranceSeconds of now (default 300), and returns
 * the event. body must be the raw request body, byte for byte. Throws
 * when the delivery does not verify.
 */
export async function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string,
  toleranceSeconds = 300,
): Promise<Event> {
  const get = (name: string): string => {
    const v = headers instanceof Headers ? headers.get(name) : headers[name] ?? headers[name.toLowerCase()];
    const s = Array.isArray(v) ? v[0] : v;
    if (!s) throw new Error(`webhook: missing ${name} header`);
    return s;
  };
  const id = get("webhook-id");
  const timestamp = get("webhook-timestamp");
  const signatures = get("webhook-signature");
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(Date.now() / 1000 - ts) > toleranceSeconds) {
    throw new Error("webhook: timestamp outside the tolerance");
  }
  const key = Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
  const hmac = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(`${id}.${timestamp}.${body}`)));
  const expected = btoa(String.fromCharCode(...mac));
  const ok = signatures.split(" ").some((s) => {
    const [version, sig] = s.split(",");
    return version === "v1" && sig !== undefined && constantTimeEqual(sig, expected);
  });
  if (!ok) throw new Error("webhook: no valid signature");
  return JSON.parse(body) as Event;
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
