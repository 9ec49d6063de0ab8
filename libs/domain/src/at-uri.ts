import { isNsid } from './nsid.js';

/** The three parts of a record AT-URI: `at://<did>/<collection>/<rkey>`. */
interface AtUriParts {
  did: string;
  collection: string;
  rkey: string;
}

const didPattern = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/;
const recordKeyPattern = /^[a-zA-Z0-9._:~-]{1,512}$/;

/** DID syntax check (method-agnostic, as in the atproto spec); does not resolve anything. */
export function isDid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 2048 && didPattern.test(value);
}

/** Record-key syntax check from the atproto spec (`.` and `..` are reserved). */
export function isRecordKey(value: unknown): value is string {
  return typeof value === 'string' && value !== '.' && value !== '..' && recordKeyPattern.test(value);
}

export function atUri(did: string, collection: string, rkey: string): string {
  return `at://${did}/${collection}/${rkey}`;
}

/**
 * Parses a record AT-URI, or returns `null` when `uri` is not one.
 * @NOTE Only DID authorities are accepted: a handle-based AT-URI is valid syntax but not a stable key
 * (handles change), and every URI the pipeline stores is used as a join key.
 */
export function parseAtUri(uri: unknown): AtUriParts | null {
  if (typeof uri !== 'string' || uri.length > 8192 || !uri.startsWith('at://')) return null;
  const parts = uri.slice(5).split('/');
  if (parts.length !== 3) return null;
  const [did, collection, rkey] = parts as [string, string, string];
  if (!isDid(did) || !isNsid(collection) || !isRecordKey(rkey)) return null;
  return { did, collection, rkey };
}
