// Small pieces shared by the views.
import type { ComponentChildren } from "preact";
import { pathPrefixes } from "./query.js";

/** An {"error"} shown where it arose; screen readers hear it at once. */
export function ErrorNote({ id, message }: { id?: string; message: string | null }) {
  if (!message) return null;
  return (
    <p class="error" role="alert" id={id}>
      {message}
    </p>
  );
}

/** A directory path whose segments each filter the list by their prefix. */
export function PathLinks({ path, onPick, label }: { path: string; onPick: (prefix: string) => void; label: string }) {
  const parts = pathPrefixes(path);
  return (
    <nav class="path" aria-label={label}>
      {parts.map((p, i) => (
        <span key={p.prefix}>
          {i > 1 && <span class="sep" aria-hidden="true">/</span>}
          <button type="button" class="link" onClick={() => onPick(p.prefix)} title={`Filter by ${p.prefix}`}>
            {p.label}
          </button>
        </span>
      ))}
    </nav>
  );
}

export function Chip({ children, onRemove, removeLabel }: { children: ComponentChildren; onRemove?: () => void; removeLabel?: string }) {
  return (
    <span class="chip">
      {children}
      {onRemove && (
        <button type="button" class="chip-remove" onClick={onRemove} aria-label={removeLabel}>
          ×
        </button>
      )}
    </span>
  );
}
