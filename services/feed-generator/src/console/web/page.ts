import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { ApiError } from './session.js';

export interface Loaded<T> {
  /** The latest answer for the current key; kept when a reload of the same key fails. */
  data?: T;
  /** Why the latest load failed: with `data`, a reload that failed while the last answer stands. */
  error?: Error;
  loading: boolean;
  /** Loads again, keeping what is shown until the new data arrives. */
  reload: () => void;
}

/**
 * Runs `load` when the component mounts, when `key` changes and on `reload()`; the latest answer
 * wins. A reload that fails keeps the answer shown (one failed poll does not blank a page).
 */
export function useLoad<T>(load: () => Promise<T>, key = ''): Loaded<T> {
  const [state, setState] = useState<{ data?: T; dataKey?: string; error?: Error; loading: boolean }>({ loading: true });
  const [version, setVersion] = useState(0);
  // @NOTE A layout effect, not an effect: the request leaves as the view mounts, not a frame later.
  useLayoutEffect(() => {
    let current = true;
    setState((previous) => (previous.loading ? previous : { ...previous, loading: true }));
    void load().then(
      (data) => current && setState({ data, dataKey: key, loading: false }),
      (error: unknown) =>
        current &&
        setState((previous) => ({
          ...(previous.dataKey === key && { data: previous.data, dataKey: key }),
          error: error instanceof Error ? error : new Error(String(error)),
          loading: false,
        })),
    );
    return () => {
      current = false;
    };
    // `load` is a new closure on every render: what it reads goes into `key`.
  }, [key, version]);
  const reload = useCallback(() => setVersion((value) => value + 1), []);
  const { dataKey, ...loaded } = state;
  // What was loaded for another key is not this key's answer: shown until the new one arrives, never after a failure.
  return { ...loaded, ...(loaded.error && dataKey !== key && { data: undefined }), reload };
}

/** Loads again every `ms` while the tab is visible, and when it becomes visible again. */
export function useAutoRefresh(loaded: Loaded<unknown>, ms: number): void {
  const { loading, reload } = loaded;
  useEffect(() => {
    if (loading) return undefined;
    const timer = window.setTimeout(() => {
      if (document.visibilityState === 'visible') reload();
    }, ms);
    return () => window.clearTimeout(timer);
  }, [loading, reload, ms]);
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === 'visible') reload();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, [reload]);
}

/** A view's heading, focusable so that it can take the focus when the view opens. */
export function Title({ children }: { children: ComponentChildren }) {
  return html`<h1 tabindex="-1">${children}</h1>`;
}

/**
 * One view of the console: "Loading…" until its data first arrives, then the content (kept while it
 * reloads), or what went wrong. On screen, the view names the document after its heading, takes
 * the focus to it the first time, and marks the moment (`cg:rendered`, for load-time benchmarks).
 */
export function Page<T>({ title, loaded, children }: { title: string; loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  const view = useRef<HTMLDivElement>(null);
  const focused = useRef(false);
  const { data, error, loading } = loaded;
  useLayoutEffect(() => {
    if (loading && data === undefined) return;
    const heading = view.current?.querySelector('h1');
    document.title = `${heading?.textContent ?? title} · Common Ground console`;
    if (data === undefined) return;
    performance.mark('cg:rendered', { detail: location.hash });
    if (!focused.current && heading) {
      focused.current = true;
      heading.focus();
    }
  }, [data, error, loading, title]);

  let content: ComponentChildren;
  if (error instanceof ApiError && error.status === 401) content = null; // signed out: the sign-in form replaces the view
  else if (error && data !== undefined) content = html`<${StaleNotice} error=${error} />${children(data)}`;
  else if (error) content = html`<${Title}>${title}<//><p class="error" role="alert">Could not load this page: ${error.message}</p>`;
  else if (data === undefined) content = html`<p class="loading">Loading…</p>`;
  else content = children(data);
  return html`<div id="view" ref=${view} aria-busy=${loading ? 'true' : undefined}>${content}</div>`;
}

/** A reload that failed while the last answer stays on screen: said politely, once, above it. */
export function StaleNotice({ error }: { error: Error }) {
  return html`<p class="notice" role="status">Could not refresh (${error.message}); showing what was last loaded.</p>`;
}
