import { encode } from '@atproto/lex-cbor';
import { verifySignature, type Keypair } from '@atproto/crypto';
import type { Label } from './label.js';

/** The fields a signature covers, in the form the spec encodes: no `sig`, no absent optional fields, `neg` only when true. */
function unsigned(label: Label): Record<string, string | number | boolean> {
  const { ver, src, uri, cid, val, neg, cts, exp } = label;
  return {
    ver,
    src,
    uri,
    ...(cid !== undefined && cid !== '' && { cid }),
    val,
    ...(neg === true && { neg: true }),
    cts,
    ...(exp !== undefined && exp !== '' && { exp }),
  };
}

/** Signs a label as the spec says: DAG-CBOR of the label without `sig`, SHA-256 (inside `sign`), the labeler's `#atproto_label` key. */
export async function signLabel(label: Label, key: Keypair): Promise<Label & { sig: Uint8Array }> {
  const body = unsigned(label);
  const sig = await key.sign(encode(body));
  return { ...(body as unknown as Label), sig };
}

/** Whether `label.sig` is the signature of `didKey` (a `did:key`) over the label. */
export async function verifyLabel(label: Label, didKey: string): Promise<boolean> {
  if (!label.sig) return false;
  try {
    return await verifySignature(didKey, encode(unsigned(label)), label.sig);
  } catch {
    return false;
  }
}
