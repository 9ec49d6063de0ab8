import { DidResolver, getKey, IdResolver, type CacheResult, type DidCache, type DidDocument, type DidResolverOpts } from '@atproto/identity';
import { LRUCache } from 'lru-cache';
import { DidDocumentTooLargeError } from './auth.errors.js';
import { ResolutionLimiter } from './resolution.limiter.js';

export interface IdResolverFactoryOptions {
  /** PLC directory, e.g. `https://plc.directory`. */
  plcUrl: string;
  /** After this age a cached DID document is re-fetched on its next use. */
  didCacheTtlMs: number;
  /** After this age a cached DID document is no longer used at all. */
  didCacheMaxTtlMs: number;
  /** Per-request timeout of a DID resolution. */
  timeoutMs: number;
  /** DID documents kept at most. Default 20 000. */
  maxCachedDocuments?: number;
  /** Bytes of DID documents (as JSON) kept at most. Default 16 MiB. */
  maxCachedBytes?: number;
  /** A DID document larger than this (as JSON) is refused, never kept. Default 64 KiB. */
  maxDocumentBytes?: number;
  /** Outbound resolutions running at once. Default 16. */
  maxConcurrentResolutions?: number;
  /** Outbound resolutions waiting for a slot; beyond, they fail at once. Default 256. */
  maxQueuedResolutions?: number;
  /** Outbound resolutions of one DID running or waiting; beyond, they fail at once. Default 2. */
  maxResolutionsPerIssuer?: number;
  /**
   * Tests only: resolve with the platform `fetch` instead of @atproto/identity's SSRF-protected
   * default, which refuses `http:`, custom ports, IP-literal and private hosts (so a PLC or
   * did:web served from 127.0.0.1 cannot be reached). Never enable it in production: DIDs come
   * from request tokens, so a did:web would otherwise let any caller make us fetch internal URLs.
   */
  allowInsecureFetch?: boolean;
  /** Told when refreshing a stale DID document failed and the stale copy was kept. */
  onRefreshError?: (did: string, err: unknown) => void;
}

interface CachedDocument {
  doc: DidDocument;
  updatedAt: number;
  bytes: number;
}

/** Size of a DID document as the JSON it came as (near enough: the parsed form is re-serialized). */
export function didDocumentBytes(doc: unknown): number {
  return Buffer.byteLength(JSON.stringify(doc) ?? '', 'utf8');
}

/** Whether `doc` names an `#atproto` key that @atproto/identity can read. */
function hasUsableAtprotoKey(doc: DidDocument): boolean {
  try {
    return getKey(doc) !== undefined;
  } catch {
    return false;
  }
}

/**
 * The DID document cache behind the resolver: an LRU bounded in entries and in bytes, with
 * @atproto/identity's MemoryCache semantics (stale after `staleTtlMs`, unused after `maxTtlMs`,
 * both read from `Date.now()`).
 *
 * @NOTE Only documents with a usable `#atproto` key are kept: the verifier refuses the others
 * anyway, and keeping them would let tokens naming fresh issuers fill the cache for nothing.
 * A refreshed document without a usable key drops the cached one.
 *
 * @NOTE @atproto/identity's BaseResolver.resolve awaits `cache.refreshCache` for a stale entry
 * and then returns the *old* document anyway (base-resolver.js, `if (fromCache?.stale)`), so a
 * throwing refresh only turns a PLC hiccup into a failed request. Swallowing it keeps serving the
 * cached document until `maxTTL`, which is what the cache already promises. A forced refresh
 * (after a signature mismatch) does not go through here and still surfaces its errors.
 */
export class BoundedDidCache implements DidCache {
  private readonly entries: LRUCache<string, CachedDocument>;

  constructor(
    private readonly staleTtlMs: number,
    private readonly maxTtlMs: number,
    bounds: { maxEntries: number; maxBytes: number },
    private readonly onRefreshError?: (did: string, err: unknown) => void,
  ) {
    this.entries = new LRUCache<string, CachedDocument>({
      max: bounds.maxEntries,
      maxSize: bounds.maxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
    });
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.entries.calculatedSize;
  }

  async cacheDid(did: string, doc: DidDocument): Promise<void> {
    if (!hasUsableAtprotoKey(doc)) {
      this.entries.delete(did);
      return;
    }
    // A document larger than the whole cache is not kept (lru-cache would refuse it too).
    this.entries.set(did, { doc, updatedAt: Date.now(), bytes: didDocumentBytes(doc) });
  }

  async checkCache(did: string): Promise<CacheResult | null> {
    const entry = this.entries.get(did);
    if (entry === undefined) return null;
    const now = Date.now();
    return {
      did,
      doc: entry.doc,
      updatedAt: entry.updatedAt,
      stale: now > entry.updatedAt + this.staleTtlMs,
      expired: now > entry.updatedAt + this.maxTtlMs,
    };
  }

