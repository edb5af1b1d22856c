// Sign-in: paste a bearer token. It is checked with a one-item list call
// before it is kept, so a bad token is refused here, next to the field.
import { useState } from "preact/hooks";
import { apiClient, messageOf } from "./api.js";
import { ErrorNote } from "./widgets.js";

export function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (token: string) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const t = token.trim().replace(/^Bearer\s+/i, "");
    if (t === "") {
      setError("Paste a token first.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { error: err, response } = await apiClient(t).GET("/v1/resources", { params: { query: { page_size: 1 } } });
      if (response.ok) {
        onSignedIn(t);
      } else {
        setError(messageOf(err, response));
      }
    } catch (x) {
      setError(`The server could not be reached: ${String(x)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin">
      <h1>Sign in to the resources console</h1>
      {notice && <p class="notice" role="status">{notice}</p>}
      <form onSubmit={submit} noValidate>
        <label for="token">Bearer token (JWT)</label>
        <textarea id="token" name="token" rows={4} value={token} autocomplete="off" spellcheck={false}
          aria-describedby={error ? "token-error" : "token-help"} aria-invalid={error ? true : undefined}
          onInput={(e) => setToken(e.currentTarget.value)} />
        <p id="token-help" class="help">
          Kept in this tab's session storage only. <code>refactor token --account NAME</code> mints one;
          <code> make run</code> prints a link that signs in.
        </p>
        <ErrorNote id="token-error" message={error} />
        <button type="submit" disabled={busy}>{busy ? "Checking…" : "Sign in"}</button>
      </form>
    </main>
  );
}
