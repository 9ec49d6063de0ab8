import { backoffMs, retry } from '@atproto/common';
import type { ClickHouseClient } from '@clickhouse/client';
import { clickHouseErrorCode, ClickHouseUnavailableError, isConnectionError, QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING } from './clickhouse.errors.js';
import { InterruptedRestoreError, setAsideDatabases } from './store-backups.js';

/** Days a post is kept after it was written; a deleted post's tombstone is kept for good (migration 36). */
const POSTS_KEPT_DAYS = 45;

interface Migration {
  version: number;
  name: string;
  /** Statements with `{db}` standing for the database name. One statement per entry. */
  statements: string[];
}

/**
 * Versioned schema. Applied in order at start-up; each version once (recorded in
 * `schema_migrations`). Statements are idempotent (`IF NOT EXISTS`) so that a crash between a
 * statement and its record is harmless. Never edit a released migration: add a new one.
 *
 * @NOTE Every event table is a ReplacingMergeTree keyed by the identity of the record or event
 * and versioned by Jetstream's `time_us`, so a re-delivered event replaces itself instead of
 * counting twice, and a delete (a row with `deleted = 1` and a later version) replaces its
 * record. Readers use `FINAL`. The same statements run on chDB and on a ClickHouse server.
 */
export const migrations: Migration[] = [
  {
    version: 1,
    name: 'events, records and feed score snapshots',
    statements: [
      `CREATE TABLE IF NOT EXISTS {db}.event_log (
        did String,
        time_us UInt64,
        type LowCardinality(String),
        op LowCardinality(String),
        rkey String,
        ingested_at DateTime64(3) DEFAULT now64(3)
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(toDateTime(intDiv(time_us, 1000000)))
      ORDER BY (did, time_us, type, rkey)`,
      `CREATE TABLE IF NOT EXISTS {db}.posts (
        did String,
        rkey String,
        cid String,
        time_us UInt64,
        created_at DateTime64(3),
        text String,
        langs Array(LowCardinality(String)),
        tags Array(String),
        reply_root String,
        reply_parent String,
        quote String,
        has_media UInt8,
        deleted UInt8,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (did, rkey)`,
      `CREATE TABLE IF NOT EXISTS {db}.interactions (
        actor String,
        kind LowCardinality(String),
        rkey String,
        subject_uri String,
        subject_did String,
        time_us UInt64,
        deleted UInt8,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (actor, kind, rkey)`,
      `CREATE TABLE IF NOT EXISTS {db}.graph (
        did String,
        kind LowCardinality(String),
        rkey String,
        subject_did String,
        list String,
        time_us UInt64,
        deleted UInt8,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (did, kind, rkey)`,
      `CREATE TABLE IF NOT EXISTS {db}.accounts (
        did String,
        active UInt8,
        status LowCardinality(String),
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY did`,
      `CREATE TABLE IF NOT EXISTS {db}.identities (
        did String,
        handle String,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY did`,
      `CREATE TABLE IF NOT EXISTS {db}.feed_scores (
        feed LowCardinality(String),
        snapshot UInt64,
        rank UInt32,
        uri String,
        cid String,
        score Float64,
        feed_context String,
        components String
      ) ENGINE = MergeTree
      PARTITION BY snapshot
      ORDER BY (feed, snapshot, rank)`,
      `CREATE TABLE IF NOT EXISTS {db}.feed_snapshots (
        feed LowCardinality(String),
        snapshot UInt64,
        posts UInt32,
        completed_at DateTime64(3) DEFAULT now64(3)
      ) ENGINE = ReplacingMergeTree
      ORDER BY (feed, snapshot)`,
    ],
  },
  {
    version: 2,
    name: 'served impressions',
    statements: [
      // @NOTE Impressions are the exposure the ranking divides by: who was shown which post. One row
      // per (viewer, post), the latest kept; bounded by a TTL so the table never outgrows its use.
      `CREATE TABLE IF NOT EXISTS {db}.impressions (
        viewer String,
        post String,
        feed LowCardinality(String),
        time_us UInt64
      ) ENGINE = ReplacingMergeTree(time_us)
      PARTITION BY toYYYYMMDD(toDateTime(intDiv(time_us, 1000000)))
      ORDER BY (post, viewer)
      TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL 14 DAY`,
    ],
  },
  {
    version: 3,
    name: 'DID sets',
    statements: [
      // @NOTE Long member lists that queries read (`DidSetStore`): too long for URL parameters. A set
      // is written under the hash of its content and re-written every 20 minutes while in use;
      // hourly partitions of abandoned sets are dropped whole once two hours old.
      `CREATE TABLE IF NOT EXISTS {db}.did_sets (
        set_id String,
        did String,
        written_at DateTime DEFAULT now()
      ) ENGINE = ReplacingMergeTree(written_at)
      PARTITION BY toStartOfHour(written_at)
      ORDER BY (set_id, did)
      TTL written_at + INTERVAL 2 HOUR
      SETTINGS ttl_only_drop_parts = 1, merge_with_ttl_timeout = 600`,
    ],
  },
  {
    version: 4,
    name: 'posts in time order',
    statements: [
      // @NOTE The recent feed pages by time; posts are sorted by (did, rkey) for FINAL. The projection
      // keeps the columns a page needs in time order, so a deep cursor reads a few granules backwards.
      // A ReplacingMergeTree refuses projections unless merges say what to do with them: rebuild.
      `ALTER TABLE {db}.posts MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'`,
      `ALTER TABLE {db}.posts ADD PROJECTION IF NOT EXISTS posts_by_time (
        SELECT did, rkey, cid, time_us, reply_parent, deleted ORDER BY (time_us, cid)
      )`,
      `ALTER TABLE {db}.posts MATERIALIZE PROJECTION posts_by_time`,
    ],
  },
  {
    version: 5,
    name: 'snapshot ranks by post',
    statements: [
      // @NOTE Explaining one post reads its rank through this projection, sorted by post within each
      // snapshot (a binary search to one granule), then that rank's row by the table's own key:
      // never a scan of the whole snapshot. Pruning deletes snapshots with lightweight deletes,
      // which a table with projections refuses unless told to rebuild them.
      `ALTER TABLE {db}.feed_scores MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild'`,
      `ALTER TABLE {db}.feed_scores ADD PROJECTION IF NOT EXISTS feed_scores_by_uri (
        SELECT feed, snapshot, uri, rank ORDER BY (feed, snapshot, uri)
      )`,
      `ALTER TABLE {db}.feed_scores MATERIALIZE PROJECTION feed_scores_by_uri`,
    ],
  },
  {
    version: 6,
    name: 'viewer feedback expires',
    statements: [
      // @NOTE Viewer feedback from sendInteractions (every kind but the network's own like, repost,
      // reply and quote) expires after 14 days, like the impressions it is weighed against: a
      // viewer can no longer grow the table without bound. The network's approvals stay: feeds may
      // rank longer windows, and a record's delete must still find it. Existing rows are expired
      // once, by the mutation ClickHouse runs after MODIFY TTL.
      `ALTER TABLE {db}.interactions MODIFY TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL 14 DAY DELETE WHERE kind NOT IN ('like', 'repost', 'reply', 'quote')`,
    ],
  },
  {
    version: 7,
    name: 'curation versions',
    statements: [
      // @NOTE The curation every role and replica applies: each version of the curator document as
      // written (comments kept), appended and never changed; the newest is in force.
      `CREATE TABLE IF NOT EXISTS {db}.curation_versions (
        version UInt64,
        hash String,
        source LowCardinality(String),
        yaml String,
        created_at DateTime64(3) DEFAULT now64(3)
      ) ENGINE = MergeTree
      ORDER BY version`,
    ],
  },
  {
    version: 8,
    name: 'digest editions',
    statements: [
      // @NOTE A digest feed's editions are kept (communities look back at them), unlike snapshots.
      // An edition is known by its cadence point (unix ms); its posts are written first and its
      // `digest_edition_index` record last, so readers never start on a half-written edition, and a
      // re-frozen edition (the ranker restarted in between) replaces its own rows.
      `CREATE TABLE IF NOT EXISTS {db}.digest_editions (
        feed LowCardinality(String),
        edition UInt64,
        rank UInt32,
        uri String,
        cid String,
        score Float64,
        feed_context String,
        components String
      ) ENGINE = ReplacingMergeTree
      ORDER BY (feed, edition, rank)`,
      `CREATE TABLE IF NOT EXISTS {db}.digest_edition_index (
        feed LowCardinality(String),
        edition UInt64,
        posts UInt32,
        frozen_at DateTime64(3) DEFAULT now64(3)
      ) ENGINE = ReplacingMergeTree
      ORDER BY (feed, edition)`,
    ],
  },
  {
    version: 9,
    name: 'conversation reports',
    statements: [
      // The latest live report of each deliberation feed, as JSON: one row per feed, replaced by each run.
      `CREATE TABLE IF NOT EXISTS {db}.conversation_reports (
        feed LowCardinality(String),
        computed_at UInt64,
        report String
      ) ENGINE = ReplacingMergeTree(computed_at)
      ORDER BY feed`,
    ],
  },
  {
    version: 10,
    name: 'bridge fund: pledges, boosted impressions, allocations and the ledger',
    statements: [
      // @NOTE Pledges are records (org.commonground.fund.pledge): one row per (pledger, rkey), the
      // delete replaces the record and withdraws it. The ranker checks them against the funds.
      `CREATE TABLE IF NOT EXISTS {db}.pledges (
        did String,
        rkey String,
        subject_uri String,
        community LowCardinality(String),
        amount UInt32,
        time_us UInt64,
        deleted UInt8,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (did, rkey)`,
      // @NOTE Boosted items served, one row per fund, epoch, post and viewer: a viewer is charged
      // once per epoch however often, and by however many feed generators, the post was served.
      `CREATE TABLE IF NOT EXISTS {db}.fund_impressions (
        community LowCardinality(String),
        epoch UInt32,
        post String,
        viewer String,
        feed LowCardinality(String),
        weight Float64,
        time_us UInt64
      ) ENGINE = ReplacingMergeTree(time_us)
      ORDER BY (community, epoch, post, viewer)`,
      // Which posts each snapshot boosted, and by how much: the ledger's allocations.
      `CREATE TABLE IF NOT EXISTS {db}.fund_allocations (
        feed LowCardinality(String),
        snapshot UInt64,
        epoch UInt32,
        post String,
        rank UInt32,
        unboosted_rank UInt32,
        funds Array(LowCardinality(String)),
        credits Float64,
        lift Float64
      ) ENGINE = MergeTree
      ORDER BY (feed, snapshot, rank)
      TTL toDateTime(intDiv(snapshot, 1000)) + INTERVAL 120 DAY`,
      // The ledger the ranker settles from impressions: per fund, epoch and post, and per fund and epoch.
      `CREATE TABLE IF NOT EXISTS {db}.fund_posts (
        community LowCardinality(String),
        epoch UInt32,
        post String,
        pledged Float64,
        matched Float64,
        impressions Float64,
        impressions_other UInt64,
        spent Float64,
        settled_at UInt64
      ) ENGINE = ReplacingMergeTree(settled_at)
      ORDER BY (community, epoch, post)`,
      `CREATE TABLE IF NOT EXISTS {db}.fund_epochs (
        community LowCardinality(String),
        epoch UInt32,
        budget Float64,
        floor Float64,
        matching_pool Float64,
        pledged Float64,
        matched Float64,
        impressions Float64,
        impressions_other UInt64,
        spent Float64,
        remaining Float64,
        pledges UInt32,
        refused String,
        settled_at UInt64
      ) ENGINE = ReplacingMergeTree(settled_at)
      ORDER BY (community, epoch)`,
    ],
  },
  {
    version: 11,
    name: 'a viewer\'s own feedback and impressions',
    statements: [
      // @NOTE A viewer's personal order reads their own feedback (`interactions` is sorted by actor
      // already) and what they were served: impressions are sorted by post for the ranking, so a
      // projection keeps them by viewer too. `feed_context` keeps the communities a requestMore
      // asked more of (the feedContext the post was served with).
      `ALTER TABLE {db}.interactions ADD COLUMN IF NOT EXISTS feed_context String DEFAULT ''`,
      `ALTER TABLE {db}.impressions MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'`,
      `ALTER TABLE {db}.impressions ADD PROJECTION IF NOT EXISTS impressions_by_viewer (
        SELECT viewer, post, time_us ORDER BY (viewer, post)
      )`,
      `ALTER TABLE {db}.impressions MATERIALIZE PROJECTION impressions_by_viewer`,
    ],
  },
  {
    version: 12,
    name: 'backfill checkpoints',
    statements: [
      // @NOTE One row per account whose recent history was backfilled: from when (`since_us`, the
      // window's start) and when it finished. A restart skips accounts already covered.
      `CREATE TABLE IF NOT EXISTS {db}.backfill_checkpoints (
        did String,
        since_us UInt64,
        records UInt32,
        done_at DateTime64(3) DEFAULT now64(3)
      ) ENGINE = ReplacingMergeTree(done_at)
      ORDER BY did`,
    ],
  },
  {
    version: 13,
    name: 'removals in arrival order',
    statements: [
      // @NOTE Every replica that serves feeds polls what was removed since it last looked: deleted
      // posts and account status changes, copied here as they are written (materialized views) and
      // sorted by arrival, so a poll reads a few rows instead of scanning the posts table. Kept
      // three days: snapshots and timelines read after a removal leave it out themselves.
      `CREATE TABLE IF NOT EXISTS {db}.removals (
        subject String,
        kind LowCardinality(String),
        active UInt8,
        arrived_at DateTime64(6) DEFAULT now64(6)
      ) ENGINE = MergeTree
      ORDER BY arrived_at
      TTL toDateTime(arrived_at) + INTERVAL 3 DAY`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.removals_of_posts TO {db}.removals AS
        SELECT concat('at://', did, '/app.bsky.feed.post/', rkey) AS subject, 'post' AS kind, toUInt8(0) AS active
        FROM {db}.posts WHERE deleted = 1`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.removals_of_accounts TO {db}.removals AS
        SELECT did AS subject, 'account' AS kind, active FROM {db}.accounts`,
    ],
  },
  {
    version: 14,
    name: 'what accounts ask of algorithmic feeds',
    statements: [
      // @NOTE The latest app.bsky.actor.contentVisibilityDeclaration of each account (a delete is a
      // row with hide = 0: no declaration means not hidden). Ranked feeds leave out authors with hide = 1.
      `CREATE TABLE IF NOT EXISTS {db}.visibility (
        did String,
        hide UInt8,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY did`,
    ],
  },
  {
    version: 15,
    name: 'labels',
    statements: [
      // @NOTE Our labels, in the order subscribeLabels sends them: `seq` is assigned by the one
      // process that computes snapshots (the only writer), one past the largest stored. `cts` and
      // `exp` are kept as the signed text, `sig` as base64: a stored label re-verifies byte for byte.
      `CREATE TABLE IF NOT EXISTS {db}.labels (
        seq UInt64,
        src String,
        uri String,
        cid String,
        val String,
        neg UInt8,
        cts String,
        exp String,
        sig String
      ) ENGINE = ReplacingMergeTree
      ORDER BY seq`,
      // Where the history of `labels` begins after pruning: a subscribeLabels cursor before it is outdated.
      `CREATE TABLE IF NOT EXISTS {db}.label_history (
        floor UInt64,
        pruned_at DateTime64(3) DEFAULT now64(3)
      ) ENGINE = MergeTree
      ORDER BY floor`,
      // @NOTE Other labelers' labels, verified: the latest statement per (labeler, subject, value)
      // wins, by the labeler's creation time, so a negation replaces the label it negates.
      `CREATE TABLE IF NOT EXISTS {db}.external_labels (
        src String,
        uri String,
        val String,
        cid String,
        neg UInt8,
        cts String,
        exp String,
        sig String,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (src, uri, val)`,
      `CREATE TABLE IF NOT EXISTS {db}.labeler_cursors (
        src String,
        seq UInt64,
        updated_at DateTime64(3) DEFAULT now64(3)
      ) ENGINE = ReplacingMergeTree(updated_at)
      ORDER BY src`,
    ],
  },
  {
    version: 16,
    name: 'rankers that scale out: ownership epochs and claims',
    statements: [
      // @NOTE The fencing of rankers (RankerClaimRepository). A ranker that takes a feed over takes
      // the feed's next ownership epoch (kind `epoch`, key = the epoch), and claims every snapshot
      // id (kind `snapshot`) and digest edition (kind `edition`) before writing it. Plain MergeTree:
      // every claim is kept as written, so two claims of one key are both seen. Epoch rows stay
      // (a few per feed and takeover); claims of snapshots and editions go after two days.
      `CREATE TABLE IF NOT EXISTS {db}.ranker_claims (
        feed LowCardinality(String),
        kind LowCardinality(String),
        key UInt64,
        epoch UInt64,
        ranker String,
        claimed_at DateTime64(3) DEFAULT now64(3)
      ) ENGINE = MergeTree
      ORDER BY (feed, kind, key)
      TTL toDateTime(claimed_at) + INTERVAL 2 DAY DELETE WHERE kind != 'epoch'`,
      // The epoch a snapshot was written under and by which ranker: readers serve the newest
      // snapshot of the newest epoch, so a ranker that lost a feed is never served over its new owner.
      `ALTER TABLE {db}.feed_snapshots ADD COLUMN IF NOT EXISTS epoch UInt64 DEFAULT 0`,
      `ALTER TABLE {db}.feed_snapshots ADD COLUMN IF NOT EXISTS ranker String DEFAULT ''`,
    ],
  },
  {
    version: 17,
    name: 'context notes: proposals, ratings, requests, statuses and their changes',
    statements: [
      // @NOTE Records, one row per (author, rkey) as pledges are: a delete replaces the record and
      // withdraws it. Notes are org.opencommunitynotes.label records (readers-added-context).
      `CREATE TABLE IF NOT EXISTS {db}.notes (
        did String,
        rkey String,
        cid String,
        subject_uri String,
        subject_cid String,
        reason LowCardinality(String),
        text String,
        time_us UInt64,
        deleted UInt8,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (did, rkey)`,
      // @NOTE A rater may hold several rating records of one note: the newest counts (the ranker reads
      // the latest per rater and note), so one rater never rates a note twice.
      `CREATE TABLE IF NOT EXISTS {db}.note_ratings (
        did String,
        rkey String,
        note_uri String,
        helpfulness LowCardinality(String),
        time_us UInt64,
        deleted UInt8,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (did, rkey)`,
      // Requests for a note on a post: records (org.commonground.notes.request) and console actions (did 'console').
      `CREATE TABLE IF NOT EXISTS {db}.note_requests (
        did String,
        rkey String,
        subject_uri String,
        time_us UInt64,
        deleted UInt8,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (did, rkey)`,
      // Each note's status and scores as the latest notes run left them (the ranker is the only writer).
      `CREATE TABLE IF NOT EXISTS {db}.note_status (
        note String,
        post String,
        status LowCardinality(String),
        intercept Float64,
        factor Float64,
        raters UInt32,
        raters_negative UInt32,
        raters_positive UInt32,
        updated_at UInt64
      ) ENGINE = ReplacingMergeTree(updated_at)
      ORDER BY note`,
      // Every change of a note's status, with the rule that made it.
      `CREATE TABLE IF NOT EXISTS {db}.note_status_changes (
        at UInt64,
        note String,
        post String,
        from_status LowCardinality(String),
        to_status LowCardinality(String),
        reason String
      ) ENGINE = ReplacingMergeTree
      ORDER BY (note, at)`,
    ],
  },
  {
    version: 18,
    name: 'posts remember when they were stored',
    statements: [
      // When a post's row was stored (unix µs, by the process that wrote it; 0 for rows stored
      // before this column): a post stored late with an old time (a backfill, ingest catching up
      // after an outage) is found by it, so the recent feed's window in memory takes it in.
      `ALTER TABLE {db}.posts ADD COLUMN IF NOT EXISTS stored_us UInt64 DEFAULT 0`,
      // Rows are stored in the order of this column, so a minmax index skips every older part.
      `ALTER TABLE {db}.posts ADD INDEX IF NOT EXISTS posts_stored stored_us TYPE minmax GRANULARITY 1`,
    ],
  },
  {
    version: 19,
    name: "the network's events and approvals expire",
    statements: [
      // @NOTE The event log and the network's likes, reposts, replies and quotes grow at the
      // firehose's rate; nothing reads them past a feed's longest window (31 days, `MAX_WINDOW_HOURS`),
      // and a record's delete is a newer row of its own, so it needs no older one. They expire after
      // 45 days. What the log was also read for, when the store first saw each account (a young
      // account's discount in notes) and the store's oldest event, is kept apart, one row per account.
      `CREATE TABLE IF NOT EXISTS {db}.first_seen (
        did String,
        time_us SimpleAggregateFunction(min, UInt64)
      ) ENGINE = AggregatingMergeTree
      ORDER BY did`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.first_seen_of_events TO {db}.first_seen AS
        SELECT did, min(time_us) AS time_us FROM {db}.event_log GROUP BY did`,
      // Idempotent: a minimum taken twice is the same minimum.
      `INSERT INTO {db}.first_seen SELECT did, min(time_us) FROM {db}.event_log GROUP BY did`,
      `ALTER TABLE {db}.event_log MODIFY TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL 45 DAY`,
      `ALTER TABLE {db}.interactions MODIFY TTL
        toDateTime(intDiv(time_us, 1000000)) + INTERVAL 14 DAY DELETE WHERE kind NOT IN ('like', 'repost', 'reply', 'quote'),
        toDateTime(intDiv(time_us, 1000000)) + INTERVAL 45 DAY`,
    ],
  },
  {
    version: 20,
    name: 'fund impressions expire',
    statements: [
      // @NOTE A fund's impressions are read for the epoch they fall in only (its settlement keeps
      // what they came to); an epoch is at most 365 days (`FUND_EPOCH_DAYS`): past 400, nothing reads them.
      `ALTER TABLE {db}.fund_impressions MODIFY TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL 400 DAY`,
    ],
  },
  {
    version: 21,
    name: 'account removals carry their version',
    statements: [
      // @NOTE An account's status rows written in one insert (taken down, then active again) share
      // their arrival time, and rows may arrive out of order: the serving replicas apply each
      // account's newest status (its version, as the accounts table keeps it), not the last read.
      `ALTER TABLE {db}.removals ADD COLUMN IF NOT EXISTS version UInt64 DEFAULT 0`,
      `DROP VIEW IF EXISTS {db}.removals_of_accounts`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.removals_of_accounts TO {db}.removals AS
        SELECT did AS subject, 'account' AS kind, active, version FROM {db}.accounts`,
    ],
  },
  {
    version: 22,
    name: 'a boosted impression is charged once, to the funds that first paid for it',
    statements: [
      // @NOTE One row per epoch, post and viewer, the first serve kept (the version falls as time
      // rises): a viewer is charged once, shared by the funds named when the post was first
      // served, however often and by however many feed generators it was served again, even under
      // other funds. `fund_impressions` kept the newest serve per fund, so a viewer served under
      // two funds and then one was charged one and a half times; it is no longer written, and
      // what it holds expires with its TTL.
      `CREATE TABLE IF NOT EXISTS {db}.fund_charges (
        epoch UInt32,
        post String,
        viewer String,
        funds Array(LowCardinality(String)),
        feed LowCardinality(String),
        time_us UInt64,
        earliness UInt64 DEFAULT 18446744073709551615 - time_us
      ) ENGINE = ReplacingMergeTree(earliness)
      ORDER BY (epoch, post, viewer)
      TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL 400 DAY`,
      // The charges so far, one per viewer with every fund that charged it and its first time
      // (idempotent: a row copied twice is replaced by itself). A fund never pays more for a viewer
      // than it did before: the funds now share what one paid for alone.
      `INSERT INTO {db}.fund_charges (epoch, post, viewer, funds, feed, time_us)
        SELECT epoch, post, viewer, groupArray(community), any(feed), min(time_us) FROM {db}.fund_impressions FINAL
        GROUP BY epoch, post, viewer`,
      // Impressions outside the community are weighted by the funds sharing them, as impressions are.
      `ALTER TABLE {db}.fund_posts MODIFY COLUMN impressions_other Float64`,
      `ALTER TABLE {db}.fund_epochs MODIFY COLUMN impressions_other Float64`,
      // Impressions served past the budget (or past a post's credits) are served free.
      `ALTER TABLE {db}.fund_epochs ADD COLUMN IF NOT EXISTS unpaid Float64 DEFAULT 0`,
      // The most credits a fund held on a post in the epoch: what it pays for the post's impressions
      // at most, however its credits fall later (a withdrawn pledge, a deleted post).
      `ALTER TABLE {db}.fund_posts ADD COLUMN IF NOT EXISTS credits Float64 DEFAULT 0`,
      // Pledges are read for the epoch they fall in (at most 365 days): past 400 days nothing reads them.
      `ALTER TABLE {db}.pledges MODIFY TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL 400 DAY`,
    ],
  },
  {
    version: 23,
    name: 'deliberation votes last as long as a conversation',
    statements: [
      // @NOTE requestLess (disagree) and interactionSeen (pass) are a deliberation feed's votes, read
      // over its window (up to 31 days, `MAX_WINDOW_HOURS`), and they say which statements a viewer
      // voted on already: they expire with the approvals, after 45 days. The other feedback kinds
      // keep 14 days.
      `ALTER TABLE {db}.interactions MODIFY TTL
        toDateTime(intDiv(time_us, 1000000)) + INTERVAL 14 DAY DELETE WHERE kind NOT IN ('like', 'repost', 'reply', 'quote', 'requestLess', 'interactionSeen'),
        toDateTime(intDiv(time_us, 1000000)) + INTERVAL 45 DAY`,
    ],
  },
  {
    version: 24,
    name: "a digest edition is the newest ownership epoch's",
    statements: [
      // @NOTE A ranker that lost a feed while freezing an edition may write it after the new owner
      // froze the same one. Each row carries the epoch it was written under, and the newest epoch's
      // row of an edition replaces the others (the version of ReplacingMergeTree; rows of one
      // epoch, the last written). A table's version cannot be altered: new tables, the editions
      // so far copied in as epoch 0 (idempotent: a row copied twice is replaced by itself).
      `CREATE TABLE IF NOT EXISTS {db}.digest_edition_posts (
        feed LowCardinality(String),
        edition UInt64,
        rank UInt32,
        uri String,
        cid String,
        score Float64,
        feed_context String,
        components String,
        epoch UInt32
      ) ENGINE = ReplacingMergeTree(epoch)
      ORDER BY (feed, edition, rank)`,
      `CREATE TABLE IF NOT EXISTS {db}.digest_edition_records (
        feed LowCardinality(String),
        edition UInt64,
        posts UInt32,
        frozen_at DateTime64(3) DEFAULT now64(3),
        epoch UInt32
      ) ENGINE = ReplacingMergeTree(epoch)
      ORDER BY (feed, edition)`,
      `INSERT INTO {db}.digest_edition_posts (feed, edition, rank, uri, cid, score, feed_context, components, epoch)
        SELECT feed, edition, rank, uri, cid, score, feed_context, components, 0 FROM {db}.digest_editions FINAL`,
      `INSERT INTO {db}.digest_edition_records (feed, edition, posts, frozen_at, epoch)
        SELECT feed, edition, posts, frozen_at, 0 FROM {db}.digest_edition_index FINAL`,
    ],
  },
  {
    version: 25,
    name: 'the digest edition tables without epochs go',
    statements: [
      // Dropped in a migration of their own: had 24 dropped them, a start stopped after the drop
      // would run 24 again and find nothing to copy from.
      `DROP TABLE IF EXISTS {db}.digest_editions`,
      `DROP TABLE IF EXISTS {db}.digest_edition_index`,
    ],
  },
  {
    version: 26,
    name: 'a rating names the version of the note it rates',
    statements: [
      // @NOTE A note deleted and written again at the same record key is a new note at the same
      // URI; a rating's strong reference names the version rated. '' for ratings stored before.
      `ALTER TABLE {db}.note_ratings ADD COLUMN IF NOT EXISTS note_cid String DEFAULT ''`,
    ],
  },
  {
    version: 27,
    name: 'posts are found by time',
    statements: [
      // @NOTE A feed's window and a hashtag's members are read by time (`time_us >= since`), which
      // the key (did, rkey) cannot bound. Posts are stored about in time order, so a minmax index
      // skips the parts older than the window. Safe under FINAL: a post's newer version (an edit, a
      // delete) has a later time, so no granule skipped holds the version that replaces one read.
      `ALTER TABLE {db}.posts ADD INDEX IF NOT EXISTS posts_time time_us TYPE minmax GRANULARITY 1`,
      `ALTER TABLE {db}.posts MATERIALIZE INDEX posts_time`,
    ],
  },
  {
    version: 28,
    name: 'a backfilled record does not say when the store first saw its account',
    statements: [
      // @NOTE A backfilled event's time is its record's own date (`createdAt`, up to years back),
      // which its account chose: copied into `first_seen`, it made a new account look established
      // and moved the store's start years back. An insert labelled as the backfill's (the
      // `log_comment` the backfill sets, `BackfillEventRepository`) counts as seen when it was
      // stored, or at its time if later; every other insert, at its time, as before.
      // Changed in place (MODIFY QUERY): no moment without the view, when inserts would go unseen.
      `ALTER TABLE {db}.first_seen_of_events MODIFY QUERY
        SELECT did, min(if(getSetting('log_comment') = 'common-ground:backfill', greatest(time_us, toUInt64(toUnixTimestamp64Micro(ingested_at))), time_us)) AS time_us
        FROM {db}.event_log GROUP BY did`,
      // The rows a backfill already dated before the store began (its first migration) are raised
      // to that start: the store saw nothing earlier, and which rows were backfilled, and when, is
      // no longer known (the log expires). Accounts the store met at its start count as established,
      // as designed. One statement that gives the same table however often, and by however many
      // processes at once, it runs: migrations start again from a migration's first statement.
      `ALTER TABLE {db}.first_seen UPDATE time_us = (SELECT toUInt64(toUnixTimestamp64Micro(min(applied_at))) FROM {db}.schema_migrations)
        WHERE time_us < (SELECT toUInt64(toUnixTimestamp64Micro(min(applied_at))) FROM {db}.schema_migrations)
        SETTINGS mutations_sync = 2`,
    ],
  },
  {
    version: 29,
    name: 'context notes are read by their post',
    statements: [
      // @NOTE The notes tables are kept by author and record (or by note); a post's page reads them
      // by post, which read every row of each, and anyone on the network can add notes and requests.
      // Notes and requests keep the post only in their live version (a withdrawal keeps none), so a
      // skip index on it may let FINAL miss the withdrawal and show a withdrawn note: without
      // `use_skip_indexes_if_final_exact_mode` (off by default before ClickHouse 25.6), and, as
      // measured, with it on (chDB 26.7) in the notes pipeline spec, whose withdrawal sat in the
      // third part of the table. So a post's notes are found by key instead, in a table of every
      // (post, author, record) ever written, then read by that key. Status rows and status changes
      // keep their note's post in every version: a bloom filter on it is safe.
      `CREATE TABLE IF NOT EXISTS {db}.notes_by_post (post String, did String, rkey String) ENGINE = ReplacingMergeTree ORDER BY (post, did, rkey)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.notes_by_post_of_notes TO {db}.notes_by_post AS
        SELECT subject_uri AS post, did, rkey FROM {db}.notes WHERE subject_uri != ''`,
      `INSERT INTO {db}.notes_by_post SELECT subject_uri, did, rkey FROM {db}.notes WHERE subject_uri != ''`,
      `CREATE TABLE IF NOT EXISTS {db}.note_requests_by_post (post String, did String, rkey String) ENGINE = ReplacingMergeTree ORDER BY (post, did, rkey)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.note_requests_by_post_of_requests TO {db}.note_requests_by_post AS
        SELECT subject_uri AS post, did, rkey FROM {db}.note_requests WHERE subject_uri != ''`,
      `INSERT INTO {db}.note_requests_by_post SELECT subject_uri, did, rkey FROM {db}.note_requests WHERE subject_uri != ''`,
      `ALTER TABLE {db}.note_status ADD INDEX IF NOT EXISTS note_status_post post TYPE bloom_filter(0.01) GRANULARITY 1`,
      `ALTER TABLE {db}.note_status MATERIALIZE INDEX note_status_post`,
      `ALTER TABLE {db}.note_status_changes ADD INDEX IF NOT EXISTS note_status_changes_post post TYPE bloom_filter(0.01) GRANULARITY 1`,
      `ALTER TABLE {db}.note_status_changes MATERIALIZE INDEX note_status_changes_post`,
    ],
  },
  {
    version: 30,
    name: 'the labels in force are kept apart from their history',
    statements: [
      // @NOTE `labels` keeps every statement of ours in sequence order (what subscribeLabels
      // replays). queryLabels serves the current statement per (labeler, subject, value), and the
      // labeler compares each run with those in force: both found them by grouping the whole
      // history, a second per page at a million statements, and anyone may ask. This table holds
      // the current statements alone, in the same order: the one labels writer adds each new
      // statement here and deletes the one it supersedes (`LabelRepository.append`). Rows are never
      // changed, only added or deleted, so the bloom filter on `uri` is safe under FINAL (which only
      // folds in the copies of a row a repeated migration may add).
      `CREATE TABLE IF NOT EXISTS {db}.labels_current (
        seq UInt64,
        src String,
        uri String,
        cid String,
        val String,
        neg UInt8,
        cts String,
        exp String,
        sig String,
        INDEX labels_current_uri uri TYPE bloom_filter(0.01) GRANULARITY 1
      ) ENGINE = ReplacingMergeTree
      ORDER BY seq`,
      // How far `labels_current` follows `labels`: the writer brings it up from here at each
      // emission, and a migration or writer stopped halfway is brought up again from here. Recorded
      // before the current statements are copied, so that what is appended meanwhile is copied again.
      `CREATE TABLE IF NOT EXISTS {db}.labels_current_position (seq UInt64) ENGINE = ReplacingMergeTree(seq) ORDER BY tuple()`,
      `INSERT INTO {db}.labels_current_position SELECT max(seq) FROM {db}.labels`,
      `INSERT INTO {db}.labels_current
        SELECT seq, src, uri, cid, val, neg, cts, exp, sig FROM {db}.labels
        WHERE seq IN (SELECT max(seq) FROM {db}.labels GROUP BY src, uri, val)`,
    ],
  },
  {
    version: 31,
    name: 'when accounts were created, by their PLC directory',
    statements: [
      // @NOTE A backfill reads a member's creation time from its PLC directory, which stamps each
      // operation as it receives it: an account's real age, where `first_seen` only says when the
      // store met it (a member backfilled today counted as a young account for a month).
      `CREATE TABLE IF NOT EXISTS {db}.account_created (
        did String,
        created_us SimpleAggregateFunction(min, UInt64)
      ) ENGINE = AggregatingMergeTree
      ORDER BY did`,
    ],
  },
  {
    version: 32,
    name: "an epoch's member allowance is settled with it",
    statements: [
      // @NOTE An ended epoch is settled again in the next one's first runs, by the rules it was
      // settled under: its budget and matching pool were kept, its member allowance was not, so a
      // curator's change at the boundary re-judged the ended epoch's pledges. NULL for settlements
      // written before: those keep the allowance in force.
      `ALTER TABLE {db}.fund_epochs ADD COLUMN IF NOT EXISTS member_allowance Nullable(Float64)`,
    ],
  },
  {
    version: 33,
    name: 'a pledge whose post a fund was charged for is held for the epoch',
    statements: [
      // @NOTE A post keeps the credits a fund held on it once its impressions were charged, so a
      // pledge withdrawn or edited after that still steers them: the ranker (the ledger's one writer)
      // keeps every pledge it settled here, at the most it gave, and one whose post was charged stays
      // counted against the member's allowance for the epoch. `pledges` keeps only a record's newest
      // version, so a withdrawn pledge is known from here only.
      `CREATE TABLE IF NOT EXISTS {db}.fund_held_pledges (
        community LowCardinality(String),
        epoch UInt32,
        pledger String,
        rkey String,
        post String,
        amount Float64,
        time_us UInt64,
        settled_at UInt64
      ) ENGINE = ReplacingMergeTree(settled_at)
      ORDER BY (community, epoch, pledger, rkey, post)
      TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL 400 DAY`,
    ],
  },
  {
    version: 34,
    name: "a note's status names the version of the note it is of",
    statements: [
      // @NOTE A note deleted and written again at the same record key has the same URI: until the
      // next run scores it, the status of the version before must not be shown as the new one's.
      // '' for statuses stored before: they apply to whatever version is live.
      `ALTER TABLE {db}.note_status ADD COLUMN IF NOT EXISTS note_cid String DEFAULT ''`,
    ],
  },
  {
    version: 35,
    name: "a conversation's disagree and pass votes are kept apart from other feedback",
    statements: [
      // @NOTE `interactions` keeps one row per viewer, kind and post, the newest: a "show less" or
      // "seen" of a statement from another of our feeds replaced the viewer's vote on it. A vote is
      // kept here, per conversation (its feed's short name; '' for the context every conversation
      // shared before), and expires with the other votes, after 45 days.
      `CREATE TABLE IF NOT EXISTS {db}.conversation_votes (
        conversation String,
        actor String,
        statement String,
        kind LowCardinality(String),
        time_us UInt64,
        version UInt64
      ) ENGINE = ReplacingMergeTree(version)
      ORDER BY (conversation, actor, statement, kind)
      TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL 45 DAY`,
      // The votes stored before, still in `interactions`: of every conversation.
      `INSERT INTO {db}.conversation_votes (conversation, actor, statement, kind, time_us, version)
        SELECT '', actor, subject_uri, kind, time_us, version FROM {db}.interactions FINAL
        WHERE deleted = 0 AND kind IN ('requestLess', 'interactionSeen') AND feed_context = '{"v":1,"vote":1}'`,
    ],
  },
  {
    version: 36,
    name: "the network's posts expire",
    statements: [
      // @NOTE Ingest stores every post on the network: a candidate is any post a member wrote or
      // approved, which only the window decides. Nothing reads a post older than a feed's window (31
      // days at most) or a conversation's votes (45): a post expires with the approvals of it, after
      // 45 days (POSTS_KEPT_DAYS). A digest's older editions then show their posts as links, and a
      // pledge to an older post, which no feed's window reaches to boost it, is refused as one to a
      // post gone. A deleted post's tombstone (its key, without text) stays: a note's label on it
      // stays withdrawn.
      `ALTER TABLE {db}.posts MODIFY TTL toDateTime(intDiv(time_us, 1000000)) + INTERVAL ${POSTS_KEPT_DAYS} DAY DELETE WHERE deleted = 0`,
    ],
  },
];

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
  version UInt32,
  name String,
  applied_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY version`;

export interface MigrationOptions {
  /** The migrations to apply (default: all of them). */
  list?: Migration[];
  /**
   * How long an unreachable ClickHouse, or a migration under way in another process, is waited
   * for before giving up (default 120 s, as the bus waits for Kafka).
   */
  giveUpAfterMs?: number;
  /** Told of each failed try that is tried again: its number, the wait before the next, and why. */
  onRetry?: (retry: { attempt: number; waitMs: number; error: Error }) => void;
}

const MIGRATION_WAIT_MS = 120_000;

/**
 * A migration statement runs as long as it takes: a copy of a large table (`INSERT … SELECT`)
 * can outlast the application's query limit (`max_execution_time`, 30 s in `deploy/clickhouse`),
 * which would fail it at every start and leave the deployment unable to upgrade. Over HTTP the
 * server sends a progress header every 20 s meanwhile, so the client's 30 s socket timeout, which
 * counts silence, does not end the request (the client takes 1 MiB of headers: 22 hours of them).
 */
const STATEMENT_SETTINGS = { max_execution_time: 0, send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '20000' } as const;
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;

/**
 * Applies the migrations `database` has not recorded yet, in order; returns their versions.
 *
 * A ClickHouse that cannot be reached (a process started while its server starts or restarts) is
 * tried again with backoff for `giveUpAfterMs`, each try from the versions recorded then; a statement
 * ClickHouse refuses fails at once. Each statement runs under a query id of its own
 * (`cg-migration-<database>-<version>-<n>`): a server refuses a second query with the id of one
 * still running, so a process that starts while another applies a migration, or a try after a
 * client timeout while the server still runs the statement, waits for it instead of running the
 * same statement beside it.
 *
 * @NOTE The wait and the log line are `retry`'s hooks: `getWaitMs` says the next wait (none past
 * the deadline), and `retryable` is asked only when there is one, so it logs each try again.
 */
export async function applyMigrations(client: ClickHouseClient, database: string, options: MigrationOptions = {}): Promise<number[]> {
  const { list = migrations, giveUpAfterMs = MIGRATION_WAIT_MS, onRetry } = options;
  const deadline = Date.now() + giveUpAfterMs;
  let nextWaitMs = 0;
  let attempt = 0;
  try {
    return await retry(
      () => {
        attempt += 1;
        return applyMigrationsOnce(client, database, list);
      },
      {
        maxRetries: Number.MAX_SAFE_INTEGER,
        getWaitMs: (retries) => {
          nextWaitMs = Math.min(backoffMs(retries, RETRY_FIRST_MS, RETRY_MAX_MS), deadline - Date.now());
          return nextWaitMs > 0 ? nextWaitMs : null;
        },
        retryable: (error) => {
          if (!worthWaiting(error)) return false;
          onRetry?.({ attempt, waitMs: nextWaitMs, error: error as Error });
          return true;
        },
      },
    );
  } catch (error) {
    if (!worthWaiting(error)) throw error;
    throw new ClickHouseUnavailableError(
      `schema migrations of ${database} gave up after ${attempt} tries in ${Math.round(giveUpAfterMs / 1000)} s: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** ClickHouse was not reached, or another process runs the same migration statement now. */
