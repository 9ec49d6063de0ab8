import { IdResolver, MemoryCache, type DidDocument } from '@atproto/identity';

export interface IdResolverFactoryOptions {
  /** PLC directory, e.g. `https://plc.directory`. */
  plcUrl: string;
  /** After this age a cached DID document is re-fetched on its next use. */
  didCacheTtlMs: number;
  /** After this age a cached DID document is no longer used at all. */
  didCacheMaxTtlMs: number;
  /** Per-request timeout of a DID resolution. */
  timeoutMs: number;
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

/**
 * A MemoryCache that keeps the stale document when a refresh fails.
 *
 * @NOTE @atproto/identity's BaseResolver.resolve awaits `cache.refreshCache` for a stale entry
 * and then returns the *old* document anyway (base-resolver.js, `if (fromCache?.stale)`), so a
 * throwing refresh only turns a PLC hiccup into a failed request. Swallowing it keeps serving the
 * cached document until `maxTTL`, which is what the cache already promises. A forced refresh
 * (after a signature mismatch) does not go through here and still surfaces its errors.
 */
export class ResilientMemoryCache extends MemoryCache {
  constructor(
    staleTtlMs: number,
    maxTtlMs: number,
    private readonly onRefreshError?: (did: string, err: unknown) => void,
  ) {
    super(staleTtlMs, maxTtlMs);
  }

  override async refreshCache(did: string, getDoc: () => Promise<DidDocument | null>): Promise<void> {
    try {
      await super.refreshCache(did, getDoc);
    } catch (err) {
      this.onRefreshError?.(did, err);
    }
  }
}

export function createIdResolver(options: IdResolverFactoryOptions): IdResolver {
  if (!(options.didCacheTtlMs > 0) || !(options.didCacheMaxTtlMs >= options.didCacheTtlMs)) {
    throw new RangeError('createIdResolver: need 0 < didCacheTtlMs <= didCacheMaxTtlMs');
  }
  if (!(options.timeoutMs > 0)) {
    throw new RangeError('createIdResolver: timeoutMs must be positive');
  }
  return new IdResolver({
    plcUrl: options.plcUrl,
    timeout: options.timeoutMs,
    didCache: new ResilientMemoryCache(options.didCacheTtlMs, options.didCacheMaxTtlMs, options.onRefreshError),
    // @NOTE Leaving `fetch` undefined is what selects identity 0.5's SSRF-protected default
    // (did-resolver.js: `opts.fetch ?? createDefaultFetch()`).
    ...(options.allowInsecureFetch ? { fetch: globalThis.fetch } : {}),
  });
}
