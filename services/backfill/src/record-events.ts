import type { PipelineEventV1 } from '#lib/contracts';
import { mapJetstreamEvent } from '#lib/domain';
import type { RepoRecord } from '#lib/network';

/**
 * A record read from a repository as the pipeline event live ingest would have made of it: the
 * record goes through the same Jetstream mapping, so it lands in the same tables under the same
 * keys (repo DID, collection, record key).
 *
 * @NOTE The event's `timeUs` is the version ClickHouse keeps the newest of. A backfilled record
 * takes its `createdAt`, never later than `nowMs` (a client may set any date): any live event
 * about the same record (its delete, or the create seen again) comes later and replaces it.
 */
export function recordEvent(did: string, collection: string, record: RepoRecord, nowMs: number): PipelineEventV1 | undefined {
  const timeMs = Math.min(createdAtMs(record) ?? nowMs, nowMs);
  const mapped = mapJetstreamEvent({
    did,
    time_us: Math.max(1, Math.floor(timeMs * 1000)),
    kind: 'commit',
    commit: { rev: '', operation: 'create', collection, rkey: record.rkey, record: record.value, cid: record.cid },
  });
  return mapped.kind === 'event' ? mapped.event : undefined;
}

/** When a record was created (its `createdAt`), in ms; undefined when it does not say. */
export function createdAtMs(record: RepoRecord): number | undefined {
  const ms = typeof record.value.createdAt === 'string' ? Date.parse(record.value.createdAt) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}