  async refreshCache(did: string, getDoc: () => Promise<DidDocument | null>): Promise<void> {
    try {
      const doc = await getDoc();
      if (doc) await this.cacheDid(did, doc);
    } catch (err) {
      this.onRefreshError?.(did, err);
    }
  }

  async clearEntry(did: string): Promise<void> {
    this.entries.delete(did);
  }

  async clear(): Promise<void> {
    this.entries.clear();
  }
}

/**
 * A DidResolver whose outbound resolutions (never cache hits) go through a ResolutionLimiter and
 * whose documents are refused above `maxDocumentBytes`.
 *
 * @NOTE `resolveNoCheck` is the one method every fetch of a document goes through (plain, forced
 * and stale-refresh alike), after the cache. The SSRF-protected default fetch already stops
 * reading a body at 512 kB; what is refused here is never validated or kept.
 */
export class BoundedDidResolver extends DidResolver {
  constructor(
    opts: DidResolverOpts,
    private readonly limiter: ResolutionLimiter,
    private readonly maxDocumentBytes: number,
  ) {
    super(opts);
  }

  override async resolveNoCheck(did: string): Promise<unknown> {
    return this.limiter.run(did, async () => {
      const doc = await super.resolveNoCheck(did);
      if (doc !== null && doc !== undefined) {
        const bytes = didDocumentBytes(doc);
        if (bytes > this.maxDocumentBytes) throw new DidDocumentTooLargeError(did, bytes, this.maxDocumentBytes);
      }
      return doc;
    });
  }
}

/**
 * `fetch` that stops reading a response body beyond `maxBytes` (by its Content-Length when it
 * has one, else while reading) and fails with DidDocumentTooLargeError, naming the URL.
 */
export function sizeCappedFetch(inner: typeof globalThis.fetch, maxBytes: number): typeof globalThis.fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    if (!response.ok || response.body === null) return response;
    const source = input instanceof Request ? input.url : String(input);
    const declared = Number(response.headers.get('content-length'));
    if (declared > maxBytes) {
      await response.body.cancel();
      throw new DidDocumentTooLargeError(source, declared, maxBytes);
    }
    const chunks: Uint8Array[] = [];
    let received = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > maxBytes) {
        await reader.cancel();
        throw new DidDocumentTooLargeError(source, received, maxBytes);
      }
      chunks.push(value);
    }
    return new Response(Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

export function createIdResolver(options: IdResolverFactoryOptions): IdResolver {
  if (!(options.didCacheTtlMs > 0) || !(options.didCacheMaxTtlMs >= options.didCacheTtlMs)) {
    throw new RangeError('createIdResolver: need 0 < didCacheTtlMs <= didCacheMaxTtlMs');
  }
  if (!(options.timeoutMs > 0)) {
    throw new RangeError('createIdResolver: timeoutMs must be positive');
  }
  const didCache = new BoundedDidCache(
    options.didCacheTtlMs,
    options.didCacheMaxTtlMs,
    { maxEntries: options.maxCachedDocuments ?? 20_000, maxBytes: options.maxCachedBytes ?? 16 * 1024 * 1024 },
    options.onRefreshError,
  );
  const limiter = new ResolutionLimiter({
    maxConcurrent: options.maxConcurrentResolutions ?? 16,
    maxQueued: options.maxQueuedResolutions ?? 256,
    maxPerIssuer: options.maxResolutionsPerIssuer ?? 2,
  });
  const maxDocumentBytes = options.maxDocumentBytes ?? 64 * 1024;
  const resolverOptions: DidResolverOpts = {
    plcUrl: options.plcUrl,
    timeout: options.timeoutMs,
    didCache,
    // @NOTE Leaving `fetch` undefined is what selects identity 0.5's SSRF-protected default
    // (did-resolver.js: `opts.fetch ?? createDefaultFetch()`), which the package does not export:
    // it stops reading at 512 kB, and BoundedDidResolver refuses what parsed above the limit. A
    // fetch of our own stops reading at the limit itself.
    ...(options.allowInsecureFetch ? { fetch: sizeCappedFetch(globalThis.fetch, maxDocumentBytes) } : {}),
  };
  const idResolver = new IdResolver(resolverOptions);
  // @NOTE IdResolver builds its DidResolver itself and takes no subclass: the bounded one replaces
  // it (`did` is a public field), sharing the same cache and fetch options.
  idResolver.did = new BoundedDidResolver(resolverOptions, limiter, maxDocumentBytes);
  return idResolver;
}
