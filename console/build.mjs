// Builds the console into ../server/console/, which the Go binary embeds.
// The output depends only on the sources and the locked packages (no
// timestamps, no absolute paths), so CI can rebuild it and compare bytes.
import { build } from "esbuild";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";

const out = new URL("../server/console/", import.meta.url);
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
for (const name of ["index.html", "app.css"]) {
  await copyFile(new URL(name, import.meta.url), new URL(name, out));
}
const size = async (name) => {
  const b = await readFile(new URL(name, out));
  return `${name} ${b.length} B (${gzipSync(b, { level: 9 }).length} B gzip)`;
};
console.log(`console: ${await size("app.js")}, ${await size("app.css")}`);
