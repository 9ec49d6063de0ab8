/**
 * `com.atproto.label.defs#label`: a signed statement by a labeler (`src`) about a record or an
 * account (`uri`). `sig` is over the DAG-CBOR encoding of every other field.
 */
export interface Label {
  ver: 1;
  src: string;
  uri: string;
  cid?: string;
  val: string;
  neg?: boolean;
  /** When the labeler made the statement (ISO 8601). */
  cts: string;
  /** When it stops holding (ISO 8601). */
  exp?: string;
  sig?: Uint8Array;
}

/** A label as it is kept: signed, with the labeler's sequence number. */
export interface SequencedLabel extends Label {
  seq: number;
  sig: Uint8Array;
}

/** Label values: lower-case ASCII letters and hyphens, at most 100 bytes (`labelValueDefinition.identifier`). */
export const LABEL_VALUE = /^[a-z][a-z-]{0,99}$/;
