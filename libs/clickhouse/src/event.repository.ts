import type { ClickHouseClient } from '@clickhouse/client';
import { type AccountStatus, DECLARATION_RKEY, type PipelineEventV1, type PledgeCreate, type RecordDelete } from '#lib/contracts';
import { runInTurns, runSteps, type Steps } from '#lib/steps';
import { encoded, jsonRowsInSteps, type EncodedRows } from './clickhouse.client.js';
import { inShares } from './query-shares.js';

/** The columns each event table is written with, in the order of the values of its rows. */
export const EVENT_TABLE_COLUMNS = {
  event_log: ['did', 'time_us', 'type', 'op', 'rkey'],
  posts: ['did', 'rkey', 'cid', 'time_us', 'created_at', 'text', 'langs', 'tags', 'reply_root', 'reply_parent', 'quote', 'has_media', 'deleted', 'version', 'stored_us'],
  interactions: ['actor', 'kind', 'rkey', 'subject_uri', 'subject_did', 'time_us', 'deleted', 'version'],
  graph: ['did', 'kind', 'rkey', 'subject_did', 'list', 'time_us', 'deleted', 'version'],
  accounts: ['did', 'active', 'status', 'version'],
  identities: ['did', 'handle', 'version'],
  pledges: ['did', 'rkey', 'subject_uri', 'community', 'amount', 'time_us', 'deleted', 'version'],
  visibility: ['did', 'hide', 'version'],
  notes: ['did', 'rkey', 'cid', 'subject_uri', 'subject_cid', 'reason', 'text', 'time_us', 'deleted', 'version'],
  note_ratings: ['did', 'rkey', 'note_uri', 'note_cid', 'helpfulness', 'time_us', 'deleted', 'version'],
  note_requests: ['did', 'rkey', 'subject_uri', 'time_us', 'deleted', 'version'],
} as const satisfies Record<string, readonly string[]>;

export type EventTable = keyof typeof EVENT_TABLE_COLUMNS;

/** One value per column of `EVENT_TABLE_COLUMNS[table]`, in that order; `null` leaves the column at its default. */
type Row = unknown[];

/** The rows of each table, built from one batch of pipeline events. */
export type EventRows = Record<EventTable, Row[]>;

const didOfUri = (uri: string): string => {
  const rest = uri.startsWith('at://') ? uri.slice(5) : uri;
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
};

/** The interaction kinds a post implies (a reply or a quote is a graded approval of its subject). */
const postInteractionKinds = ['reply', 'quote'] as const;

/**
 * The tables of records a deleted account's erasure replaces (`EventRepository.write`): the columns
 * of each one's key, the account's first, and the values of the columns it sets besides.
 *
 * @NOTE Not among them: its likes, reposts and feedback (`interactions`, the largest table), which no
 * read counts once the account is inactive and which expire after 45 days, as the event log naming
 * them does; and its pledges, which the ledger of a fund's past epochs reads, for 400 days. Records
 * of others that name the account (a curator's list item, a like of its posts) are theirs.
 */
const ERASED_RECORDS: readonly { table: EventTable; key: readonly [string, ...string[]]; extra: Record<string, string> }[] = [
  { table: 'posts', key: ['did', 'rkey'], extra: { stored_us: '{storedUs:UInt64}' } },
  { table: 'notes', key: ['did', 'rkey'], extra: {} },
  { table: 'note_ratings', key: ['did', 'rkey'], extra: {} },
  { table: 'note_requests', key: ['did', 'rkey'], extra: {} },
  { table: 'graph', key: ['did', 'kind', 'rkey'], extra: {} },
];

/** A record of one account, by its key: the same key in another collection is another table's. */
const recordKey = (did: string, rkey: string): string => `${did} ${rkey}`;

/**
 * The rows of every table for `events`. `pledgedAt` holds when each pledge edited in `events` was
 * first made, and `notedAt` when each note deleted in `events` was written, as the store has them
 * (`EventRepository.write` reads them), keyed by `recordKey`.
 *
 * @NOTE Rows are arrays in the columns' order, built as such: building an object a row and then
 * its array cost 1.5 µs more per event (and the garbage of both), a tenth of the embedded ingest's
 * JavaScript. `event.repository.spec.ts` holds each table's rows to its columns.
 */
export function rowsOf(events: readonly PipelineEventV1[], pledgedAt: ReadonlyMap<string, number> = new Map(), notedAt: ReadonlyMap<string, number> = new Map()): EventRows {
  return runSteps(rowsInSteps(events, pledgedAt, notedAt));
}

/** Events mapped to rows between two chances of a turn of the event loop (about a millisecond of work). */
const EVENTS_A_STEP = 1_024;

