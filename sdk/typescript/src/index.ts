// A typed client for the resources API. The types in schema.ts are
// generated from openapi.yaml (npm run generate); openapi-fetch turns them
// into checked calls, so a renamed parameter or field fails `tsc`.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export * from "./links.js";
export * from "./events.js";
export type Resource = components["schemas"]["Resource"];
export type ResourcesClient = Client<paths>;
/** The query parameters of GET /v1/resources. */
export type ListQuery = NonNullable<paths["/v1/resources"]["get"]["parameters"]["query"]>;

export interface ClientOptions {
  /** Where the API is served, such as https://api.example.com. */
  baseUrl: string;
  /**
   * A bearer JWT (every /v1 route but a download link's URL needs one), or
   * an upload link's token for uploadThroughLink.
   */
  token?: string;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof globalThis.fetch;
}

/** Returns a client whose calls carry the bearer token. */
export function createResourcesClient(opts: ClientOptions): ResourcesClient {
  const client = createClient<paths>({ baseUrl: opts.baseUrl, fetch: opts.fetch });
  if (opts.token) {
    const token = opts.token;
    const auth: Middleware = {
      onRequest({ request }) {
        request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}

/**
 * Yields every resource matching the filters. It follows `next_cursor`
 * when the server sends one (stable while others write, as fast at any
 * depth) and otherwise walks page numbers until a short page. The server
 * orders by created_at with ties broken by id, so nothing repeats or is
 * skipped.
 */
export async function* allResources(
  client: ResourcesClient,
  query: Omit<ListQuery, "page" | "cursor"> = {},
): AsyncGenerator<Resource> {
  const pageSize = query.page_size ?? 20;
  let cursor: string | undefined;
  for (let page = 1; ; page++) {
    const params = cursor === undefined ? { ...query, page } : { ...query, cursor };
    const { data, error, response } = await client.GET("/v1/resources", { params: { query: params } });
    if (error !== undefined || data === undefined) {
      throw new Error(`GET /v1/resources: ${response.status} ${JSON.stringify(error)}`);
    }
    yield* data.items;
    if (data.next_cursor !== undefined) {
      cursor = data.next_cursor;
    } else if (cursor !== undefined || data.items.length < pageSize) {
      return;
    }
  }
}
export * from "./uploads.js";
