import { Nsid } from '#lib/domain';
import { generateCid, mulberry32, tid } from './synthetic-events.js';

const rng = mulberry32(0x15);
let lastUs = 0;

/**
 * A Jetstream commit of a Bridge Fund pledge record (`org.commonground.fund.pledge`), or of its
 * deletion, stamped now (and after every pledge made before, as a replay's `push` requires).
 */
export function pledgeEvent(pledge: { did: string; community: string; post: string; amount: number; rkey?: string; operation?: 'create' | 'delete' }) {
  const timeUs = (lastUs = Math.max(Date.now() * 1000, lastUs + 1));
  const rkey = pledge.rkey ?? tid(timeUs, 15);
  const deleted = pledge.operation === 'delete';
  return {
    did: pledge.did,
    time_us: timeUs,
    kind: 'commit' as const,
    commit: {
      rev: tid(timeUs, 16),
      operation: deleted ? ('delete' as const) : ('create' as const),
      collection: Nsid.pledge,
      rkey,
      ...(!deleted && {
        cid: generateCid(rng),
        record: {
          $type: Nsid.pledge,
          subject: { uri: pledge.post, cid: generateCid(rng) },
          community: pledge.community,
          amount: pledge.amount,
          createdAt: new Date(timeUs / 1000).toISOString(),
        },
      }),
    },
  };
}
