import { Nsid } from '#lib/domain';
import { generateCid, mulberry32, tid } from './synthetic-events.js';

const rng = mulberry32(0x15);
let lastUs = 0;

/**
 * A Jetstream commit of a record in `collection` (`record` absent: its deletion), stamped now (and
 * after every record made here before, as a replay's `push` requires).
 */
export function recordEvent(commit: { did: string; collection: string; record?: Record<string, unknown>; rkey?: string; operation?: 'create' | 'update' | 'delete' }) {
  const timeUs = (lastUs = Math.max(Date.now() * 1000, lastUs + 1));
  const rkey = commit.rkey ?? tid(timeUs, 15);
  const operation = commit.operation ?? (commit.record ? 'create' : 'delete');
  return {
    did: commit.did,
    time_us: timeUs,
    kind: 'commit' as const,
    commit: {
      rev: tid(timeUs, 16),
      operation,
      collection: commit.collection,
      rkey,
      ...(operation !== 'delete' && { cid: generateCid(rng), record: { $type: commit.collection, ...commit.record } }),
    },
  };
}

/**
 * A Jetstream commit of a Bridge Fund pledge record (`org.commonground.fund.pledge`), or of its
 * deletion.
 */
export function pledgeEvent(pledge: { did: string; community: string; post: string; amount: number; rkey?: string; operation?: 'create' | 'delete' }) {
  const deleted = pledge.operation === 'delete';
  return recordEvent({
    did: pledge.did,
    collection: Nsid.pledge,
    ...(pledge.rkey !== undefined && { rkey: pledge.rkey }),
    operation: deleted ? 'delete' : 'create',
    ...(!deleted && {
      record: {
        subject: { uri: pledge.post, cid: generateCid(rng) },
        community: pledge.community,
        amount: pledge.amount,
        createdAt: new Date().toISOString(),
      },
    }),
  });
}

/** A context note (`org.opencommunitynotes.label`, `readers-added-context`) by `did` on `post`; `uri` is the note's own. */
export function noteEvent(note: { did: string; post: string; text: string; reason?: string; postCid?: string }) {
  const event = recordEvent({
    did: note.did,
    collection: Nsid.note,
    record: {
      src: note.did,
      uri: note.post,
      ...(note.postCid !== undefined && { cid: note.postCid }),
      val: 'readers-added-context',
      reason: note.reason ?? 'factual_error',
      text: note.text,
      cts: new Date().toISOString(),
    },
  });
  return { event, uri: `at://${note.did}/${Nsid.note}/${event.commit.rkey}`, cid: event.commit.cid! };
}

/** A rating (`org.opencommunitynotes.rating`) of a note by `did`, or (`helpfulness` absent) the deletion of the rating at `rkey`. */
export function ratingEvent(rating: { did: string; note: { uri: string; cid: string }; helpfulness?: 'helpful' | 'somewhat_helpful' | 'not_helpful'; rkey?: string }) {
  return recordEvent({
    did: rating.did,
    collection: Nsid.rating,
    ...(rating.rkey !== undefined && { rkey: rating.rkey }),
    ...(rating.helpfulness !== undefined && { record: { subject: rating.note, val: rating.helpfulness, createdAt: new Date().toISOString() } }),
  });
}

/** A request for a note on a post (`org.commonground.notes.request`). */
export function noteRequestEvent(request: { did: string; post: string; postCid?: string }) {
  return recordEvent({
    did: request.did,
    collection: Nsid.noterequest,
    record: { subject: { uri: request.post, cid: request.postCid ?? generateCid(rng) }, createdAt: new Date().toISOString() },
  });
}

/** A like (`app.bsky.feed.like`) of `subject` by `did`, stamped now. */
export function likeEvent(like: { did: string; subject: { uri: string; cid: string } }) {
  return recordEvent({ did: like.did, collection: Nsid.like, record: { subject: like.subject, createdAt: new Date().toISOString() } });
}
