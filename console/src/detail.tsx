// One resource: every field, a preview for images and text, download, edit
// (PUT) and delete. Stored bytes are only ever shown as an <img> (which runs
// no script, SVG included) or as text, never as a document of this origin.
import { useEffect, useRef, useState } from "preact/hooks";
import { apiClient, messageOf, type Resource } from "./api.js";
import { formatBytes, formatTime, listSearch, parseMetadata } from "./query.js";
import { linkTo, navigate } from "./router.js";
import { SharePanel } from "./share.js";
import { Chip, ErrorNote } from "./widgets.js";

const fields: (keyof Resource)[] = ["id", "account_id", "name", "directory_path", "mime_type", "size_bytes", "sha256",
  "storage_bucket", "storage_key", "original_uri", "external_id", "external_storage_type", "created_by", "created_at", "updated_at"];

/** Image types a browser decodes without running anything. */
const imageTypes = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "image/svg+xml"]);
const textTypes = new Set(["application/json", "application/yaml", "application/xml", "application/x-ndjson", "application/javascript"]);
/** Text previews show the first bytes only. */
const textPreviewBytes = 64 * 1024;

type Load = { resource?: Resource; error?: string };

export function Detail({ id, token }: { id: string; token: string }) {
  const [load, setLoad] = useState<Load>({});
  const api = apiClient(token);
  useEffect(() => {
    api.GET("/v1/resource/{id}", { params: { path: { id } } }).then(({ data, error, response }) =>
      setLoad(data ? { resource: data } : { error: messageOf(error, response) }),
    ).catch((x: unknown) => setLoad({ error: `The server could not be reached: ${String(x)}` }));
  }, [id, token]);

  const back = <p><a {...linkTo("")} class="back">‹ All resources</a></p>;
  if (load.error) return <main id="main">{back}<h1>Resource</h1><ErrorNote message={load.error} /></main>;
  const r = load.resource;
  if (!r) return <main id="main">{back}<p role="status" class="muted">Loading…</p></main>;
  return (
    <main id="main" class="detail">
      {back}
      <h1>{r.name}</h1>
      <div class="columns">
        <section aria-labelledby="fields-title">
          <h2 id="fields-title">Fields</h2>
          <dl class="fields">
            {fields.map((k) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd><FieldValue name={k} r={r} /></dd>
              </div>
            ))}
            <div>
              <dt>tags</dt>
              <dd class="chips">
                {(r.tags ?? []).length === 0 ? <span class="muted">none</span> : (r.tags ?? []).map((t) => (
                  <Chip key={t}><a {...linkTo(listSearch({ tags: t }))}>{t}</a></Chip>
                ))}
              </dd>
            </div>
          </dl>
          <h3>metadata</h3>
          <pre class="json" tabIndex={0} aria-label="Metadata as JSON">{r.metadata == null ? "null" : JSON.stringify(r.metadata, null, 2)}</pre>
        </section>
        <section aria-labelledby="preview-title">
          <h2 id="preview-title">Content</h2>
          <Preview r={r} token={token} />
        </section>
      </div>
      <SharePanel r={r} token={token} />
      <Edit r={r} token={token} onSaved={(saved) => setLoad({ resource: saved })} />
      <Delete r={r} token={token} />
    </main>
  );
}

function FieldValue({ name, r }: { name: keyof Resource; r: Resource }) {
  const v = r[name];
  if (v === undefined || v === null) return <span class="muted">null</span>;
  if (name === "size_bytes") return <>{formatBytes(r.size_bytes)} ({r.size_bytes} bytes)</>;
  if (name === "created_at" || name === "updated_at") return <time dateTime={String(v)}>{String(v)} ({formatTime(String(v))})</time>;
  if (name === "directory_path") return <a {...linkTo(listSearch({ directory_prefix: r.directory_path }))}>{r.directory_path}</a>;
  return <code>{String(v)}</code>;
}

function baseType(mime: string): string {
  return (mime.split(";")[0] ?? "").trim().toLowerCase();
}

