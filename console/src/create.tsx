// Create: drop a file or pick one; its bytes go as a data URL in `content`,
// checked against the server's size limit before anything is sent, with the
// upload's progress shown.
import { useRef, useState } from "preact/hooks";
import { apiClient, maxContentBytes, messageOf } from "./api.js";
import { progressFetch } from "./progress-fetch.js";
import { formatBytes, splitTags } from "./query.js";
import { navigate } from "./router.js";
import { ErrorNote } from "./widgets.js";

type Errors = { file?: string; where?: string; metadata?: string; form?: string };

export function CreatePanel({ token, directory }: { token: string; directory: string }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [dir, setDir] = useState(directory);
  const [tags, setTags] = useState("");
  const [metadata, setMetadata] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [progress, setProgress] = useState<{ phase: string; value: number } | null>(null);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const limit = maxContentBytes();

  function pick(f: File | undefined) {
    if (!f) return;
    setFile(f);
    setName(f.name);
    setErrors(f.size > limit ? { file: `${f.name} is ${formatBytes(f.size)}; the server accepts at most ${formatBytes(limit)}.` } : {});
  }

  async function submit(e: Event) {
    e.preventDefault();
    if (!file) return setErrors({ file: "Choose a file to upload." });
    if (file.size > limit) return setErrors({ file: `${file.name} is ${formatBytes(file.size)}; the server accepts at most ${formatBytes(limit)}.` });
    let meta: Record<string, unknown> | undefined;
    if (metadata.trim() !== "") {
      try {
        const parsed: unknown = JSON.parse(metadata);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
        meta = parsed as Record<string, unknown>;
      } catch {
        return setErrors({ metadata: "Metadata must be a JSON object, such as {\"owner\": \"ana\"}." });
      }
    }
    setErrors({});
    try {
      setProgress({ phase: "Reading", value: 0 });
      const content = await readAsDataURL(file, (v) => setProgress({ phase: "Reading", value: v }));
      const client = apiClient(token, progressFetch((sent, total) => setProgress({ phase: "Uploading", value: total > 0 ? sent / total : 0 })));
      const { data, error, response } = await client.POST("/v1/resources", {
        body: { name, directory_path: dir, content, tags: splitTags(tags), metadata: meta },
      });
      setProgress(null);
      if (data) {
        navigate("?id=" + encodeURIComponent(data.id));
        return;
      }
      const message = messageOf(error, response);
      // A 409 is about where the resource goes; 413 about the file.
      setErrors(response.status === 409 ? { where: message } : response.status === 413 ? { file: message } : { form: message });
    } catch (x) {
      setProgress(null);
      setErrors({ form: `The upload failed: ${String(x)}` });
    }
  }

  return (
    <section aria-labelledby="create-title" class="create">
      <h2 id="create-title">Add a resource</h2>
      <form onSubmit={submit} noValidate>
        <div
          class={dragging ? "drop dragging" : "drop"}
          onDragOver={(e) => { e.preventDefault(); setDragging(true); }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => { e.preventDefault(); setDragging(false); pick(e.dataTransfer?.files[0]); }}
        >
          <p>Drop a file here, or</p>
          <label class="button secondary" for="c-file">Choose a file</label>
          <input ref={input} id="c-file" type="file" class="visually-hidden-file" aria-describedby="c-file-status c-file-error"
            onChange={(e) => pick(e.currentTarget.files?.[0])} />
          <p id="c-file-status" class="muted">
            {file ? `${file.name}, ${formatBytes(file.size)}, ${file.type || "type unknown"}` : `No file chosen (at most ${formatBytes(limit)}).`}
          </p>
          <ErrorNote id="c-file-error" message={errors.file ?? null} />
        </div>
        <div class="grid">
          <div class="field">
            <label for="c-name">Name</label>
            <input id="c-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} aria-describedby="c-where-error" />
          </div>
          <div class="field">
            <label for="c-dir">Directory</label>
            <input id="c-dir" value={dir} required onInput={(e) => setDir(e.currentTarget.value)} aria-describedby="c-where-error" />
          </div>
        </div>
        <ErrorNote id="c-where-error" message={errors.where ?? null} />
        <div class="field">
          <label for="c-tags">Tags (comma-separated)</label>
          <input id="c-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="c-meta">Metadata (JSON object, optional)</label>
          <textarea id="c-meta" rows={3} value={metadata} spellcheck={false} aria-describedby="c-meta-error" onInput={(e) => setMetadata(e.currentTarget.value)} />
          <ErrorNote id="c-meta-error" message={errors.metadata ?? null} />
        </div>
        {progress && (
          <div class="progress">
            <label for="c-progress">{progress.phase}… {Math.round(progress.value * 100)}%</label>
            <progress id="c-progress" max={1} value={progress.value} />
          </div>
        )}
        <ErrorNote message={errors.form ?? null} />
        <button type="submit" disabled={progress !== null || (file !== null && file.size > limit)}>Upload</button>
      </form>
    </section>
  );
}

function readAsDataURL(file: File, onProgress: (v: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    reader.onload = () => {
      let url = String(reader.result);
      // A file the browser cannot type reads as "data:;base64,": the API
      // needs a media type, and octet-stream says "unknown bytes".
      if (url.startsWith("data:;")) url = "data:application/octet-stream;" + url.slice("data:;".length);
      resolve(url);
    };
    reader.onerror = () => reject(reader.error ?? new Error("the file could not be read"));
    reader.readAsDataURL(file);
  });
}
