import { LRUCache } from 'lru-cache';

/** A viewer made more requests than its rate allows; answered as XRPC `RateLimitExceeded` (429). */
export class RateLimitExceededError extends Error {
  override name = 'RateLimitExceededError';
  constructor(readonly retryAfterSeconds: number) {
    super(`Rate limit exceeded; retry in ${retryAfterSeconds} s`);
  }
}

export interface ViewerRateLimiterOptions {
  /** Requests a viewer regains per minute. */
  perMinute: number;
  /** Requests a viewer may make at once after a pause. */
  burst: number;
  /** Viewers whose buckets are held; the least recently seen beyond it are forgotten. */
  maxViewers: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

/**
 * A token bucket per viewer DID. The state is a bounded LRU: a bucket left alone until it is
 * full again expires (forgetting it changes nothing), and beyond `maxViewers` the least recently
 * seen go first, so memory stays bounded however many DIDs call.
 */
export class ViewerRateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly perMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ViewerRateLimiterOptions) {
    this.perMs = options.perMinute / 60_000;
    this.now = options.now ?? Date.now;
    this.buckets = new LRUCache<string, Bucket>({
      max: options.maxViewers,
      ttl: Math.ceil(options.burst / this.perMs),
      perf: { now: () => this.now() },
    });
  }

  /** Takes one request from `viewer`'s bucket, or throws `RateLimitExceededError` when it is empty. */
  take(viewer: string): void {
    const now = this.now();
    const bucket = this.buckets.get(viewer);
    const tokens = bucket ? Math.min(this.options.burst, bucket.tokens + (now - bucket.atMs) * this.perMs) : this.options.burst;
    if (tokens < 1) {
      this.buckets.set(viewer, { tokens, atMs: now });
      throw new RateLimitExceededError(Math.ceil((1 - tokens) / this.perMs / 1000));
    }
    this.buckets.set(viewer, { tokens: tokens - 1, atMs: now });
  }
}
