import type { ClickHouseClient } from '@clickhouse/client';
import type { PipelineEventV1 } from '#lib/contracts';

/** Rows for each table, built from one batch of pipeline events. */
interface Rows {
  event_log: object[];
  posts: object[];
  interactions: object[];
  graph: object[];
  accounts: object[];
  identities: object[];
  pledges: object[];
  visibility: object[];
  notes: object[];
  note_ratings: object[];
  note_requests: object[];
}

/** The columns `rowsOf` fills, per table, in insert order (the rest keep their defaults). */
export const EVENT_TABLE_COLUMNS: Readonly<Record<keyof Rows, readonly string[]>> = {
  event_log: ['did', 'time_us', 'type', 'op', 'rkey'],
  posts: ['did', 'rkey', 'cid', 'time_us', 'created_at', 'text', 'langs', 'tags', 'reply_root', 'reply_parent', 'quote', 'has_media', 'deleted', 'version', 'stored_us'],
  interactions: ['actor', 'kind', 'rkey', 'subject_uri', 'subject_did', 'time_us', 'deleted', 'version'],
  graph: ['did', 'kind', 'rkey', 'subject_did', 'list', 'time_us', 'deleted', 'version'],
  accounts: ['did', 'active', 'status', 'version'],
  identities: ['did', 'handle', 'version'],
  pledges: ['did', 'rkey', 'subject_uri', 'community', 'amount', 'time_us', 'deleted', 'version'],
  visibility: ['did', 'hide', 'version'],
  notes: ['did', 'rkey', 'cid', 'subject_uri', 'subject_cid', 'reason', 'text', 'time_us', 'deleted', 'version'],
  note_ratings: ['did', 'rkey', 'note_uri', 'helpfulness', 'time_us', 'deleted', 'version'],
  note_requests: ['did', 'rkey', 'subject_uri', 'time_us', 'deleted', 'version'],
};

const didOfUri = (uri: string): string => {
  const rest = uri.startsWith('at://') ? uri.slice(5) : uri;
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
};

/** The interaction kinds a post implies (a reply or a quote is a graded approval of its subject). */
const postInteractionKinds = ['reply', 'quote'] as const;

