// Links: "Share" a resource by a download link (expiry, max downloads, copy,
// list and revoke), and an "Upload link" that lets someone without an
// account drop files into a folder. The URL or token is shown once, as the
// server keeps neither.
import { useEffect, useState } from "preact/hooks";
import { createUploadLink, downloadLinks, revokeDownloadLink, revokeUploadLink, shareResource, uploadLinks,
  type DownloadLink, type UploadLink } from "../../sdk/typescript/src/index.js";
import { apiClient, maxContentBytes, type Resource } from "./api.js";
import { formatBytes, formatTime, splitTags } from "./query.js";
import { ErrorNote } from "./widgets.js";

const lifetimes: [string, number][] = [["10 minutes", 600], ["1 hour", 3600], ["1 day", 86400], ["7 days", 604800]];

/** The message of an SDK link function's error: "STATUS message". */
function failure(x: unknown): string {
  return x instanceof Error ? x.message.replace(/^\S+ \S+: /, "") : String(x);
}

/** Makes a change to a list of links, then reloads it; a failure is the form's. */
async function changeLinks(change: () => Promise<unknown>, refresh: () => Promise<unknown>, onError: (e: { form: string }) => void) {
  try {
    await change();
    await refresh();
  } catch (x) {
    onError({ form: failure(x) });
  }
}

/** A value shown once, with a button that copies it. */
function Secret({ id, label, value }: { id: string; label: string; value: string }) {
  const [copied, setCopied] = useState<string | null>(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied("Copied.");
    } catch {
      setCopied("The browser refused the clipboard: select the text and copy it.");
    }
  }
  return (
    <div class="field secret">
      <label for={id}>{label}</label>
      <div class="actions">
        <input id={id} readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>Copy</button>
        {copied && <span role="status" class={copied === "Copied." ? "ok" : "muted"}>{copied}</span>}
      </div>
      <p class="muted">Shown this once: the server keeps only a hash of it.</p>
    </div>
  );
}

function Lifetime({ id, value, onChange }: { id: string; value: number; onChange: (n: number) => void }) {
  return (
    <div class="field">
      <label for={id}>Expires after</label>
      <select id={id} value={String(value)} onChange={(e) => onChange(Number(e.currentTarget.value))}>
        {lifetimes.map(([label, n]) => <option key={n} value={String(n)}>{label}</option>)}
      </select>
    </div>
  );
}

/** A count limit: empty for none, else a whole number from 1. */
function parseLimit(v: string): number | undefined | null {
  if (v.trim() === "") return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 1 && n <= 1_000_000 ? n : null;
}