/** `rowsOf` in steps (`#lib/steps`) of `EVENTS_A_STEP` events. */
function* rowsInSteps(events: readonly PipelineEventV1[], pledgedAt: ReadonlyMap<string, number>, notedAt: ReadonlyMap<string, number>): Steps<EventRows> {
  const rows: EventRows = { event_log: [], posts: [], interactions: [], graph: [], accounts: [], identities: [], pledges: [], visibility: [], notes: [], note_ratings: [], note_requests: [] };
  // When each pledge of the batch was first made, its creates and edits in the batch included.
  const firstPledged = new Map(pledgedAt);
  // When each note deleted in the batch was written, those written in the batch included.
  const firstNoted = new Map(notedAt);
  // When the batch is stored: a post that arrives late (a backfill, ingest catching up) has an old
  // `time_us` but a new `stored_us`, which is how the recent feed's window learns of it.
  const stored_us = Date.now() * 1000;
  let mapped = 0;
  for (const event of events) {
    if (++mapped % EVENTS_A_STEP === 0) yield;
    const version = event.timeUs;
    const time_us = event.timeUs;
    switch (event.type) {
      case 'account':
        rows.event_log.push([event.did, time_us, 'account', '', '']);
        rows.accounts.push([event.did, event.active ? 1 : 0, event.status ?? '', version]);
        // A deleted account's handle goes with it (its records too: `EventRepository.write`).
        if (event.status === 'deleted' && !event.active) rows.identities.push([event.did, '', version]);
        continue;
      case 'identity':
        rows.event_log.push([event.did, time_us, 'identity', '', '']);
        rows.identities.push([event.did, event.handle ?? '', version]);
        continue;
    }
    rows.event_log.push([event.did, time_us, event.type, event.op, event.rkey]);
    if (event.op === 'delete') {
      const { did, rkey } = event;
      switch (event.type) {
        case 'post':
          rows.posts.push([did, rkey, null, time_us, null, null, null, null, null, null, null, null, 1, version, stored_us]);
          for (const kind of postInteractionKinds) rows.interactions.push(withdrawnInteraction(did, kind, rkey, time_us));
          break;
        case 'like':
        case 'repost':
          rows.interactions.push(withdrawnInteraction(did, event.type, rkey, time_us));
          break;
        case 'pledge':
          // A deleted pledge is withdrawn: the ranker reads only live ones.
          rows.pledges.push([did, rkey, null, null, null, time_us, 1, version]);
          firstPledged.delete(recordKey(did, rkey));
          break;
        case 'note':
          // A deleted note or request is withdrawn, and with the note every rating of it. The
          // note keeps the time it was written: it still counts toward its writer's daily limit.
          rows.notes.push([did, rkey, null, null, null, null, null, firstNoted.get(recordKey(did, rkey)) ?? time_us, 1, version]);
          break;
        case 'noterequest':
          rows.note_requests.push([did, rkey, null, time_us, 1, version]);
          break;
        case 'rating':
          rows.note_ratings.push([did, rkey, null, null, null, time_us, 1, version]);
          break;
        case 'visibility':
          // No declaration means the default: not hidden. A record under another key is not the
          // declaration (ingest skips it; messages it published before it did may still arrive).
          if (rkey === DECLARATION_RKEY) rows.visibility.push([did, 0, version]);
          break;
        default:
          rows.graph.push([did, event.type, rkey, null, null, time_us, 1, version]);
      }
      continue;
    }
    switch (event.type) {
      case 'post':
        rows.posts.push([
          event.did,
          event.rkey,
          event.cid,
          time_us,
          Math.max(0, Math.round(event.createdAtMs)),
          event.text,
          event.langs,
          event.tags,
          event.replyRoot ?? '',
          event.replyParent ?? '',
          event.quote ?? '',
          event.hasMedia ? 1 : 0,
          0,
          version,
          stored_us,
        ]);
        // @NOTE An edit that no longer replies or quotes withdraws the row an earlier version wrote
        // (same key, newer version), as a delete does: else the rankers would count it on. A create
        // has no earlier version to withdraw; a row there would cost a row for nearly every post.
        for (const kind of postInteractionKinds) {
          const subject = kind === 'reply' ? event.replyParent : event.quote;
          if (subject) rows.interactions.push(interaction(event.did, kind, event.rkey, subject, time_us));
          else if (event.op === 'update') rows.interactions.push(withdrawnInteraction(event.did, kind, event.rkey, time_us));
        }
        break;
      case 'like':
      case 'repost':
        rows.interactions.push(interaction(event.did, event.type, event.rkey, event.subjectUri, time_us));
        break;
      case 'follow':
      case 'block':
        rows.graph.push([event.did, event.type, event.rkey, event.subjectDid, null, time_us, 0, version]);
        break;
      case 'listitem':
        rows.graph.push([event.did, 'listitem', event.rkey, event.subjectDid, event.list, time_us, 0, version]);
        break;
      case 'visibility':
        rows.visibility.push([event.did, event.hideFromAlgorithms ? 1 : 0, version]);
        break;
      case 'starterpack':
        rows.graph.push([event.did, 'starterpack', event.rkey, '', event.list, time_us, 0, version]);
        break;
      case 'note':
        firstNoted.set(recordKey(event.did, event.rkey), time_us);
        rows.notes.push([event.did, event.rkey, event.cid, event.subjectUri, event.subjectCid, event.reason, event.text, time_us, 0, version]);
        break;
      case 'rating':
        rows.note_ratings.push([event.did, event.rkey, event.subjectUri, event.subjectCid ?? '', event.helpfulness, time_us, 0, version]);
        break;
      case 'noterequest':
        rows.note_requests.push([event.did, event.rkey, event.subjectUri, time_us, 0, version]);
        break;
      case 'pledge': {
        // @NOTE A pledge is of the epoch it was made in (its time), and its edits with it: a member
        // who lowers or moves a pledge in a later epoch changes that pledge, not the new epoch's
        // allowance, funds and matches. The version is the edit's, so the edit still replaces it.
        const key = recordKey(event.did, event.rkey);
        const pledged = (event.op === 'update' ? firstPledged.get(key) : undefined) ?? time_us;
        firstPledged.set(key, pledged);
        rows.pledges.push([event.did, event.rkey, event.subjectUri, event.community, event.amount, pledged, 0, version]);
        break;
      }
    }
  }
  return rows;
}

