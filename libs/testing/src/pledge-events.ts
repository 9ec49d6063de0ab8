import { Nsid } from '#lib/domain';
import { generateCid, mulberry32, tid } from './synthetic-events.js';

const rng = mulberry32(0x15);
let lastUs = 0;

/**
 * A Jetstream commit stamped now, as the real Jetstream stamps what it receives (and after every
 * event made here before, as a replay's `push` requires): a record's creation, or its deletion
 * without `record`.
 */
function liveCommit(did: string, collection: string, options: { rkey?: string; record?: Record<string, unknown> }) {
  const timeUs = (lastUs = Math.max(Date.now() * 1000, lastUs + 1));
  return {
    did,
    time_us: timeUs,
    kind: 'commit' as const,
    commit: {
      rev: tid(timeUs, 16),
      operation: options.record ? ('create' as const) : ('delete' as const),
      collection,
      rkey: options.rkey ?? tid(timeUs, 15),
      ...(options.record && { cid: generateCid(rng), record: { $type: collection, ...options.record, createdAt: new Date(timeUs / 1000).toISOString() } }),
    },
  };
}

/** A Jetstream commit of a Bridge Fund pledge record (`org.commonground.fund.pledge`), or of its deletion, stamped now. */
export function pledgeEvent(pledge: { did: string; community: string; post: string; amount: number; rkey?: string; operation?: 'create' | 'delete' }) {
  return liveCommit(pledge.did, Nsid.pledge, {
    rkey: pledge.rkey,
    record:
      pledge.operation === 'delete'
        ? undefined
        : { subject: { uri: pledge.post, cid: generateCid(rng) }, community: pledge.community, amount: pledge.amount },
  });
}

/** A Jetstream commit of a like of `subject`, stamped now. */
export function likeEvent(like: { did: string; subject: { uri: string; cid: string } }) {
  return liveCommit(like.did, Nsid.like, { record: { subject: like.subject } });
}
