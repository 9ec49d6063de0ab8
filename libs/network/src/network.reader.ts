import { FetchRequestError, safeFetchWrap } from '@atproto-labs/fetch-node';
import { AtpAgent, XRPCError } from '@atproto/api';
import { DidResolver, getPds } from '@atproto/identity';
import { LRUCache } from 'lru-cache';
import { types } from 'node:util';
import pLimit, { type LimitFunction } from 'p-limit';
import { z } from 'zod';

export interface NetworkReaderOptions {
  /** PLC directory for `did:plc` documents. */
  plcUrl: string;
  /** AppView for `app.bsky.graph.getFollowers`. */
  appviewUrl: string;
  /** Requests in flight at once, all hosts together, and per host. */
  concurrency: number;
  perHostConcurrency: number;
  /** Tries of one request that fails with a network error, 429 or 5xx. */
  attempts: number;
  /** Wait before the second try; it doubles with each further try (with jitter). */
  retryBaseMs: number;
  /** Per-request timeout of a DID resolution. */
  timeoutMs?: number;
  /** Time one PDS or AppView request may take, its whole answer included (default `REQUEST_TIMEOUT_MS`). */
  requestTimeoutMs?: number;
  /** Bytes one PDS or AppView answer may have (default `MAX_RESPONSE_BYTES`). */
  maxResponseBytes?: number;
  /**
   * Tests against a local network only: resolve DIDs and read hosts with the platform `fetch`
   * (http, local hosts). Otherwise a DID document cannot send a request to a private address.
   */
  allowInsecureFetch?: boolean;
}

/** A record as a repository lists it. */
export interface RepoRecord {
  uri: string;
  cid: string;
  rkey: string;
  value: Record<string, unknown>;
}

/** An account whose repository cannot be read: no DID document, no PDS, or the PDS says it is gone. */
export class RepoUnavailableError extends Error {
  override name = 'RepoUnavailableError';
}

/** A request that still failed after every try (network errors, 429 and 5xx are tried again). */
export class NetworkReadError extends Error {
  override name = 'NetworkReadError';
}

/** An answer larger than `maxResponseBytes`: not read further, and not asked for again. */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError';
}

/** An HTTP answer that is not a success, from a host read without an XRPC client (the PLC directory's audit log). */
export class HttpStatusError extends Error {
  override name = 'HttpStatusError';

  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`${url}: HTTP ${status}`);
  }
}

/**
 * What `createdAtOf` reads of a PLC audit log: the time the directory stamped on each operation.
 * The form alone lets through times no clock reads (an offset of `+99:99`) and times before 1970,
 * which the store cannot keep (`UInt64` µs): a log with one is not read.
 */
const auditLog = z
  .array(z.object({ createdAt: z.string().datetime({ offset: true }).refine((time) => Date.parse(time) >= 0, 'a time before 1970, or none') }).passthrough())
  .min(1);

/** What `listRecords` reads of one collection. */
export interface ListRecordsOptions {
  /** Stop after the page that reaches a record for which this is false. */
  keepGoing?: (record: RepoRecord) => boolean;
  /** Records read at most; never more than `MAX_RECORDS`. */
  maxRecords?: number;
}

/** PDS answers meaning "this repository is not there to read", not "try again". */
const GONE = new Set(['RepoNotFound', 'RepoTakendown', 'RepoSuspended', 'RepoDeactivated', 'AccountNotFound']);
/** Records per listRecords page (the lexicon's maximum). */
const PAGE = 100;
/** Followers per getFollowers page (the lexicon's maximum). */
const FOLLOWERS_PAGE = 100;
/**
 * Records of one collection of one repository read at most, whatever the caller asks: more than a
 * list, a follow scan or a window of history needs, and a bound on what a PDS that pages forever
 * (or an account with millions of records) costs.
 */
const MAX_RECORDS = 100_000;
/**
 * Time one request may take, the whole answer included: a PDS that answers a byte at a time gives
 * up its place after this (a page of records normally takes well under a second).
 */
const REQUEST_TIMEOUT_MS = 30_000;
/** How long a DID's PDS is trusted before its DID document is read again (an account may move). */
const PDS_TTL_MS = 3_600_000;
/**
 * Characters of a cursor a host may hand back: a repository's cursor is a record key (at most 512),
 * an AppView's a few dozen. A longer one ends the listing: each is kept to tell a loop.
 */
const MAX_CURSOR_LENGTH = 1_024;
/** Bytes one answer may have: a page of 100 records is tens of kilobytes, this is a hundred times more. */
const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads the AT Protocol network for backfills: repositories on their own PDS (found through the
 * `#atproto_pds` service of the DID document) and followers on an AppView, with `@atproto/api`
 * and `@atproto/identity`. Every request is bounded twice, per host and in total, and tried
 * again with exponential backoff when the network or the server failed.
 *
 * @NOTE A host slot is taken before a total slot, so requests queued behind a slow host never
 * hold total slots that other hosts could use.
 */
