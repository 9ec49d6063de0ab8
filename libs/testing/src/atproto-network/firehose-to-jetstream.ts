import { lexToJson } from '@atproto/lex-json';
import { parseAccount, parseCommitUnauthenticated, type Event as FirehoseEvent } from '@atproto/sync';
import { Subscription } from '@atproto/xrpc-server';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JetstreamEvent } from '#lib/domain';
import { startJetstreamReplayServer, type JetstreamReplayServer } from '../jetstream-replay.server.js';

/**
 * @NOTE Why a translator and not the real Jetstream (github.com/bluesky-social/jetstream, Go): the Go module proxy
 * answers 403 "This module version is not available" for github.com/bluesky-social/jetstream (its version list
 * and @latest), so `go install …/cmd/jetstream@latest` cannot fetch it on our machines, and the project may not vendor
 * its source. scripts/build-jetstream.mjs keeps trying (cached) so it can be switched in when the proxy serves it.
 *
 * This is the part of Jetstream v1 our pipeline depends on: the PDS firehose (`com.atproto.sync.subscribeRepos`,
 * CBOR + CAR) in, one JSON object per WebSocket text frame out, on `/subscribe`, with `wantedCollections` (incl.
 * `prefix.*`), `wantedDids`, `cursor` (unix µs, inclusive; absent = live tail), `maxMessageSizeBytes`,
 * `requireHello` and `options_update` — all served by the Jetstream replay server, to which events are pushed live.
 */

interface FirehoseToJetstreamOptions {
  /** Base URL of the PDS (or relay) whose firehose to translate: http(s):// or ws(s)://. */
  service: string;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Firehose errors (parsing, connection); by default they are collected in `errors`. */
  onError?: (error: Error) => void;
}

