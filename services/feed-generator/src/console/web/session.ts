/**
 * The admin token, kept in this tab's sessionStorage (never a cookie), and the calls to the admin
 * API that carry it. A refused token signs the tab out.
 */

const TOKEN_KEY = 'common-ground.admin-token';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface SignedOut {
  /** Shown on the sign-in form; empty when the curator signed out themselves. */
  reason: string;
}

type Listener = (token: string | null, signedOut?: SignedOut) => void;
const listeners = new Set<Listener>();

export const currentToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);

/** Calls `listener` on every sign-in and sign-out; returns the unsubscription. */
export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function signIn(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  for (const listener of listeners) listener(token);
}

export function signOut(reason = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  for (const listener of listeners) listener(null, { reason });
}

/** Whether the server accepts `token`: null when it does, else what to tell the curator. */
export async function checkToken(token: string): Promise<string | null> {
  let response: Response;
  try {
    response = await fetch('/api/admin/console/overview', { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
  } catch {
    return 'The server could not be reached.';
  }
  if (response.ok) return null;
  if (response.status !== 401) return `The server answered ${response.status}. Try again in a moment.`;
  const body = (await response.json().catch(() => ({}))) as { message?: unknown };
  return typeof body.message === 'string' && body.message.includes('disabled')
    ? 'The admin API is disabled on this server: set ADMIN_TOKEN and restart it.'
    : 'That token was refused. Check it and try again.';
}

/** A call to the admin API with the token; JSON in and out. */
export async function api<T>(path: string, options: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; body?: unknown } = {}): Promise<T> {
  // The console names itself, so the curation versions it writes say where they came from.
  const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${currentToken() ?? ''}`, 'x-cg-client': 'console' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (response.status === 401) {
    signOut('Your admin token was refused. Sign in again.');
    throw new ApiError(401, 'Not signed in');
  }
  if (!response.ok) {
    const message = body !== null && typeof body === 'object' && 'message' in body && typeof body.message === 'string' ? body.message : '';
    throw new ApiError(response.status, message || response.statusText || 'Request failed');
  }
  return body as T;
}