export class NetworkReader {
  private readonly dids: DidResolver;
  private readonly total: LimitFunction;
  private readonly hosts = new LRUCache<string, { limit: LimitFunction; agent: AtpAgent }>({ max: 10_000 });
  private readonly pdsByDid = new LRUCache<string, string>({ max: 100_000, ttl: PDS_TTL_MS });
  private readonly appview: AtpAgent;
  private readonly fetch: typeof globalThis.fetch;
  /** Requests sent (each try counts), for throughput figures. */
  requests = 0;

  constructor(private readonly options: NetworkReaderOptions) {
    this.dids = new DidResolver({
      plcUrl: options.plcUrl,
      timeout: options.timeoutMs ?? 10_000,
      ...(options.allowInsecureFetch ? { fetch: globalThis.fetch } : {}),
    });
    this.total = pLimit(options.concurrency);
    this.fetch = hostFetch({
      timeoutMs: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      maxBytes: options.maxResponseBytes ?? MAX_RESPONSE_BYTES,
      allowInsecure: options.allowInsecureFetch ?? false,
    });
    this.appview = new AtpAgent({ service: options.appviewUrl, fetch: this.fetch });
  }

  /** The PDS endpoint of `did`, from its DID document. */
  async pdsOf(did: string): Promise<string> {
    const known = this.pdsByDid.get(did);
    if (known) return known;
    const document = await this.retrying(() => this.dids.resolve(did));
    const pds = document ? getPds(document) : undefined;
    if (!pds) throw new RepoUnavailableError(`${did}: ${document ? 'no #atproto_pds service in its DID document' : 'DID document not found'}`);
    this.pdsByDid.set(did, pds);
    return pds;
  }

  /**
   * The records of one collection of `did`'s repository, newest first, page by page; stops after
   * the page that reaches a record for which `keepGoing` is false, after `maxRecords` records, and
   * when the PDS hands back a cursor it gave before (it would only go round again).
   */
  async *listRecords(did: string, collection: string, { keepGoing = () => true, maxRecords = MAX_RECORDS }: ListRecordsOptions = {}): AsyncGenerator<RepoRecord[]> {
    const host = this.host(await this.pdsOf(did));
    const seen = new Set<string>();
    let cursor: string | undefined;
    const max = Math.min(maxRecords, MAX_RECORDS);
    for (let read = 0; read < max; ) {
      const limit = Math.min(PAGE, max - read);
      const { data } = await this.repoCall(did, host, () => host.agent.com.atproto.repo.listRecords({ repo: did, collection, limit, cursor }));
      // A PDS may send more than it was asked for: what is beyond `limit` is not read.
      const records = data.records.slice(0, limit).map((record) => ({
        uri: record.uri,
        cid: record.cid,
        rkey: record.uri.slice(record.uri.lastIndexOf('/') + 1),
        value: record.value,
      }));
      read += records.length;
      yield records;
      if (!data.cursor || data.cursor.length > MAX_CURSOR_LENGTH || seen.has(data.cursor) || records.length === 0 || !records.every(keepGoing)) return;
      seen.add(data.cursor);
      cursor = data.cursor;
    }
  }


  /** One record, or undefined when the repository does not hold it. */
  async getRecord(did: string, collection: string, rkey: string): Promise<RepoRecord | undefined> {
    const host = this.host(await this.pdsOf(did));
    try {
      const { data } = await this.repoCall(did, host, () => host.agent.com.atproto.repo.getRecord({ repo: did, collection, rkey }));
      return { uri: data.uri, cid: data.cid ?? '', rkey, value: data.value };
    } catch (error) {
      if (error instanceof XRPCError && error.error === 'RecordNotFound') return undefined;
      throw error;
    }
  }

  /**
   * Followers of `seed` on the AppView, newest first, at most `cap`; `capped` says the AppView
   * had more.
   */
  async followers(seed: string, cap: number): Promise<{ dids: string[]; capped: boolean }> {
    const host = this.host(this.options.appviewUrl);
    const dids: string[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const limit = Math.min(FOLLOWERS_PAGE, cap - dids.length);
      const { data } = await this.call(host, () => this.appview.app.bsky.graph.getFollowers({ actor: seed, limit, cursor }));
      for (const follower of data.followers) dids.push(follower.did);
      if (!data.cursor || data.cursor.length > MAX_CURSOR_LENGTH || seen.has(data.cursor) || data.followers.length === 0) return { dids, capped: false };
      if (dids.length >= cap) return { dids: dids.slice(0, cap), capped: true };
      seen.add(data.cursor);
      cursor = data.cursor;
    }
  }

