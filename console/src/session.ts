// The signed-in token lives in sessionStorage: it survives reloads of this
// tab, never another tab or a closed browser, and is never put in a URL that
// reaches a server.
const key = "refactor.console.token";

export function storedToken(): string | null {
  return sessionStorage.getItem(key);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(key, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(key);
}

/**
 * Moves a token handed over in the address's fragment (#token=..., as
 * `serve --dev` prints it) into sessionStorage and removes it from the
 * address bar and history. Browsers never send the fragment to a server.
 */
export function adoptTokenFromFragment(): void {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token === null) {
    return;
  }
  if (token.trim() !== "") {
    storeToken(token.trim());
  }
  history.replaceState(history.state, "", location.pathname + location.search);
}
