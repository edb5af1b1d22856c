// The list's filters live in the page's query string, in the API's own
// names and forms, so a view can be bookmarked and shared and the list call
// is exactly what the address says.
import type { ListQuery } from "./api.js";

export const pageSizes = [10, 20, 50, 100] as const;

/** Reads the list query from a page address's search part. */
export function parseListQuery(search: string): ListQuery {
  const p = new URLSearchParams(search);
  const q: ListQuery = {};
  const tags = splitTags(p.get("tags") ?? "");
  if (tags.length > 0) q.tags = tags.join(",");
  const prefix = p.get("directory_prefix");
  if (prefix) q.directory_prefix = prefix;
  const after = p.get("created_after");
  if (after) q.created_after = after;
  const before = p.get("created_before");
  if (before) q.created_before = before;
  const sort = p.get("sort");
  if (sort === "asc" || sort === "desc") q.sort = sort;
  const page = positive(p.get("page"));
  if (page !== undefined && page > 1) q.page = page;
  const size = positive(p.get("page_size"));
  if (size !== undefined && size <= 100) q.page_size = size;
  return q;
}

/** Writes q as a search string ("" when empty), in a fixed order. */
export function listSearch(q: ListQuery): string {
  const p = new URLSearchParams();
  for (const key of ["tags", "directory_prefix", "created_after", "created_before", "sort", "page", "page_size"] as const) {
    const v = q[key];
    if (v !== undefined && v !== "") p.set(key, String(v));
  }
  const s = p.toString();
  return s === "" ? "" : "?" + s;
}

/** Splits a tags value as the server does: trimmed, no empties, no repeats. */
export function splitTags(value: string): string[] {
  return [...new Set(value.split(",").map((t) => t.trim()).filter((t) => t !== ""))];
}

/**
 * Reads a metadata field as the API's metadata: undefined when the field is
 * blank (no metadata sent), null when it holds anything but a JSON object.
 */
export function parseMetadata(value: string): Record<string, unknown> | null | undefined {
  if (value.trim() === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Not JSON at all: refused like any other non-object.
  }
  return null;
}

function positive(v: string | null): number | undefined {
  if (v === null || !/^[0-9]+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= 1 && Number.isSafeInteger(n) ? n : undefined;
}

/** The prefixes a path is made of: "/a/b" gives "/", "/a", "/a/b". */
export function pathPrefixes(path: string): { label: string; prefix: string }[] {
  const out = [{ label: "/", prefix: "/" }];
  let prefix = "";
  for (const segment of path.split("/").filter((s) => s !== "")) {
    prefix += "/" + segment;
    out.push({ label: segment, prefix });
  }
  return out;
}

/** An RFC 3339 UTC timestamp as a datetime-local input's value, in local time. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

/** A datetime-local input's value (local time) as an RFC 3339 UTC timestamp. */
export function fromLocalInput(value: string): string | undefined {
  if (value === "") return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace(".000Z", "Z");
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let unit = "B";
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${unit}`;
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
