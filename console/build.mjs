// Builds the console's bundle into dist/, which the Go binary embeds (with
// index.html and app.css, from where they are written: console.go).
// The output depends only on the sources and the locked packages (no
// timestamps, no absolute paths), so CI can rebuild it and compare bytes.
import { build } from "esbuild";
import { mkdir, readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";

const out = new URL("dist/", import.meta.url);
await mkdir(out, { recursive: true });
await build({
  entryPoints: [new URL("src/main.tsx", import.meta.url).pathname],
  outfile: new URL("app.js", out).pathname,
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "eof",
  charset: "utf8",
  logLevel: "warning",
});
const size = async (name, dir) => {
  const b = await readFile(new URL(name, dir));
  return `${name} ${b.length} B (${gzipSync(b, { level: 9 }).length} B gzip)`;
};
console.log(`console: ${await size("app.js", out)}, ${await size("app.css", import.meta.url)}`);