  /**
   * When `did` was created (unix ms): the time its PLC directory received its first operation.
   * Undefined for a DID of another method, or one the directory does not know.
   *
   * @NOTE The directory stamps each operation as it receives it, so this time, unlike a record's
   * `createdAt`, is not the account's own word: a young account cannot pass for an old one by it.
   */
  async createdAtOf(did: string): Promise<number | undefined> {
    if (!did.startsWith('did:plc:')) return undefined;
    const url = `${this.options.plcUrl.replace(/\/+$/, '')}/${encodeURIComponent(did)}/log/audit`;
    const text = await this.call(this.host(url), async () => {
      const response = await this.fetch(url);
      if (response.ok) return response.text();
      await response.body?.cancel();
      if (response.status === 404 || response.status === 410) return undefined;
      throw new HttpStatusError(response.status, url);
    });
    if (text === undefined) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new NetworkReadError(`${url}: the answer is not JSON`);
    }
    const log = auditLog.safeParse(body);
    if (!log.success) throw new NetworkReadError(`${url}: not a PLC audit log (${log.error.issues[0]?.message ?? 'unreadable'})`);
    // A loop, not `Math.min(...)`: a log of the largest answer allowed has more operations than arguments fit on the stack.
    let earliest = Number.POSITIVE_INFINITY;
    for (const operation of log.data) earliest = Math.min(earliest, Date.parse(operation.createdAt));
    return earliest;
  }

  private host(url: string): { limit: LimitFunction; agent: AtpAgent } {
    const origin = new URL(url).origin;
    let host = this.hosts.get(origin);
    if (!host) this.hosts.set(origin, (host = { limit: pLimit(this.options.perHostConcurrency), agent: new AtpAgent({ service: origin, fetch: this.fetch }) }));
    return host;
  }

  /** A request to `did`'s repository: a PDS that says it is not there makes the DID document be read again next time (the account may have moved). */
  private async repoCall<T>(did: string, host: { limit: LimitFunction }, request: () => Promise<T>): Promise<T> {
    try {
      return await this.call(host, request);
    } catch (error) {
      if (error instanceof RepoUnavailableError) this.pdsByDid.delete(did);
      throw error;
    }
  }

  private call<T>(host: { limit: LimitFunction }, request: () => Promise<T>): Promise<T> {
    return this.retrying(() => host.limit(() => this.total(request)));
  }

  private async retrying<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.requests += 1;
        return await request();
      } catch (error) {
        if (error instanceof XRPCError && error.error && GONE.has(error.error)) throw new RepoUnavailableError(error.message);
        if (!retryable(error)) throw error;
        if (attempt >= this.options.attempts) {
          throw new NetworkReadError(`failed after ${attempt} tries: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        const wait = this.options.retryBaseMs * 2 ** (attempt - 1);
        await sleep(wait / 2 + Math.random() * (wait / 2));
      }
    }
  }
}

/** Network errors, timeouts, 429 and 5xx are worth another try; a 4xx answer, one too large or a request refused before it was sent is not. */
function retryable(error: unknown): boolean {
  const refused = error instanceof XRPCError ? error.cause : error;
  if (refused instanceof FetchRequestError && refused.statusCode < 500) return false;
  if (error instanceof XRPCError) {
    if (error.cause instanceof ResponseTooLargeError) return false;
    return error.status === 1 || error.status === 429 || error.status >= 500;
  }
  if (error instanceof HttpStatusError) return error.status === 429 || error.status >= 500;
  if (error instanceof ResponseTooLargeError) return false;
  // DID resolution and the audit log (fetch) fail with plain errors: a timeout or a refused
  // connection. `fetch` makes them in Node's own realm, which a test sandbox's `Error` is not.
  return (types.isNativeError(error) || error instanceof Error) && !(error instanceof RepoUnavailableError);
}

/**
 * The `fetch` of the hosts a backfill reads (PDSes, the AppView, the PLC directory's audit log),
 * bounded as `boundedFetch` is.
 *
 * @NOTE A PDS address comes from a DID document anyone writes: unless `allowInsecure` (tests on a
 * local network), every request, and every redirect it follows, is refused a private or loopback
 * address and plain http (@atproto-labs/fetch-node, as @atproto/identity resolves DIDs); a custom
 * port is allowed.
 */
export function hostFetch({ timeoutMs, maxBytes, allowInsecure }: { timeoutMs: number; maxBytes: number; allowInsecure: boolean }): typeof globalThis.fetch {
  const bounded = boundedFetch(timeoutMs, maxBytes);
  if (allowInsecure) return bounded;
  return safeFetchWrap<unknown>({ fetch: bounded, allowImplicitRedirect: true, allowCustomPort: true, timeout: timeoutMs, responseMaxSize: maxBytes });
}

/**
 * `fetch` bounded in time (`AbortSignal.timeout`, which also ends the reading of the body) and in
 * the size of the answer: what a host we do not run may send is at most `maxBytes`, by its
 * `content-length` or, when it does not say or says wrong, by what it sends.
 */
export function boundedFetch(timeoutMs: number, maxBytes: number): typeof globalThis.fetch {
  return async (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout });
    const tooLarge = () => new ResponseTooLargeError(`${response.url}: the answer is larger than ${maxBytes} bytes`);
    if (Number(response.headers.get('content-length')) > maxBytes) {
      await response.body?.cancel();
      throw tooLarge();
    }
    if (!response.body) return response;
    let bytes = 0;
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytes += chunk.byteLength;
          if (bytes > maxBytes) controller.error(tooLarge());
          else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
