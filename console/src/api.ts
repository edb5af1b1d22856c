// Every call goes through the TypeScript SDK (openapi-fetch over the types
// generated from openapi.yaml); this file only adds the console's token and
// turns a 401 anywhere into a return to sign-in.
import { createResourcesClient, type ListQuery, type Resource, type ResourcesClient } from "../../sdk/typescript/src/index.js";

export type { ListQuery, Resource };

let onUnauthorized: (message: string) => void = () => {};

/** Registers what happens when the API answers 401 (the token is bad or expired). */
export function handleUnauthorized(f: (message: string) => void): void {
  onUnauthorized = f;
}

/** A client carrying token; fetch replaces the browser's (upload progress). */
export function apiClient(token: string, fetch?: typeof globalThis.fetch): ResourcesClient {
  const client = createResourcesClient({ baseUrl: location.origin, token, fetch });
  client.use({
    async onResponse({ response }) {
      if (response.status === 401) {
        onUnauthorized(await errorMessage(response.clone()));
      }
      return response;
    },
  });
  return client;
}

/** The message of an {"error"} body, or the status when there is none. */
export function messageOf(error: unknown, response: Response): string {
  if (typeof error === "object" && error !== null && "error" in error && typeof error.error === "string") {
    return error.error;
  }
  return `${response.status} ${response.statusText || "error"}`.trim();
}

async function errorMessage(response: Response): Promise<string> {
  try {
    return messageOf(await response.json(), response);
  } catch {
    return messageOf(undefined, response);
  }
}

/** The largest content the server accepts, from the page it served. */
export function maxContentBytes(): number {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="max-content-bytes"]');
  const n = Number(meta?.content);
  return Number.isSafeInteger(n) && n > 0 ? n : 25 << 20;
}

/** The largest resumable upload the server takes (0 when the page does not say). */
export function maxUploadBytes(): number {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="max-upload-bytes"]');
  const n = Number(meta?.content);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