function Preview({ r, token }: { r: Resource; token: string }) {
  const type = baseType(r.mime_type);
  const kind = imageTypes.has(type) ? "image" : type.startsWith("text/") || textTypes.has(type) || type.endsWith("+json") ? "text" : null;
  const [state, setState] = useState<{ url?: string; text?: string; cut?: boolean; error?: string }>({});
  const [saving, setSaving] = useState<string | null>(null);

  useEffect(() => {
    if (!kind) return;
    let url: string | undefined;
    const header = kind === "text" ? { Range: `bytes=0-${textPreviewBytes - 1}` } : {};
    apiClient(token)
      .GET("/v1/resource/{id}/content", { params: { path: { id: r.id }, query: { disposition: "inline" }, header }, parseAs: "blob" })
      .then(async ({ data, error, response }) => {
        if (!data) return setState({ error: messageOf(error, response) });
        if (kind === "image") {
          url = URL.createObjectURL(data);
          setState({ url });
        } else {
          setState({ text: await data.text(), cut: r.size_bytes > textPreviewBytes });
        }
      })
      .catch((x: unknown) => setState({ error: String(x) }));
    return () => url && URL.revokeObjectURL(url);
  }, [r.id, r.sha256]);

  async function download() {
    setSaving("Downloading…");
    try {
      const { data, error, response } = await apiClient(token).GET("/v1/resource/{id}/content", { params: { path: { id: r.id } }, parseAs: "blob" });
      if (!data) return setSaving(messageOf(error, response));
      const url = URL.createObjectURL(data);
      // download= makes the browser save the blob: it is never opened as a
      // page of this origin.
      const a = document.createElement("a");
      a.href = url;
      a.download = r.name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setSaving(null);
    } catch (x) {
      setSaving(`The download failed: ${String(x)}`);
    }
  }

  return (
    <div class="preview">
      {!kind && <p class="muted">No preview for {type || "this type"}.</p>}
      {state.url && <img src={state.url} alt={`Preview of ${r.name}`} />}
      {state.text !== undefined && (
        <>
          <pre class="text" tabIndex={0} aria-label={`Text of ${r.name}`}>{state.text}</pre>
          {state.cut && <p class="muted">First {formatBytes(textPreviewBytes)} of {formatBytes(r.size_bytes)}.</p>}
        </>
      )}
      <ErrorNote message={state.error ?? null} />
      <button type="button" onClick={download}>Download {r.name}</button>
      {saving && (saving.endsWith("…") ? <p role="status" class="muted">{saving}</p> : <ErrorNote message={saving} />)}
    </div>
  );
}

function Edit({ r, token, onSaved }: { r: Resource; token: string; onSaved: (r: Resource) => void }) {
  const [name, setName] = useState(r.name);
  const [dir, setDir] = useState(r.directory_path);
  const [metadata, setMetadata] = useState(r.metadata == null ? "" : JSON.stringify(r.metadata, null, 2));
  const [error, setError] = useState<{ where?: string; metadata?: string; form?: string }>({});
  const [status, setStatus] = useState<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setStatus(null);
    const meta = parseMetadata(metadata);
    if (meta === null) return setError({ metadata: "Metadata must be a JSON object." });
    setError({});
    const { data, error: err, response } = await apiClient(token).PUT("/v1/resource/{id}", {
      params: { path: { id: r.id } },
      body: { name, directory_path: dir, ...(meta === undefined ? {} : { metadata: meta }) },
    });
    if (data) {
      onSaved(data);
      setStatus("Saved.");
      return;
    }
    const message = messageOf(err, response);
    setError(response.status === 409 || response.status === 400 ? { where: message } : { form: message });
  }

  return (
    <section aria-labelledby="edit-title" class="edit">
      <h2 id="edit-title">Rename, move, replace metadata</h2>
      <form onSubmit={submit} noValidate>
        <div class="grid">
          <div class="field">
            <label for="e-name">Name</label>
            <input id="e-name" value={name} onInput={(e) => setName(e.currentTarget.value)} aria-describedby="e-where-error" />
          </div>
          <div class="field">
            <label for="e-dir">Directory</label>
            <input id="e-dir" value={dir} onInput={(e) => setDir(e.currentTarget.value)} aria-describedby="e-where-error" />
          </div>
        </div>
        <ErrorNote id="e-where-error" message={error.where ?? null} />
        <div class="field">
          <label for="e-meta">Metadata (JSON object; replaces the old one whole)</label>
          <textarea id="e-meta" rows={5} value={metadata} spellcheck={false} aria-describedby="e-meta-error" onInput={(e) => setMetadata(e.currentTarget.value)} />
          <ErrorNote id="e-meta-error" message={error.metadata ?? null} />
        </div>
        <ErrorNote message={error.form ?? null} />
        <button type="submit">Save changes</button>
        {status && <p role="status" class="ok">{status}</p>}
      </form>
    </section>
  );
}

function Delete({ r, token }: { r: Resource; token: string }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | null>(null);

  async function confirm() {
    const { error: err, response } = await apiClient(token).DELETE("/v1/resource/{id}", { params: { path: { id: r.id } } });
    if (response.ok) {
      dialog.current?.close();
      navigate(listSearch({ directory_prefix: r.directory_path }));
      return;
    }
    setError(messageOf(err, response));
  }

  return (
    <section aria-labelledby="delete-title" class="danger">
      <h2 id="delete-title">Delete</h2>
      <button type="button" class="danger" onClick={() => { setError(null); dialog.current?.showModal(); }}>Delete {r.name}…</button>
      <dialog ref={dialog} aria-labelledby="confirm-title" aria-describedby="confirm-text">
        <h2 id="confirm-title">Delete {r.name}?</h2>
        <p id="confirm-text">This removes the resource, its tags and its stored bytes from {r.directory_path}. It cannot be undone.</p>
        <ErrorNote message={error} />
        <div class="actions">
          <button type="button" class="danger" onClick={confirm}>Delete</button>
          <button type="button" class="secondary" onClick={() => dialog.current?.close()} autofocus>Cancel</button>
        </div>
      </dialog>
    </section>
  );
}
