import { DidResolver, getHandle, HandleResolver, type DidDocument } from '@atproto/identity';
import { LRUCache } from 'lru-cache';
import pLimit from 'p-limit';

/** Handle → DID, as a domain answers it (DNS `_atproto` TXT record, or HTTPS well-known). */
interface HandleLookup {
  resolve(handle: string): Promise<string | undefined>;
}

/** DID → DID document (PLC directory, or did:web). */
interface DidLookup {
  resolve(did: string): Promise<DidDocument | null>;
}

export interface VerifiedHandleResolverOptions {
  handles: HandleLookup;
  dids: DidLookup;
  /** A verified handle is re-resolved after this long (its old answer serves meanwhile). */
  verifiedTtlMs: number;
  /** A handle that did not verify is tried again after this long. */
  unverifiedTtlMs: number;
  /** Handles remembered at most (least recently used first out). */
  maxHandles: number;
  /** Resolutions in flight at most. */
  concurrency: number;
  /** Told when a resolution failed with an error (the previous answer, if any, is kept). */
  onError?: (handle: string, err: unknown) => void;
}

/** What is remembered per handle: the DID it verified as, or none. */
interface Verification {
  did: string | undefined;
}

/**
 * Curated handles → DIDs, each verified in both directions: the handle's domain names the DID,
 * and the DID document names the handle back (its `alsoKnownAs` handle). Answers are cached and
 * re-resolved after their TTL.
 *
 * @NOTE The firehose's identity events are what a DID says about itself: anyone can claim any
 * handle there, so they never decide membership. The domain is the authority for a handle; the
 * DID document's claim back keeps a domain from naming an account that never chose the handle.
 *
 * @NOTE Re-resolution is stale-while-revalidate (lru-cache `fetch` with `allowStale`): after its
 * TTL a handle's previous answer is still returned once while a new resolution runs, so the
 * membership queries that ask every few seconds re-resolve each handle periodically without a
 * timer of their own, and no request waits for it. An error (a resolver that threw) keeps the
 * previous answer; a clean "does not verify" replaces it, so a handle that moved stops counting.
 */
export class VerifiedHandleResolver {
  private readonly cache: LRUCache<string, Verification>;
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(private readonly options: VerifiedHandleResolverOptions) {
    this.limit = pLimit(options.concurrency);
    this.cache = new LRUCache<string, Verification>({
      max: options.maxHandles,
      ttl: options.verifiedTtlMs,
      allowStale: true,
      allowStaleOnFetchRejection: true,
      noDeleteOnFetchRejection: true,
      fetchMethod: async (handle, _stale, { options: entry }) => {
        try {
          const did = await this.limit(() => this.verify(handle));
          if (!did) entry.ttl = this.options.unverifiedTtlMs;
          return { did };
        } catch (err) {
          this.options.onError?.(handle, err);
          throw err;
        }
      },
    });
  }

  /** The DIDs of those `handles` that verify now (lower-case handles, as curation stores them). */
  async resolve(handles: readonly string[]): Promise<string[]> {
    const answers = await Promise.all(
      handles.map((handle) =>
        this.cache.fetch(handle).then(
          (answer) => answer?.did,
          () => undefined,
        ),
      ),
    );
    return [...new Set(answers.filter((did): did is string => did !== undefined))];
  }

  /** Forget every answer (tests; a curator who wants a handle checked again now). */
  clear(): void {
    this.cache.clear();
  }

  private async verify(handle: string): Promise<string | undefined> {
    const did = await this.options.handles.resolve(handle);
    if (!did) return undefined;
    const doc = await this.options.dids.resolve(did);
    if (!doc) return undefined;
    return getHandle(doc)?.toLowerCase() === handle.toLowerCase() ? did : undefined;
  }
}

interface HandleResolutionOptions {
  /** PLC directory, e.g. `https://plc.directory`. */
  plcUrl: string;
  /** Per-request timeout of one resolution. */
  timeoutMs: number;
  /**
   * Tests only: resolve with the platform `fetch` instead of @atproto/identity's SSRF-protected
   * default (which refuses `http:`, custom ports and local hosts). Curated handles name domains
   * anyone can point anywhere, so production keeps the protection.
   */
  allowInsecureFetch?: boolean;
  /**
   * Tests only (needs `allowInsecureFetch`): handles resolve by asking
   * `<origin>/.well-known/atproto-did?handle=<handle>` instead of DNS and `https://<handle>/…`,
   * which a local network cannot answer.
   */
  testHandleOrigin?: string;
}

/** The handle and DID lookups of @atproto/identity, configured for production or a local test network. */
export function createHandleResolution(options: HandleResolutionOptions): { handles: HandleLookup; dids: DidLookup } {
  if (options.testHandleOrigin !== undefined && !options.allowInsecureFetch) {
    throw new RangeError('createHandleResolution: a test handle origin needs allowInsecureFetch');
  }
  // @NOTE Leaving `fetch` undefined is what selects identity 0.5's SSRF-protected default.
  const fetch = options.allowInsecureFetch ? { fetch: globalThis.fetch } : {};
  const dids = new DidResolver({ plcUrl: options.plcUrl, timeout: options.timeoutMs, ...fetch });
  const origin = options.testHandleOrigin;
  if (origin === undefined) return { handles: new HandleResolver({ timeout: options.timeoutMs, ...fetch }), dids };
  const local = new HandleResolver({
    timeout: options.timeoutMs,
    fetch: (input: string | URL | Request, init?: RequestInit) => {
      const handle = new URL(input instanceof Request ? input.url : input).hostname;
      return globalThis.fetch(new URL(`/.well-known/atproto-did?handle=${encodeURIComponent(handle)}`, origin), init);
    },
  });
  return { handles: { resolve: (handle) => local.resolveHttp(handle) }, dids };
}
