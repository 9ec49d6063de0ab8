import { z } from 'zod';
import type { Label } from './label.js';

const datetime = z.string().max(64).refine((text) => !Number.isNaN(Date.parse(text)), 'expected a datetime');

/**
 * A label as another labeler sends it (`com.atproto.label.defs#label`, decoded from CBOR): the
 * checks made before its signature is. Values may carry the `!` of the protocol's own labels.
 */
export const receivedLabelSchema = z.object({
  ver: z.literal(1).optional(),
  src: z.string().startsWith('did:').max(2048),
  uri: z.string().min(1).max(8192),
  cid: z.string().max(256).optional(),
  val: z.string().regex(/^!?[a-z][a-z-]{0,127}$/),
  neg: z.boolean().optional(),
  cts: datetime,
  exp: datetime.optional(),
  sig: z.instanceof(Uint8Array),
});

/** A received label in our shape, or nothing when it is malformed; its signed fields stay as they came (`neg: false` too). */
export function parseReceivedLabel(value: unknown): (Label & { sig: Uint8Array }) | undefined {
  const parsed = receivedLabelSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { cid, neg, exp, ...rest } = parsed.data;
  return { ...rest, ver: 1, ...(cid !== undefined && { cid }), ...(neg !== undefined && { neg }), ...(exp !== undefined && { exp }) };
}
