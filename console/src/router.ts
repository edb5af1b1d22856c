// The console is one page at /console/; the view and its filters are the
// query string. navigate changes it as a link would (a history entry), and
// the app re-renders from location.search.
import { useEffect, useState } from "preact/hooks";

const changed = "console:navigate";

export function navigate(search: string): void {
  history.pushState(null, "", location.pathname + search);
  window.dispatchEvent(new Event(changed));
  window.scrollTo(0, 0);
}

/** The current location.search, updated on navigate and on back/forward. */
export function useSearch(): string {
  const [search, setSearch] = useState(location.search);
  useEffect(() => {
    const update = () => setSearch(location.search);
    window.addEventListener("popstate", update);
    window.addEventListener(changed, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(changed, update);
    };
  }, []);
  return search;
}

/** Props for an <a> that navigates inside the console without a reload. */
export function linkTo(search: string): { href: string; onClick: (e: MouseEvent) => void } {
  return {
    href: location.pathname + search,
    onClick: (e: MouseEvent) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(search);
    },
  };
}
