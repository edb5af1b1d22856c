// Resumable uploads: a file of any size (up to the server's
// MAX_UPLOAD_BYTES) in chunks by the tus protocol, through tus-js-client,
// resumable after a dropped connection, a pause or (in a browser) a
// reload. The upload's URL ends in the id of the resource it becomes.
import * as tus from "tus-js-client";

/** The resource's fields, checked by the server before any byte. */
export interface UploadFields {
  name: string;
  directory_path: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  /** The media type; sniffed from the bytes when absent. */
  mime_type?: string;
  /** The hex SHA-256 the bytes must have; the upload fails otherwise. */
  sha256?: string;
}

export interface UploadFileOptions {
  /** Where the API is served, such as https://api.example.com. */
  baseUrl: string;
  /** A bearer JWT with resources:write, or an upload link's token. */
  token: string;
  /** Called as bytes are acknowledged, with the bytes sent and the total. */
  onProgress?: (sent: number, total: number) => void;
  /** Bytes per PATCH; default 8 MiB, the server's S3 part size. */
  chunkSize?: number;
  /**
   * Resume an upload of the same file begun before (found by tus-js-client's
   * fingerprint in its URL storage: localStorage in a browser); default true.
   */
  resume?: boolean;
  /** Where tus-js-client keeps the uploads to resume (its default otherwise). */
  urlStorage?: tus.UrlStorage;
  /** Waits between retries of a failed request; tus-js-client's default otherwise. */
  retryDelays?: number[];
}

/** An upload under way. */
export interface UploadTask {
  /** Resolves with the id of the created resource, rejects with the server's reason. */
  readonly done: Promise<string>;
  /** Stops sending; what was acknowledged stays on the server. */
  pause(): Promise<void>;
  /** Goes on from the offset the server holds. */
  resume(): void;
  /** The upload's URL, once created. */
  readonly url: string | null;
}

/** The Upload-Metadata of fields, as the server reads it. */
export function uploadMetadata(fields: UploadFields): Record<string, string> {
  const m: Record<string, string> = { name: fields.name, directory_path: fields.directory_path };
  if (fields.tags?.length) m.tags = fields.tags.join(",");
  if (fields.metadata !== undefined) m.metadata = JSON.stringify(fields.metadata);
  if (fields.mime_type) m.mime_type = fields.mime_type;
  if (fields.sha256) m.sha256 = fields.sha256;
  return m;
}

/**
 * Uploads `file` (a browser File or Blob, or in Node a Buffer or readable
 * stream) as a new resource with `fields`, and returns the task: `done`
 * resolves with the resource's id once every byte is stored.
 */
export function uploadFile(file: tus.Upload["file"], fields: UploadFields, opts: UploadFileOptions): UploadTask {
  let resolve!: (id: string) => void;
  let reject!: (err: Error) => void;
  const done = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const upload: tus.Upload = new tus.Upload(file, {
    endpoint: `${opts.baseUrl.replace(/\/$/, "")}/v1/uploads`,
    headers: { Authorization: `Bearer ${opts.token}` },
    metadata: uploadMetadata(fields),
    chunkSize: opts.chunkSize ?? 8 * 1024 * 1024,
    removeFingerprintOnSuccess: true,
    ...(opts.urlStorage ? { urlStorage: opts.urlStorage } : {}),
    ...(opts.retryDelays ? { retryDelays: opts.retryDelays } : {}),
    onProgress: opts.onProgress ?? null,
    onSuccess: () => resolve(upload.url!.split("/").pop()!),
    onError: (err) => reject(explain(err)),
  });
  const start = async () => {
    if (opts.resume ?? true) {
      const previous = await upload.findPreviousUploads();
      if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
    }
    upload.start();
  };
  start().catch((err: Error) => reject(err));
  return {
    done,
    pause: () => upload.abort(),
    resume: () => upload.start(),
    get url() {
      return upload.url;
    },
  };
}

/** An error with the server's status and {"error"} message when it answered. */
function explain(err: Error): Error {
  const res = (err as tus.DetailedError).originalResponse;
  if (!res) return err;
  let message = res.getBody();
  try {
    message = (JSON.parse(message) as { error?: string }).error ?? message;
  } catch {
    // not JSON: keep the text
  }
  const e = new Error(`upload: ${res.getStatus()} ${message}`);
  (e as Error & { status?: number }).status = res.getStatus();
  return e;
}
