// The list: every filter of GET /v1/resources, kept in the address, with
// the exact total and pages.
import { useEffect, useRef, useState } from "preact/hooks";
import { watch, type Event as ChangeEvent, type paths } from "../../sdk/typescript/src/index.js";
import { apiClient, messageOf, type ListQuery } from "./api.js";
import { CreatePanel } from "./create.js";
import { formatBytes, formatTime, fromLocalInput, listSearch, pageSizes, parseListQuery, splitTags, toLocalInput } from "./query.js";
import { linkTo, navigate } from "./router.js";
import { UploadLinkPanel } from "./share.js";
import { Chip, ErrorNote, PathLinks } from "./widgets.js";

type ListPage = paths["/v1/resources"]["get"]["responses"][200]["content"]["application/json"];

type State = { loading: true } | { loading: false; page: ListPage } | { loading: false; error: string };

export function ListView({ search, token }: { search: string; token: string }) {
  const query = parseListQuery(search);
  const key = listSearch(query);
  const [state, setState] = useState<State>({ loading: true });
  const { changes, news } = useLiveChanges(token, query);
  const shownKey = useRef("");

  useEffect(() => {
    let live = true;
    // A change elsewhere refetches the page in place; only a new query
    // shows the loading state.
    if (shownKey.current !== key) setState({ loading: true });
    shownKey.current = key;
    apiClient(token)
      .GET("/v1/resources", { params: { query } })
      .then(({ data, error, response }) => {
        if (live) setState(data ? { loading: false, page: data } : { loading: false, error: messageOf(error, response) });
      })
      .catch((x: unknown) => live && setState({ loading: false, error: `The server could not be reached: ${String(x)}` }));
    return () => {
      live = false;
    };
  }, [key, token, changes]);

  // Any change of filter starts again from page 1.
  const apply = (change: Partial<ListQuery>) => navigate(listSearch({ ...query, page: undefined, ...change }));
  const tags = splitTags(query.tags ?? "");
  const addTag = (t: string) => apply({ tags: [...new Set([...tags, t])].join(",") });

  return (
    <main id="main">
      <h1>Resources</h1>
      <Filters query={query} apply={apply} error={"error" in state ? state.error : null} />
      <p role="status" class="muted live" data-live-changes={changes}>{news}</p>
      {"page" in state && <Results page={state.page} query={query} onTag={addTag} onPrefix={(p) => apply({ directory_prefix: p })} />}
      {state.loading && <p role="status" class="muted">Loading…</p>}
      <CreatePanel token={token} directory={query.directory_prefix ?? "/"} />
      <UploadLinkPanel token={token} directory={query.directory_prefix ?? "/"} />
    </main>
  );
}

/**
 * Follows the account's changes that the list's tags and prefix let
 * through (the change feed's stream, resumed by the SDK after a drop) and
 * counts them, so the list refetches its page without a reload; news
 * says what changed last, for the status line.
 */
function useLiveChanges(token: string, query: ListQuery): { changes: number; news: string } {
  const [live, setLive] = useState({ changes: 0, news: "" });
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const w = watch(
      { baseUrl: location.origin, token, tags: splitTags(query.tags ?? ""), directoryPrefix: query.directory_prefix },
      (e) => {
        const news = describe(e);
        // Several changes at once refetch once.
        clearTimeout(timer);
        timer = setTimeout(() => setLive((l) => ({ changes: l.changes + 1, news })), 150);
      },
    );
    w.done.catch(() => {}); // a 401 reaches the list's own request too
    return () => {
      clearTimeout(timer);
      w.stop();
    };
  }, [token, query.tags, query.directory_prefix]);
  return live;
}

function describe(e: ChangeEvent): string {
  const r = e.data.resource;
  const name = r ? r.name : "";
  switch (e.type) {
    case "resource.created":
      return `Added ${name}`;
    case "resource.updated":
      return `Changed ${name}`;
    case "resource.deleted":
      return `Deleted ${name}`;
    default:
      return `Imported ${e.data.imported ?? 0} resources`;
  }
}

