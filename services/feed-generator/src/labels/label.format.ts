import type { Label, SequencedLabel } from '#lib/labels';

/** `com.atproto.label.defs#label` in its JSON form: bytes as `{ $bytes: base64 }`, no sequence number. */
export type LabelJson = Omit<Label, 'sig'> & { sig: { $bytes: string } };

export function labelJson(label: SequencedLabel): LabelJson {
  const { seq: _seq, sig, ...rest } = label;
  return { ...rest, sig: { $bytes: Buffer.from(sig).toString('base64').replace(/=+$/, '') } };
}

/** The label as a subscribeLabels frame carries it (CBOR: `sig` stays bytes). */
export function labelFrameBody(label: SequencedLabel): Omit<SequencedLabel, 'seq'> {
  const { seq: _seq, ...rest } = label;
  return rest;
}