export function SharePanel({ r, token }: { r: Resource; token: string }) {
  const [lifetime, setLifetime] = useState(3600);
  const [max, setMax] = useState("");
  const [inline, setInline] = useState(false);
  const [made, setMade] = useState<string | null>(null);
  const [links, setLinks] = useState<DownloadLink[]>([]);
  const [error, setError] = useState<{ max?: string; form?: string }>({});
  const api = apiClient(token);

  const refresh = () => downloadLinks(api, r.id).then(setLinks).catch((x: unknown) => setError({ form: failure(x) }));
  useEffect(() => { void refresh(); }, [r.id, token]);

  async function submit(e: Event) {
    e.preventDefault();
    const maxDownloads = parseLimit(max);
    if (maxDownloads === null) return setError({ max: "Max downloads must be a whole number from 1 to 1,000,000, or empty for no limit." });
    setError({});
    await changeLinks(async () => {
      const link = await shareResource(api, r.id, { expires_in: lifetime, max_downloads: maxDownloads, disposition: inline ? "inline" : "attachment" });
      setMade(link.url ?? null);
    }, refresh, setError);
  }

  const revoke = (l: DownloadLink) => changeLinks(() => revokeDownloadLink(api, r.id, l.id), refresh, setError);

  return (
    <section aria-labelledby="share-title" class="share">
      <h2 id="share-title">Share</h2>
      <p class="muted">A link that downloads {r.name} without signing in, until it expires, is used up or is revoked.</p>
      <form onSubmit={submit} noValidate>
        <div class="grid">
          <Lifetime id="s-expires" value={lifetime} onChange={setLifetime} />
          <div class="field">
            <label for="s-max">Max downloads (empty: no limit)</label>
            <input id="s-max" inputMode="numeric" value={max} aria-describedby="s-max-error" onInput={(e) => setMax(e.currentTarget.value)} />
            <ErrorNote id="s-max-error" message={error.max ?? null} />
          </div>
        </div>
        <div class="field check">
          <input id="s-inline" type="checkbox" checked={inline} onChange={(e) => setInline(e.currentTarget.checked)} />
          <label for="s-inline">Show in the browser rather than save (still sandboxed)</label>
        </div>
        <ErrorNote message={error.form ?? null} />
        <button type="submit">Create link</button>
      </form>
      {made && <Secret id="s-url" label="Link" value={made} />}
      <h3>Live links</h3>
      {links.length === 0 ? <p class="muted">None.</p> : (
        <ul class="links">
          {links.map((l) => (
            <li key={l.id} data-link={l.id}>
              <span>{l.disposition}, {l.downloads}{l.max_downloads === undefined ? "" : ` of ${l.max_downloads}`} downloads, expires {formatTime(l.expires_at)}</span>
              <button type="button" class="secondary" onClick={() => revoke(l)} aria-label={`Revoke the link that expires ${formatTime(l.expires_at)}`}>Revoke</button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function UploadLinkPanel({ token, directory }: { token: string; directory: string }) {
  const limit = maxContentBytes();
  const [dir, setDir] = useState(directory);
  const [deep, setDeep] = useState(false);
  const [types, setTypes] = useState("");
  const [maxMiB, setMaxMiB] = useState("");
  const [uploads, setUploads] = useState("");
  const [lifetime, setLifetime] = useState(86400);
  const [made, setMade] = useState<string | null>(null);
  const [links, setLinks] = useState<UploadLink[]>([]);
  const [error, setError] = useState<{ limits?: string; form?: string }>({});
  const api = apiClient(token);

  const refresh = () => uploadLinks(api).then(setLinks).catch((x: unknown) => setError({ form: failure(x) }));
  useEffect(() => { void refresh(); }, [token]);
  useEffect(() => setDir(directory), [directory]);

  async function submit(e: Event) {
    e.preventDefault();
    const maxUploads = parseLimit(uploads);
    const mib = maxMiB.trim() === "" ? undefined : Number(maxMiB);
    const maxBytes = mib === undefined ? undefined : Math.floor(mib * (1 << 20));
    if (maxUploads === null || maxBytes !== undefined && !(maxBytes >= 1 && maxBytes <= limit)) {
      return setError({ limits: `Max uploads must be a whole number from 1, and the largest file at most ${formatBytes(limit)}; leave either empty for no limit of its own.` });
    }
    setError({});
    await changeLinks(async () => {
      const link = await createUploadLink(api, { directory_path: dir, allow_subdirectories: deep, mime_types: splitTags(types),
        max_bytes: maxBytes, max_uploads: maxUploads, expires_in: lifetime });
      setMade(link.token ?? null);
    }, refresh, setError);
  }

  const revoke = (l: UploadLink) => changeLinks(() => revokeUploadLink(api, l.id), refresh, setError);

  return (
    <section aria-labelledby="upload-link-title" class="share">
      <h2 id="upload-link-title">Upload link</h2>
      <p class="muted">A token that lets someone without an account upload into one folder, within the limits you set.</p>
      <form onSubmit={submit} noValidate>
        <div class="grid">
          <div class="field">
            <label for="u-dir">Folder</label>
            <input id="u-dir" value={dir} onInput={(e) => setDir(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="u-types">Types, such as image/*, application/pdf (empty: any)</label>
            <input id="u-types" value={types} onInput={(e) => setTypes(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="u-size">Largest file, MiB (empty: {formatBytes(limit)})</label>
            <input id="u-size" inputMode="decimal" value={maxMiB} aria-describedby="u-limits-error" onInput={(e) => setMaxMiB(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="u-uploads">Max uploads (empty: no limit)</label>
            <input id="u-uploads" inputMode="numeric" value={uploads} aria-describedby="u-limits-error" onInput={(e) => setUploads(e.currentTarget.value)} />
          </div>
          <Lifetime id="u-expires" value={lifetime} onChange={setLifetime} />
        </div>
        <div class="field check">
          <input id="u-deep" type="checkbox" checked={deep} onChange={(e) => setDeep(e.currentTarget.checked)} />
          <label for="u-deep">Also into folders beneath it</label>
        </div>
        <ErrorNote id="u-limits-error" message={error.limits ?? null} />
        <ErrorNote message={error.form ?? null} />
        <button type="submit">Create upload link</button>
      </form>
      {made && <Secret id="u-token" label="Token (the holder sends it as Authorization: Bearer …)" value={made} />}
      <h3>Live upload links</h3>
      {links.length === 0 ? <p class="muted">None.</p> : (
        <ul class="links">
          {links.map((l) => (
            <li key={l.id} data-link={l.id}>
              <span>{l.directory_path}{l.allow_subdirectories ? " and beneath" : ""}, {l.uploads}{l.max_uploads === undefined ? "" : ` of ${l.max_uploads}`} uploads, expires {formatTime(l.expires_at)}</span>
              <button type="button" class="secondary" onClick={() => revoke(l)} aria-label={`Revoke the upload link to ${l.directory_path} that expires ${formatTime(l.expires_at)}`}>Revoke</button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
