import { useEffect } from 'preact/hooks';
import { currentToken } from './session.js';

/** Why a public page's data did not load, in words for its reader. */
export class PublicDataError extends Error {
  override name = 'PublicDataError';
}

/**
 * The JSON behind a public page (a conversation's report, a digest's editions): anyone's for a
 * public feed; a members-only feed's with the admin token of a curator signed in to the console in
 * this tab. `missing` words the answers of `missingOn` (404), `membersOnly` a 401.
 */
export async function loadPublicData<T>(path: string, words: { missing: string; membersOnly: string; what: string }, missingOn: readonly number[] = [404]): Promise<T> {
  const token = currentToken();
  const response = await fetch(path, { headers: { accept: 'application/json', ...(token && { authorization: `Bearer ${token}` }) } });
  if (!response.ok) {
    if (missingOn.includes(response.status)) throw new PublicDataError(words.missing);
    if (response.status === 401) throw new PublicDataError(words.membersOnly);
    throw new PublicDataError(`${words.what} did not load (HTTP ${response.status}).`);
  }
  return (await response.json()) as T;
}

/** The tab's title for a public page: what it shows, once loaded. */
export function usePageTitle(title: string | undefined): void {
  useEffect(() => {
    document.title = title ? `${title} · Common Ground` : 'Common Ground';
  }, [title]);
}
