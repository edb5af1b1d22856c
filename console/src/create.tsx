// Create: drop a file or pick one; its bytes go as a data URL in `content`,
// checked against the server's size limit before anything is sent, with the
// upload's progress shown. A file over that limit goes as a resumable upload
// (tus, through the SDK's uploadFile) in 8 MiB pieces, which can be paused
// and resumed, and which resumes after a reload when the same file is
// chosen again (tus-js-client keeps its URL in localStorage).
import { useRef, useState } from "preact/hooks";
import { uploadFile, type UploadTask } from "../../sdk/typescript/src/index.js";
import { apiClient, maxContentBytes, maxUploadBytes, messageOf } from "./api.js";
import { progressFetch } from "./progress-fetch.js";
import { formatBytes, parseMetadata, splitTags } from "./query.js";
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
  const [task, setTask] = useState<UploadTask | null>(null);
  const [paused, setPaused] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const inline = maxContentBytes();
  // Over the inline limit, a file goes in pieces when the server takes them.
  const limit = Math.max(inline, maxUploadBytes());
  const tooLarge = (f: File) => `${f.name} is ${formatBytes(f.size)}; the server accepts at most ${formatBytes(limit)}.`;

  function pick(f: File | undefined) {
    if (!f) return;
    setFile(f);
    setName(f.name);
    setErrors(f.size > limit ? { file: tooLarge(f) } : {});
  }

  /** Sends file in pieces; the page moves to the resource when it exists. */
  function resumable(file: File, meta: Record<string, unknown> | undefined) {
    setProgress({ phase: "Uploading", value: 0 });
    const t = uploadFile(file, { name, directory_path: dir, tags: splitTags(tags), metadata: meta, mime_type: file.type || undefined }, {
      baseUrl: location.origin,
      token,
      onProgress: (sent, total) => setProgress({ phase: "Uploading", value: total > 0 ? sent / total : 0 }),
    });
    setTask(t);
    t.done.then(
      (id) => navigate("?id=" + encodeURIComponent(id)),
      (err: Error & { status?: number }) => {
        setProgress(null);
        setTask(null);
        const message = err.message.replace(/^upload: \d+ /, "");
        setErrors(err.status === 409 ? { where: message } : err.status === 413 ? { file: message } : { form: `The upload failed: ${message}` });
      },
    );
  }

  async function togglePause() {
    if (!task) return;
    if (paused) {
      task.resume();
      setPaused(false);
    } else {
      await task.pause();
      setPaused(true);
    }
  }

  async function submit(e: Event) {
    e.preventDefault();
    if (!file) return setErrors({ file: "Choose a file to upload." });
    if (file.size > limit) return setErrors({ file: tooLarge(file) });
    const meta = parseMetadata(metadata);
    if (meta === null) return setErrors({ metadata: "Metadata must be a JSON object, such as {\"owner\": \"ana\"}." });
    setErrors({});
    if (file.size > inline) return resumable(file, meta);
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
            {file && file.size > inline && file.size <= limit && " Sent in pieces: it can be paused, and resumes after a reload when you choose it again."}
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
        {task && <button type="button" class="secondary" onClick={togglePause}>{paused ? "Resume" : "Pause"}</button>}
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
