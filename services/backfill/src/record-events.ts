import { TID } from '@atproto/common';
import type { PipelineEventV1 } from '#lib/contracts';
import { mapJetstreamEvent } from '#lib/domain';
import type { RepoRecord } from '#lib/network';

/**
 * How far back a backfilled event's time goes: eight years, 96 months. `event_log` is partitioned
 * by month, and ClickHouse refuses an insert that touches more than 100 partitions
 * (`max_partitions_per_insert_block`, "Too many partitions for single INSERT block"); a client may
 * date a record any day since 1970.
 */
const OLDEST_EVENT_AGE_MS = 8 * 365 * 24 * 3_600_000;

/**
 * A record read from a repository as the pipeline event live ingest would have made of it: the
 * record goes through the same Jetstream mapping, so it lands in the same tables under the same
 * keys (repo DID, collection, record key).
 *
 * @NOTE The event's `timeUs` is the version ClickHouse keeps the newest of. A backfilled record
 * takes its `createdAt`, never later than `nowMs` (a client may set any date): any live event
 * about the same record (its delete, or the create seen again) comes later and replaces it. Nor
 * is it earlier than `OLDEST_EVENT_AGE_MS` before `nowMs`: a record dated before that counts as
 * made then. No version changes (a live event is later still), a feed whose window is shorter
 * than eight years sees it no more than before, and a post keeps its own date in `createdAtMs`.
 * That date never says when the store first saw the account: `BackfillEventRepository`.
 */
export function recordEvent(did: string, collection: string, record: RepoRecord, nowMs: number): PipelineEventV1 | undefined {
  const timeMs = Math.min(Math.max(createdAtMs(record) ?? nowMs, nowMs - OLDEST_EVENT_AGE_MS), nowMs);
  const mapped = mapJetstreamEvent({
    did,
    time_us: Math.floor(timeMs * 1000),
    kind: 'commit',
    commit: { rev: '', operation: 'create', collection, rkey: record.rkey, record: record.value, cid: record.cid },
  });
  return mapped.kind === 'event' ? mapped.event : undefined;
}

/** The time a record key that is a TID names (unix ms), or undefined for a key that is no TID. */
export function keyTimeMs(rkey: string): number | undefined {
  return TID.is(rkey) ? TID.fromStr(rkey).timestamp() / 1000 : undefined;
}

/** When a record was created (its `createdAt`), in ms; undefined when it does not say. */
export function createdAtMs(record: RepoRecord): number | undefined {
  const ms = typeof record.value.createdAt === 'string' ? Date.parse(record.value.createdAt) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}
