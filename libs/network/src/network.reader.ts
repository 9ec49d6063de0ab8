import { AtpAgent, XRPCError } from '@atproto/api';
import { DidResolver, getPds } from '@atproto/identity';
import { LRUCache } from 'lru-cache';
import pLimit, { type LimitFunction } from 'p-limit';

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
  /** Tests against a local network only: resolve DIDs with the platform `fetch` (http, local hosts). */
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

/** PDS answers meaning "this repository is not there to read", not "try again". */
const GONE = new Set(['RepoNotFound', 'RepoTakendown', 'RepoSuspended', 'RepoDeactivated', 'AccountNotFound']);
/** Records per listRecords page (the lexicon's maximum). */
const PAGE = 100;
/** Followers per getFollowers page (the lexicon's maximum). */
const FOLLOWERS_PAGE = 100;

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
  private readonly pdsByDid = new LRUCache<string, string>({ max: 100_000 });
  private readonly appview: AtpAgent;
  /** Requests sent (each try counts), for throughput figures. */
  requests = 0;

  constructor(private readonly options: NetworkReaderOptions) {
    this.dids = new DidResolver({
      plcUrl: options.plcUrl,
      timeout: options.timeoutMs ?? 10_000,
      ...(options.allowInsecureFetch ? { fetch: globalThis.fetch } : {}),
    });
    this.total = pLimit(options.concurrency);
    this.appview = new AtpAgent({ service: options.appviewUrl });
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
   * the page that reaches a record for which `keepGoing` is false.
   */
  async *listRecords(did: string, collection: string, keepGoing: (record: RepoRecord) => boolean = () => true): AsyncGenerator<RepoRecord[]> {
    const host = this.host(await this.pdsOf(did));
    let cursor: string | undefined;
    for (;;) {
      const { data } = await this.call(host, () => host.agent.com.atproto.repo.listRecords({ repo: did, collection, limit: PAGE, cursor }));
      const records = data.records.map((record) => ({
        uri: record.uri,
        cid: record.cid,
        rkey: record.uri.slice(record.uri.lastIndexOf('/') + 1),
        value: record.value,
      }));
      yield records;
      if (!data.cursor || records.length === 0 || !records.every(keepGoing)) return;
      cursor = data.cursor;
    }
  }

  /** One record, or undefined when the repository does not hold it. */
  async getRecord(did: string, collection: string, rkey: string): Promise<RepoRecord | undefined> {
    const host = this.host(await this.pdsOf(did));
    try {
      const { data } = await this.call(host, () => host.agent.com.atproto.repo.getRecord({ repo: did, collection, rkey }));
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
    let cursor: string | undefined;
    for (;;) {
      const limit = Math.min(FOLLOWERS_PAGE, cap - dids.length);
      const { data } = await this.call(host, () => this.appview.app.bsky.graph.getFollowers({ actor: seed, limit, cursor }));
      dids.push(...data.followers.map((follower) => follower.did));
      if (!data.cursor || data.followers.length === 0) return { dids, capped: false };
      if (dids.length >= cap) return { dids: dids.slice(0, cap), capped: true };
      cursor = data.cursor;
    }
  }

  private host(url: string): { limit: LimitFunction; agent: AtpAgent } {
    const origin = new URL(url).origin;
    let host = this.hosts.get(origin);
    if (!host) this.hosts.set(origin, (host = { limit: pLimit(this.options.perHostConcurrency), agent: new AtpAgent({ service: origin }) }));
    return host;
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

/** Network errors, timeouts, 429 and 5xx are worth another try; a 4xx answer is not. */
function retryable(error: unknown): boolean {
  if (error instanceof XRPCError) return error.status === 1 || error.status === 429 || error.status >= 500;
  // DID resolution (fetch) fails with plain errors: a timeout or a refused connection.
  return error instanceof Error && !(error instanceof RepoUnavailableError);
}
