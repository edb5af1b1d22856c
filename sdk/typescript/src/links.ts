// Links: hand a resource to someone without a token (download links), or let
// someone without an account upload into one folder (upload links). Each
// function throws on an error answer, with its status and {"error"} message.
import type { components } from "./schema.js";
import type { ResourcesClient } from "./index.js";

export type DownloadLink = components["schemas"]["DownloadLink"];
export type DownloadLinkCreate = components["schemas"]["DownloadLinkCreate"];
export type UploadLink = components["schemas"]["UploadLink"];
export type UploadLinkCreate = components["schemas"]["UploadLinkCreate"];
type Resource = components["schemas"]["Resource"];
type ResourceCreate = components["schemas"]["ResourceCreate"];

/** The answer of an openapi-fetch call, as far as these functions look. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

function unwrap<T>(what: string, { data, error, response }: Answer<T>): T {
  if (error !== undefined || !response.ok) {
    const message = (error as { error?: string } | undefined)?.error ?? response.statusText;
    throw new Error(`${what}: ${response.status} ${message}`);
  }
  return data as T;
}

/**
 * Makes a download link to resource `id`: its `url` downloads the bytes with
 * no token until it expires (`expires_in` seconds, default 3,600), is used up
 * (`max_downloads` responses carrying bytes) or is revoked. The `url` is in
 * this answer only.
 */
export async function shareResource(client: ResourcesClient, id: string, opts: DownloadLinkCreate = {}): Promise<DownloadLink> {
  const answer = await client.POST("/v1/resource/{id}/links", { params: { path: { id } }, body: opts });
  return unwrap(`POST /v1/resource/${id}/links`, answer);
}

/** The live download links of resource `id`, newest first (without URLs). */
export async function downloadLinks(client: ResourcesClient, id: string): Promise<DownloadLink[]> {
  const answer = await client.GET("/v1/resource/{id}/links", { params: { path: { id } } });
  return unwrap(`GET /v1/resource/${id}/links`, answer).items;
}

/** Revokes a download link: its URL answers 404 from now on, on every replica. */
export async function revokeDownloadLink(client: ResourcesClient, id: string, linkId: string): Promise<void> {
  const answer = await client.DELETE("/v1/resource/{id}/links/{link_id}", { params: { path: { id, link_id: linkId } } });
  unwrap(`DELETE /v1/resource/${id}/links/${linkId}`, answer);
}

/**
 * Makes an upload link: its `token` (in this answer only) lets its holder
 * create resources in `directory_path` within the link's rules; hand it to
 * them, and have them call `uploadThroughLink`.
 */
export async function createUploadLink(client: ResourcesClient, body: UploadLinkCreate): Promise<UploadLink> {
  return unwrap("POST /v1/upload-links", await client.POST("/v1/upload-links", { body }));
}

/** The account's live upload links, newest first (without tokens). */
export async function uploadLinks(client: ResourcesClient): Promise<UploadLink[]> {
  return unwrap("GET /v1/upload-links", await client.GET("/v1/upload-links")).items;
}

/** Revokes an upload link: its token is refused (401) from now on. */
export async function revokeUploadLink(client: ResourcesClient, linkId: string): Promise<void> {
  const answer = await client.DELETE("/v1/upload-links/{link_id}", { params: { path: { link_id: linkId } } });
  unwrap(`DELETE /v1/upload-links/${linkId}`, answer);
}

/**
 * Creates a resource as the holder of an upload link: `client` carries the
 * link's token (createResourcesClient({ baseUrl, token })). The body is sent
 * with `directory_path` before `content`, as the server needs to check the
 * link's folder before it takes a byte.
 */
export async function uploadThroughLink(client: ResourcesClient, body: ResourceCreate): Promise<Resource> {
  const { name, directory_path, tags, metadata, uri, content } = body;
  const ordered: ResourceCreate = { name, directory_path, tags, metadata, uri, content };
  return unwrap("POST /v1/resources", await client.POST("/v1/resources", { body: ordered }));
}