const worthWaiting = (error: unknown): boolean => isConnectionError(error) || clickHouseErrorCode(error) === QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING;

async function applyMigrationsOnce(client: ClickHouseClient, database: string, list: Migration[]): Promise<number[]> {
  const sql = (statement: string) => statement.replaceAll('{db}', database);
  // A restore stopped halfway left the store half restored: serving it would look like data lost.
  const [interrupted] = await setAsideDatabases(client, database);
  if (interrupted) throw new InterruptedRestoreError(database, interrupted);
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await client.command({ query: sql(MIGRATIONS_TABLE) });
  const recorded = async () => {
    const result = await client.query({ query: sql('SELECT version FROM {db}.schema_migrations FINAL'), format: 'JSONEachRow' });
    return new Set((await result.json<{ version: number }>()).map((row) => Number(row.version)));
  };
  const applied = await recorded();
  const appliedNow: number[] = [];
  migrating: for (const migration of [...list].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    for (const [n, statement] of migration.statements.entries()) {
      try {
        await client.command({
          query: sql(statement),
          query_id: `cg-migration-${database}-${migration.version}-${n}`,
          clickhouse_settings: STATEMENT_SETTINGS,
        });
      } catch (error) {
        // Another process may have applied this migration, and a later one, since the versions were
        // read (a copy from a table that a later migration dropped then fails): it is done.
        if (isConnectionError(error)) throw error;
        const now = await recorded();
        if (!now.has(migration.version)) throw error;
        for (const version of now) applied.add(version);
        continue migrating;
      }
    }
    await client.insert({
      table: `${database}.schema_migrations`,
      values: [{ version: migration.version, name: migration.name }],
      format: 'JSONEachRow',
    });
    appliedNow.push(migration.version);
  }
  return appliedNow;
}
