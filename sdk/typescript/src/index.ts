// A typed client for the resources API. The types in schema.ts are
// generated from openapi.yaml (npm run generate); openapi-fetch turns them
// into checked calls, so a renamed parameter or field fails `tsc`.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type Resource = components["schemas"]["Resource"];
export type ResourcesClient = Client<paths>;
/** The query parameters of GET /v1/resources. */
export type ListQuery = NonNullable<paths["/v1/resources"]["get"]["parameters"]["query"]>;

export interface ClientOptions {
  /** Where the API is served, such as https://api.example.com. */
  baseUrl: string;
  /** A bearer JWT; every /v1 route needs one. */
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
 * Yields every resource matching the filters, page by page. The server
 * orders by created_at with ties broken by id, so no page repeats or skips
 * a resource.
 */
export async function* allResources(
  client: ResourcesClient,
  query: Omit<ListQuery, "page"> = {},
): AsyncGenerator<Resource> {
  for (let page = 1; ; page++) {
    const { data, error, response } = await client.GET("/v1/resources", { params: { query: { ...query, page } } });
    if (error !== undefined || data === undefined) {
      throw new Error(`GET /v1/resources page ${page}: ${response.status} ${JSON.stringify(error)}`);
    }
    if (data.items.length === 0) {
      return;
    }
    yield* data.items;
  }
}
