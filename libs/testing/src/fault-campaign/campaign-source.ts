import path from 'node:path';
import { mapJetstreamEvent } from '#lib/domain';
import type { PipelineEventV1 } from '#lib/contracts';
import { RawLine, writeJsonl } from '../jsonl.js';
import { generateJetstreamEvents } from '../synthetic-events.js';

/** The identity of a stored event, as `event_log` keys it: did, time_us, type, rkey. */
type EventKey = [did: string, timeUs: number, type: string, rkey: string];

/**
 * What the store must hold once every source event went through, per aggregate the app reads:
 * a map from the aggregate's group key (`a\tb`) to its count.
 */
export interface ExpectedAggregates {
  /** Live likes, reposts, replies and quotes per subject post and kind. */
  interactionsPerPost: Map<string, number>;
  /** Live follows, blocks, list items and starter packs per account and kind. */
  graphPerAccount: Map<string, number>;
  /** Live posts per author. */
  postsPerAuthor: Map<string, number>;
  /** Events per type. */
  eventsPerType: Map<string, number>;
}

/** The replayed file and the ground truth the campaign audits the store against. */
export interface CampaignSource {
  /** JSONL of the replayed frames (malformed ones included). */
  readonly file: string;
  readonly frames: number;
  /** Identities of the events ingest maps, in `time_us` order. */
  readonly keys: readonly EventKey[];
  readonly expected: ExpectedAggregates;
  /** `time_us` of the last mappable event: the ingest cursor reaches it when the replay is through. */
  readonly lastTimeUs: number;
  /** `time_us` of the mappable event at `fraction` (0–1) of the source. */
  timeAt(fraction: number): number;
}

const bump = (map: Map<string, number>, key: string, by = 1): void => {
  const next = (map.get(key) ?? 0) + by;
  if (next === 0) map.delete(key);
  else map.set(key, next);
};

/**
 * Live records keyed by identity (`<did>\t<kind>\t<rkey>`), replaced by later versions and removed
 * by deletes: the state a ReplacingMergeTree read with FINAL must show, computed here without ClickHouse.
 */
class LiveRecords {
  private readonly live = new Map<string, string>();
  private readonly byAccount = new Map<string, Set<string>>();

  constructor(private readonly aggregate: Map<string, number>) {}

  put(identity: string, group: string): void {
    this.remove(identity);
    this.live.set(identity, group);
    const account = accountOf(identity);
    let records = this.byAccount.get(account);
    if (!records) this.byAccount.set(account, (records = new Set()));
    records.add(identity);
    bump(this.aggregate, group);
  }

  remove(identity: string): void {
    const group = this.live.get(identity);
    if (group === undefined) return;
    this.live.delete(identity);
    this.byAccount.get(accountOf(identity))!.delete(identity);
    bump(this.aggregate, group, -1);
  }

  /** Removes every record `did` wrote (an account deleted). */
  removeAccount(did: string): void {
    for (const identity of [...(this.byAccount.get(did) ?? [])]) this.remove(identity);
    this.byAccount.delete(did);
  }
}

const accountOf = (identity: string): string => identity.slice(0, identity.indexOf('\t'));

function expectationsOf(events: Iterable<PipelineEventV1>): { keys: EventKey[]; expected: ExpectedAggregates } {
  const expected: ExpectedAggregates = {
    interactionsPerPost: new Map(),
    graphPerAccount: new Map(),
    postsPerAuthor: new Map(),
    eventsPerType: new Map(),
  };
  const interactions = new LiveRecords(expected.interactionsPerPost);
  const graph = new LiveRecords(expected.graphPerAccount);
  const posts = new LiveRecords(expected.postsPerAuthor);
  const keys: EventKey[] = [];
  for (const event of events) {
    const rkey = event.type === 'account' || event.type === 'identity' ? '' : event.rkey;
    keys.push([event.did, event.timeUs, event.type, rkey]);
    bump(expected.eventsPerType, event.type);
    // The store erases a deleted account's posts and graph records (its interactions expire).
    if (event.type === 'account' && !event.active && event.status === 'deleted') {
      for (const records of [posts, graph]) records.removeAccount(event.did);
    }
    if (event.type === 'account' || event.type === 'identity') continue;
    const id = (kind: string) => `${event.did}\t${kind}\t${event.rkey}`;
    if (event.op === 'delete') {
      if (event.type === 'post') {
        posts.remove(id('post'));
        interactions.remove(id('reply'));
        interactions.remove(id('quote'));
      } else if (event.type === 'like' || event.type === 'repost') {
        interactions.remove(id(event.type));
      } else {
        graph.remove(id(event.type));
      }
      continue;
    }
    switch (event.type) {
      case 'post':
        posts.put(id('post'), event.did);
        if (event.replyParent) interactions.put(id('reply'), `${event.replyParent}\treply`);
        if (event.quote) interactions.put(id('quote'), `${event.quote}\tquote`);
        break;
      case 'like':
      case 'repost':
        interactions.put(id(event.type), `${event.subjectUri}\t${event.type}`);
        break;
      default:
        graph.put(id(event.type), `${event.did}\t${event.type}`);
    }
  }
  return { keys, expected };
}

/**
 * Generates the campaign's events (seeded), writes them for a replay process and keeps only the
 * truth: event identities and expected aggregates. The generated objects are dropped on return,
 * so a million events cost this process their keys, not their records.
 */
export async function prepareCampaignSource(options: { dir: string; events: number; seed: number }): Promise<CampaignSource> {
  const file = path.join(options.dir, 'source.jsonl');
  const { frames, keys, expected } = await (async () => {
    const generated = generateJetstreamEvents({
      seed: options.seed,
      users: Math.max(1_000, Math.round(options.events / 20)),
      events: options.events,
      // @NOTE About 300 events per second of source time: the ingest rewind after a restart
      // (JETSTREAM_REWIND_SECONDS, 5 s) re-reads a realistic overlap of ~1,500 events.
      startUs: (Date.now() - 24 * 3_600_000) * 1000,
      durationSec: Math.max(60, Math.round(options.events / 300)),
      malformedEvery: 10_000,
      mix: { other: 0 },
    });
    await writeJsonl(file, generated.events);
    function* mapped(): Generator<PipelineEventV1> {
      for (const item of generated.events) {
        if (item instanceof RawLine) continue;
        const result = mapJetstreamEvent(item);
        if (result.kind === 'event') yield result.event;
      }
    }
    return { frames: generated.events.length, ...expectationsOf(mapped()) };
  })();
  const lastTimeUs = keys.at(-1)?.[1] ?? 0;
  return {
    file,
    frames,
    keys,
    expected,
    lastTimeUs,
    timeAt: (fraction) => keys[Math.min(keys.length - 1, Math.max(0, Math.floor(fraction * keys.length)))]?.[1] ?? 0,
  };
}