export function rowsOf(events: readonly PipelineEventV1[]): Rows {
  const rows: Rows = { event_log: [], posts: [], interactions: [], graph: [], accounts: [], identities: [], pledges: [], visibility: [], notes: [], note_ratings: [], note_requests: [] };
  // When the batch is stored: a post that arrives late (a backfill, ingest catching up) has an old
  // `time_us` but a new `stored_us`, which is how the recent feed's window learns of it.
  const stored_us = Date.now() * 1000;
  for (const event of events) {
    const version = event.timeUs;
    const time_us = event.timeUs;
    switch (event.type) {
      case 'account':
        rows.event_log.push({ did: event.did, time_us, type: 'account', op: '', rkey: '' });
        rows.accounts.push({ did: event.did, active: event.active ? 1 : 0, status: event.status ?? '', version });
        continue;
      case 'identity':
        rows.event_log.push({ did: event.did, time_us, type: 'identity', op: '', rkey: '' });
        rows.identities.push({ did: event.did, handle: event.handle ?? '', version });
        continue;
    }
    rows.event_log.push({ did: event.did, time_us, type: event.type, op: event.op, rkey: event.rkey });
    if (event.op === 'delete') {
      const deleted = { rkey: event.rkey, time_us, deleted: 1, version };
      switch (event.type) {
        case 'post':
          rows.posts.push({ did: event.did, ...deleted, stored_us });
          for (const kind of postInteractionKinds) rows.interactions.push({ actor: event.did, kind, ...deleted });
          break;
        case 'like':
        case 'repost':
          rows.interactions.push({ actor: event.did, kind: event.type, ...deleted });
          break;
        case 'pledge':
          // A deleted pledge is withdrawn: the ranker reads only live ones.
          rows.pledges.push({ did: event.did, ...deleted });
          break;
        case 'note':
        case 'noterequest':
          // A deleted note or request is withdrawn, and with the note every rating of it.
          rows[event.type === 'note' ? 'notes' : 'note_requests'].push({ did: event.did, ...deleted });
          break;
        case 'rating':
          rows.note_ratings.push({ did: event.did, ...deleted });
          break;
        case 'visibility':
          // No declaration means the default: not hidden.
          rows.visibility.push({ did: event.did, hide: 0, version });
          break;
        default:
          rows.graph.push({ did: event.did, kind: event.type, ...deleted });
      }
      continue;
    }
    switch (event.type) {
      case 'post':
        rows.posts.push({
          did: event.did,
          rkey: event.rkey,
          cid: event.cid,
          time_us,
          created_at: Math.max(0, Math.round(event.createdAtMs)),
          text: event.text,
          langs: event.langs,
          tags: event.tags,
          reply_root: event.replyRoot ?? '',
          reply_parent: event.replyParent ?? '',
          quote: event.quote ?? '',
          has_media: event.hasMedia ? 1 : 0,
          deleted: 0,
          version,
          stored_us,
        });
        if (event.replyParent) {
          rows.interactions.push(interaction(event.did, 'reply', event.rkey, event.replyParent, time_us));
        }
        if (event.quote) rows.interactions.push(interaction(event.did, 'quote', event.rkey, event.quote, time_us));
        break;
      case 'like':
      case 'repost':
        rows.interactions.push(interaction(event.did, event.type, event.rkey, event.subjectUri, time_us));
        break;
      case 'follow':
      case 'block':
        rows.graph.push({ did: event.did, kind: event.type, rkey: event.rkey, subject_did: event.subjectDid, time_us, deleted: 0, version });
        break;
      case 'listitem':
        rows.graph.push({
          did: event.did,
          kind: 'listitem',
          rkey: event.rkey,
          subject_did: event.subjectDid,
          list: event.list,
          time_us,
          deleted: 0,
          version,
        });
        break;
      case 'visibility':
        rows.visibility.push({ did: event.did, hide: event.hideFromAlgorithms ? 1 : 0, version });
        break;
      case 'starterpack':
        rows.graph.push({ did: event.did, kind: 'starterpack', rkey: event.rkey, subject_did: '', list: event.list, time_us, deleted: 0, version });
        break;
      case 'note':
        rows.notes.push({
          did: event.did,
          rkey: event.rkey,
          cid: event.cid,
          subject_uri: event.subjectUri,
          subject_cid: event.subjectCid,
          reason: event.reason,
          text: event.text,
          time_us,
          deleted: 0,
          version,
        });
        break;
      case 'rating':
        rows.note_ratings.push({ did: event.did, rkey: event.rkey, note_uri: event.subjectUri, helpfulness: event.helpfulness, time_us, deleted: 0, version });
        break;
      case 'noterequest':
        rows.note_requests.push({ did: event.did, rkey: event.rkey, subject_uri: event.subjectUri, time_us, deleted: 0, version });
        break;
      case 'pledge':
        rows.pledges.push({
          did: event.did,
          rkey: event.rkey,
          subject_uri: event.subjectUri,
          community: event.community,
          amount: event.amount,
          time_us,
          deleted: 0,
          version,
        });
        break;
    }
  }
  return rows;
}

function interaction(actor: string, kind: string, rkey: string, subjectUri: string, time_us: number) {
  return { actor, kind, rkey, subject_uri: subjectUri, subject_did: didOfUri(subjectUri), time_us, deleted: 0, version: time_us };
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

  async write(events: readonly PipelineEventV1[]): Promise<void> {
    const rows = rowsOf(events);
    // @NOTE Sequential on purpose: chDB runs one statement at a time anyway, and a server gets
    // one insert per table per batch, which is what MergeTree wants. Rows go as arrays in a fixed
    // column order (JSONCompactEachRow), which ClickHouse parses about a fifth faster than objects
    // whose keys it must match; a field a row leaves out is null, i.e. the column's default.
    for (const [table, values] of Object.entries(rows) as [keyof Rows, Record<string, unknown>[]][]) {
      if (values.length === 0) continue;
      const columns = EVENT_TABLE_COLUMNS[table];
      await this.client.insert({
        table: `${this.database}.${table}`,
        values: values.map((row) => columns.map((column) => row[column] ?? null)),
        columns: [...columns] as [string, ...string[]],
        format: 'JSONCompactEachRow',
        // Duplicates inside one insert are left to the background merges and FINAL (every read
        // uses it) rather than collapsed while inserting: about a tenth faster on these tables.
        clickhouse_settings: { input_format_null_as_default: 1, optimize_on_insert: 0 },
      });
    }
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