function Filters({ query, apply, error }: { query: ListQuery; apply: (c: Partial<ListQuery>) => void; error: string | null }) {
  const key = listSearch(query);
  const [tagDraft, setTagDraft] = useState("");
  const [prefix, setPrefix] = useState(query.directory_prefix ?? "");
  const [after, setAfter] = useState(toLocalInput(query.created_after));
  const [before, setBefore] = useState(toLocalInput(query.created_before));
  useEffect(() => {
    setTagDraft("");
    setPrefix(query.directory_prefix ?? "");
    setAfter(toLocalInput(query.created_after));
    setBefore(toLocalInput(query.created_before));
  }, [key]);
  const tags = splitTags(query.tags ?? "");

  function submit(e: Event) {
    e.preventDefault();
    apply({
      tags: [...new Set([...tags, ...splitTags(tagDraft)])].join(",") || undefined,
      directory_prefix: prefix.trim() || undefined,
      created_after: fromLocalInput(after),
      created_before: fromLocalInput(before),
    });
  }

  return (
    <section aria-labelledby="filters-title" class="filters">
      <h2 id="filters-title" class="visually-hidden">Filters</h2>
      <form onSubmit={submit} aria-describedby={error ? "list-error" : undefined}>
        <div class="field">
          <label for="f-tag">Tags (all of)</label>
          <div class="chips" aria-label="Tag filters" role="group">
            {tags.map((t) => (
              <Chip key={t} onRemove={() => apply({ tags: tags.filter((x) => x !== t).join(",") || undefined })} removeLabel={`Remove tag filter ${t}`}>
                {t}
              </Chip>
            ))}
            <input id="f-tag" name="tag" value={tagDraft} placeholder="add a tag" autocomplete="off"
              onInput={(e) => setTagDraft(e.currentTarget.value)} />
          </div>
        </div>
        <div class="field">
          <label for="f-prefix">Directory prefix</label>
          <input id="f-prefix" name="directory_prefix" value={prefix} placeholder="/reports/2024" autocomplete="off"
            onInput={(e) => setPrefix(e.currentTarget.value)} />
          {query.directory_prefix && (
            <PathLinks path={query.directory_prefix} label="Directory prefix breadcrumbs" onPick={(p) => apply({ directory_prefix: p === "/" ? undefined : p })} />
          )}
        </div>
        <div class="field">
          <label for="f-after">Created after</label>
          <input id="f-after" name="created_after" type="datetime-local" step="1" value={after} onInput={(e) => setAfter(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="f-before">Created before</label>
          <input id="f-before" name="created_before" type="datetime-local" step="1" value={before} onInput={(e) => setBefore(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="f-sort">Sort</label>
          <select id="f-sort" name="sort" value={query.sort ?? "desc"} onChange={(e) => apply({ sort: e.currentTarget.value === "asc" ? "asc" : undefined })}>
            <option value="desc">Newest first</option>
            <option value="asc">Oldest first</option>
          </select>
        </div>
        <div class="field">
          <label for="f-size">Per page</label>
          <select id="f-size" name="page_size" value={String(query.page_size ?? 20)}
            onChange={(e) => apply({ page_size: Number(e.currentTarget.value) === 20 ? undefined : Number(e.currentTarget.value) })}>
            {pageSizes.map((n) => <option key={n} value={String(n)}>{n}</option>)}
          </select>
        </div>
        <div class="actions">
          <button type="submit">Apply filters</button>
          <a {...linkTo("")} class="button secondary">Clear</a>
        </div>
      </form>
      <ErrorNote id="list-error" message={error} />
    </section>
  );
}

function Results({ page, query, onTag, onPrefix }: { page: ListPage; query: ListQuery; onTag: (t: string) => void; onPrefix: (p: string) => void }) {
  const size = page.page_size;
  const pages = Math.max(1, Math.ceil(page.total / size));
  const first = (page.page - 1) * size + 1;
  const to = (n: number) => linkTo(listSearch({ ...query, page: n > 1 ? n : undefined }));
  return (
    <section aria-labelledby="results-title">
      <h2 id="results-title" class="summary" aria-live="polite">
        <span data-total={page.total}>{page.total} {page.total === 1 ? "resource" : "resources"}</span>
        {page.items.length > 0 && <span class="muted"> · showing {first}–{first + page.items.length - 1}</span>}
      </h2>
      {page.items.length === 0 ? (
        <p class="muted">{page.total > 0 ? "This page is past the end." : "No resources match these filters."}</p>
      ) : (
        <table class="resources">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Directory</th>
              <th scope="col">Tags</th>
              <th scope="col">Type</th>
              <th scope="col" class="num">Size</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((r) => (
              <tr key={r.id} data-id={r.id}>
                <td data-label="Name"><a {...linkTo("?id=" + encodeURIComponent(r.id))}>{r.name}</a></td>
                <td data-label="Directory"><PathLinks path={r.directory_path} label={`Directory of ${r.name}`} onPick={onPrefix} /></td>
                <td data-label="Tags">
                  {(r.tags ?? []).map((t) => (
                    <button key={t} type="button" class="tag" onClick={() => onTag(t)} title={`Filter by tag ${t}`}>{t}</button>
                  ))}
                </td>
                <td data-label="Type">{r.mime_type}</td>
                <td data-label="Size" class="num">{formatBytes(r.size_bytes)}</td>
                <td data-label="Created"><time dateTime={r.created_at}>{formatTime(r.created_at)}</time></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {page.page > 1 ? <a {...to(page.page - 1)} rel="prev">‹ Previous</a> : <span aria-hidden="true" class="muted">‹ Previous</span>}
        <span aria-current="page">Page {page.page} of {pages}</span>
        {page.page < pages ? <a {...to(page.page + 1)} rel="next">Next ›</a> : <span aria-hidden="true" class="muted">Next ›</span>}
      </nav>
    </section>
  );
}
