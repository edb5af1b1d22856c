// The console's entry point: take over a token handed in the fragment, then
// render the app.
import { render } from "preact";
import { App } from "./app.js";
import { adoptTokenFromFragment } from "./session.js";

adoptTokenFromFragment();
const root = document.getElementById("app");
if (root) {
  render(<App />, root);
}
