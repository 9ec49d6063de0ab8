import { encode } from '@atproto/lex-cbor';
import { verifySignature, type Keypair } from '@atproto/crypto';
import type { Label } from './label.js';

/** The fields a signature covers, exactly as the label carries them: every schema field present, no `sig`. */
function signedFields({ ver, src, uri, cid, val, neg, cts, exp }: Label): Record<string, string | number | boolean> {
  return {
    ver,
    src,
    uri,
    ...(cid !== undefined && { cid }),
    val,
    ...(neg !== undefined && { neg }),
    cts,
    ...(exp !== undefined && { exp }),
  };
}

/**
 * Our labels in the form Ozone signs them: no empty optional fields, `neg` only when true.
 *
 * @NOTE Only our own labels are put in this form. A received label is verified over the fields it
 * carries (`neg: false` included, as @skyware/labeler signs it): the spec signs "a complete version
 * of the label", and each labeler chooses which optional fields that has.
 */
function asWeSignIt({ ver, src, uri, cid, val, neg, cts, exp }: Label): Label {
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
  const body = asWeSignIt(label);
  const sig = await key.sign(encode(signedFields(body)));
  return { ...body, sig };
}

/** Whether `label.sig` is the signature of `didKey` (a `did:key`) over the label as it was received. */
export async function verifyLabel(label: Label, didKey: string): Promise<boolean> {
  if (!label.sig) return false;
  try {
    return await verifySignature(didKey, encode(signedFields(label)), label.sig);
  } catch {
    return false;
  }
}
