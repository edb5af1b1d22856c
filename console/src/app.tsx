// The console's shell: sign-in until there is a token, then the list or one
// resource as the address says.
import { useEffect, useState } from "preact/hooks";
import { handleUnauthorized } from "./api.js";
import { Detail } from "./detail.js";
import { ListView } from "./list.js";
import { useSearch } from "./router.js";
import { forgetToken, storedToken, storeToken } from "./session.js";
import { SignIn } from "./signin.js";

export function App() {
  const [token, setToken] = useState<string | null>(storedToken());
  const [notice, setNotice] = useState<string | null>(null);
  const search = useSearch();

  useEffect(() => {
    handleUnauthorized((message) => {
      forgetToken();
      setToken(null);
      setNotice(`Signed out: the server refused the token (${message}). Sign in again.`);
    });
  }, []);

  if (token === null) {
    return (
        <SignIn
          notice={notice}
          onSignedIn={(t) => {
            storeToken(t);
            setNotice(null);
            setToken(t);
          }}
        />
    );
  }
  const id = new URLSearchParams(search).get("id");
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="bar">
        <a class="brand" href={location.pathname}>re-factor resources</a>
        <nav aria-label="Console">
          <a href="/docs">API reference</a>
          <button type="button" class="link" onClick={() => { forgetToken(); setNotice("Signed out."); setToken(null); }}>
            Sign out
          </button>
        </nav>
      </header>
      {id !== null ? <Detail key={id} id={id} token={token} /> : <ListView search={search} token={token} />}
    </>
  );
}