function interaction(actor: string, kind: string, rkey: string, subjectUri: string, time_us: number): Row {
  return [actor, kind, rkey, subjectUri, didOfUri(subjectUri), time_us, 0, time_us];
}

/** The row that withdraws an interaction: newer than the one it replaces, deleted. */
function withdrawnInteraction(actor: string, kind: string, rkey: string, time_us: number): Row {
  return [actor, kind, rkey, null, null, time_us, 1, time_us];
}

/** The rows of every table that has some for `events`, encoded (`jsonRows`), in steps. */
export function* encodedTables(events: readonly PipelineEventV1[], pledgedAt: ReadonlyMap<string, number>, notedAt: ReadonlyMap<string, number> = new Map()): Steps<[EventTable, EncodedRows][]> {
  const rows = yield* rowsInSteps(events, pledgedAt, notedAt);
  const tables: [EventTable, EncodedRows][] = [];
  for (const table of Object.keys(rows) as EventTable[]) {
    if (rows[table].length > 0) tables.push([table, yield* jsonRowsInSteps(rows[table], (row) => row)]);
  }
  return tables;
}

interface EventCounts {
  events: number;
  posts: number;
  interactions: number;
  graph: number;
}

/** Writes pipeline events into the event tables; re-writing the same events is harmless. */
export class EventRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /**
   * @NOTE In steps, with turns of the event loop between them (`runInTurns`): while ingest catches
   * up, a write carries ~30,000 events, and building their rows and encoding them held the loop for
   * up to ~60 ms in one stretch, which every request of the one-process app waited out. Rows go
   * as arrays in a fixed column order (JSONCompactEachRow), which ClickHouse parses about a fifth
   * faster than objects whose keys it must match; a null is the column's default.
   */
  async write(events: readonly PipelineEventV1[]): Promise<void> {
    const tables = await runInTurns(encodedTables(events, await this.pledgedAt(events), await this.notedAt(events)));
    // Sequential on purpose: chDB runs one statement at a time anyway, and a server gets one
    // insert per table per batch, which is what MergeTree wants.
    for (const [table, rows] of tables) {
      await this.client.insert({
        table: `${this.database}.${table}`,
        values: encoded(rows),
        columns: [...EVENT_TABLE_COLUMNS[table]] as [string, ...string[]],
        format: 'JSONCompactEachRow',
        // Duplicates inside one insert are left to the background merges and FINAL (every read
        // uses it) rather than collapsed while inserting: about a tenth faster on these tables.
        clickhouse_settings: { input_format_null_as_default: 1, optimize_on_insert: 0 },
      });
    }
    await this.eraseDeletedAccounts(events);
  }

  /**
   * Erases what the accounts deleted in `events` wrote (`ERASED_RECORDS`): each of their live posts,
   * context notes and their ratings and requests, follows, blocks, lists and their items and starter
   * packs gets a deleted version, as their own deletes would have written, so it leaves every read at
   * once, and its text and subjects leave the disk at the next merge. A deactivated or taken-down
   * account keeps all of it, to show again if it comes back; a deleted one does not come back.
   *
   * @NOTE An `INSERT … SELECT` by each table's key (the account first), not a mutation: it reads only
   * the account's granules, runs on chDB and on a server alike, and is idempotent (a batch handed over
   * again finds nothing live left). The deletion's time is the version, newer than any of the
   * account's records: a record re-read by ingest's rewind after it stays erased under FINAL.
   */
  private async eraseDeletedAccounts(events: readonly PipelineEventV1[]): Promise<void> {
    const deletions = events.filter((event): event is AccountStatus => event.type === 'account' && !event.active && event.status === 'deleted');
    if (deletions.length === 0) return;
    const db = this.database;
    const version = Math.max(...deletions.map((event) => event.timeUs));
    const storedUs = Date.now() * 1000;
    await inShares([...new Set(deletions.map((event) => event.did))], async (dids) => {
      const query_params = { dids, version, storedUs };
      // One read finds the tables where these accounts have records at all (most wrote no notes,
      // ratings or requests): each statement costs a few milliseconds on chDB however little it does.
      const found = await this.client.query({
        query: ERASED_RECORDS.map(({ table, key }) => `SELECT '${table}' FROM (SELECT 1 FROM ${db}.${table} PREWHERE ${key[0]} IN {dids:Array(String)} WHERE deleted = 0 LIMIT 1)`).join(' UNION ALL '),
        query_params,
        format: 'JSONCompactEachRow',
      });
      const tables = new Set((await found.json<[EventTable]>()).map(([table]) => table));
      for (const { table, key, extra } of ERASED_RECORDS.filter((erased) => tables.has(erased.table))) {
        const columns = [...key, 'time_us', 'deleted', 'version', ...Object.keys(extra)].join(', ');
        const values = [...key, 'time_us', '1', '{version:UInt64}', ...Object.values(extra)].join(', ');
        await this.client.command({
          query: `INSERT INTO ${db}.${table} (${columns})
            SELECT ${values} FROM ${db}.${table} FINAL
            PREWHERE ${key[0]} IN {dids:Array(String)} WHERE deleted = 0 AND version < {version:UInt64}`,
          query_params,
        });
      }
      return [];
    });
  }

  /** When each live pledge an edit in `events` edits was first made (its row's time), by `recordKey`; no query without such an edit. */
  private pledgedAt(events: readonly PipelineEventV1[]): Promise<Map<string, number>> {
    return this.madeAt('pledges', events.filter((event): event is PledgeCreate => event.type === 'pledge' && event.op === 'update'));
  }

  /**
   * When each note a delete in `events` withdraws was written (its row's time), by `recordKey`; no
   * query without such a delete. A delete read again (ingest's rewind, a batch delivered twice)
   * finds the note's tombstone, which keeps that time.
   */
  private notedAt(events: readonly PipelineEventV1[]): Promise<Map<string, number>> {
    return this.madeAt('notes', events.filter((event): event is RecordDelete => event.type === 'note' && event.op === 'delete'), { deletedToo: true });
  }

  /** The time of the newest row of each of `records` in `table` (keyed by account and record key; a live one unless `deletedToo`), by `recordKey`. */
  private async madeAt(table: 'pledges' | 'notes', records: readonly { did: string; rkey: string }[], { deletedToo = false } = {}): Promise<Map<string, number>> {
    const rows = await inShares(records, async (share) => {
      const result = await this.client.query({
        query: `SELECT did, rkey, time_us FROM ${this.database}.${table} FINAL
          WHERE ${deletedToo ? '1' : 'deleted = 0'} AND did IN {dids:Array(String)} AND rkey IN {rkeys:Array(String)}`,
        query_params: { dids: [...new Set(share.map((record) => record.did))], rkeys: [...new Set(share.map((record) => record.rkey))] },
        format: 'JSONCompactEachRow',
      });
      return result.json<[string, string, string]>();
    });
    return new Map(rows.map(([did, rkey, timeUs]) => [recordKey(did, rkey), Number(timeUs)]));
  }

  /** True when ClickHouse answers a query now. */
  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }

  /** Distinct live rows per table (deleted records excluded); what operators and tests count. */
  async counts(): Promise<EventCounts> {
    const result = await this.client.query({
      query: `SELECT
        (SELECT count() FROM ${this.database}.event_log FINAL) AS events,
        (SELECT count() FROM ${this.database}.posts FINAL WHERE deleted = 0) AS posts,
        (SELECT count() FROM ${this.database}.interactions FINAL WHERE deleted = 0) AS interactions,
        (SELECT count() FROM ${this.database}.graph FINAL WHERE deleted = 0) AS graph`,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<Record<keyof EventCounts, string>>();
    return {
      events: Number(row!.events),
      posts: Number(row!.posts),
      interactions: Number(row!.interactions),
      graph: Number(row!.graph),
    };
  }
}