export interface FirehoseToJetstream {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/subscribe`, the endpoint to give a Jetstream client. */
  readonly subscribeUrl: string;
  /** Newest firehose `seq` translated so far. */
  readonly lastSeq: number | undefined;
  /** Jetstream events produced so far. */
  readonly eventCount: number;
  /** Errors met while reading the firehose (when no `onError` was given). */
  readonly errors: readonly Error[];
  /** Resolves once the firehose event with this `seq` (or a later one) has been translated. */
  waitForSeq(seq: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

class FirehoseToJetstreamError extends Error {
  override name = 'FirehoseToJetstreamError';
}

/**
 * One firehose event as the Jetstream v1 wire object, or null for what v1 does not emit (`#sync`).
 * Records become JSON with the AT Protocol conventions Jetstream uses: `{"$link": cid}`, `{"$bytes": base64}`,
 * blobs as `{"$type":"blob","ref":{"$link":…},"mimeType":…,"size":…}`.
 */
export function toJetstreamEvent(event: FirehoseEvent, timeUs: number): JetstreamEvent | null {
  switch (event.event) {
    case 'create':
    case 'update':
      return {
        did: event.did,
        time_us: timeUs,
        kind: 'commit',
        commit: {
          rev: event.rev,
          operation: event.event,
          collection: event.collection,
          rkey: event.rkey,
          record: lexToJson(event.record) as Record<string, unknown>,
          cid: event.cid.toString(),
        },
      };
    case 'delete':
      return {
        did: event.did,
        time_us: timeUs,
        kind: 'commit',
        commit: { rev: event.rev, operation: 'delete', collection: event.collection, rkey: event.rkey },
      };
    case 'identity':
      return {
        did: event.did,
        time_us: timeUs,
        kind: 'identity',
        identity: { did: event.did, ...(event.handle !== undefined ? { handle: event.handle } : {}), seq: event.seq, time: event.time },
      };
    case 'account':
      return {
        did: event.did,
        time_us: timeUs,
        kind: 'account',
        account: { active: event.active, did: event.did, seq: event.seq, time: event.time, ...(event.status !== undefined ? { status: event.status } : {}) },
      };
    case 'sync':
      return null;
  }
}

function toWebSocketUrl(service: string): string {
  const url = new URL(service);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  return url.toString().replace(/\/$/, '');
}

const subscribeRepos = 'com.atproto.sync.subscribeRepos';

/** A firehose frame body as decoded from CBOR, with `$type` set from the frame header by the subscription. */
interface RepoMessage {
  $type: string;
  [field: string]: unknown;
}

type CommitMessage = Parameters<typeof parseCommitUnauthenticated>[0];
type AccountMessage = Parameters<typeof parseAccount>[0];

function isRepoMessage(value: unknown): value is RepoMessage {
  return typeof value === 'object' && value !== null && typeof (value as { $type?: unknown }).$type === 'string';
}

/**
 * The events (in Jetstream's sense) of one firehose frame. `#identity` is read directly rather than through
 * @atproto/sync, which resolves the DID document and only keeps the handle once it has verified it: Jetstream passes
 * the frame's handle through, and the local network's `.test` handles cannot be verified anyway.
 */
async function parseFrame(message: RepoMessage): Promise<FirehoseEvent[]> {
  switch (message.$type) {
    case `${subscribeRepos}#commit`:
      // Not re-verified against the repo signing key: Jetstream v1 trusts its upstream the same way.
      return parseCommitUnauthenticated(message as unknown as CommitMessage);
    case `${subscribeRepos}#identity`: {
      const { did, handle, seq, time } = message as unknown as { did: FirehoseEvent['did']; handle?: unknown; seq: number; time: string };
      return [{ event: 'identity', did, seq, time, ...(typeof handle === 'string' ? { handle } : {}) }];
    }
    case `${subscribeRepos}#account`: {
      const account = parseAccount(message as unknown as AccountMessage);
      return account ? [account] : [];
    }
    default:
      // #sync (not on the v1 wire) and #info frames.
      return [];
  }
}

/**
 * Subscribes to a PDS firehose from its first event (cursor 0) and serves what it sees as Jetstream on a local
 * WebSocket. `time_us` is the time the translator handled the event (strictly increasing), as in Jetstream.
 */
export async function startFirehoseToJetstream(options: FirehoseToJetstreamOptions): Promise<FirehoseToJetstream> {
  const server: JetstreamReplayServer = await startJetstreamReplayServer({
    events: [],
    port: options.port,
    host: options.host,
    // A live source: without a cursor a client gets only what happens after it connects, as with Jetstream.
    noCursor: 'live',
  });

  const errors: Error[] = [];
  let lastSeq: number | undefined;
  let lastTimeUs = 0;
  let eventCount = 0;
  let closed = false;
  const seqWaiters = new Set<() => void>();
  const abort = new AbortController();

  const report = (error: unknown): void => {
    if (closed) return;
    const wrapped = error instanceof Error ? error : new FirehoseToJetstreamError(String(error));
    if (options.onError) options.onError(wrapped);
    else errors.push(wrapped);
  };

  const nextTimeUs = (): number => {
    lastTimeUs = Math.max(Date.now() * 1000, lastTimeUs + 1);
    return lastTimeUs;
  };

  const subscription = new Subscription<RepoMessage>({
    service: toWebSocketUrl(options.service),
    method: subscribeRepos,
    signal: abort.signal,
    // @NOTE 0 replays the PDS's whole history, so nothing written before the translator connected is missed;
    // after a reconnect it resumes after the last frame handled.
    getParams: () => ({ cursor: lastSeq ?? 0 }),
    validate: (value) => (isRepoMessage(value) ? value : undefined),
    onReconnectError: (error) => report(error),
  });

  const handle = async (message: RepoMessage): Promise<void> => {
    try {
      for (const event of await parseFrame(message)) {
        const jetstreamEvent = toJetstreamEvent(event, nextTimeUs());
        if (!jetstreamEvent) continue;
        server.push(jetstreamEvent);
        eventCount += 1;
      }
    } catch (error) {
      report(new FirehoseToJetstreamError(`cannot translate ${message.$type} seq ${String(message.seq)}`, { cause: error }));
    }
    if (typeof message.seq === 'number') {
      lastSeq = message.seq;
      for (const wake of seqWaiters) wake();
    }
  };

  const running = (async () => {
    while (!closed) {
      try {
        for await (const message of subscription) await handle(message);
      } catch (error) {
        if (closed) return;
        report(error);
        await sleep(200);
      }
    }
  })();

  return {
    url: server.url,
    subscribeUrl: server.subscribeUrl,
    get lastSeq() {
      return lastSeq;
    },
    get eventCount() {
      return eventCount;
    },
    errors,
    waitForSeq: async (seq: number, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while ((lastSeq ?? -1) < seq) {
        const left = deadline - Date.now();
        if (closed) throw new FirehoseToJetstreamError('translator closed');
        if (left <= 0) throw new FirehoseToJetstreamError(`firehose seq ${seq} not translated within ${timeoutMs} ms (last: ${lastSeq})`);
        let wake!: () => void;
        const woken = new Promise<void>((resolve) => (wake = resolve));
        seqWaiters.add(wake);
        try {
          await Promise.race([woken, sleep(Math.min(left, 100), undefined, { ref: false })]);
        } finally {
          seqWaiters.delete(wake);
        }
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      abort.abort();
      await running;
      await server.close();
    },
  };
}
