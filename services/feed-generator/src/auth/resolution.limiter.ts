import pLimit, { type LimitFunction } from 'p-limit';
import { ResolutionRefusedError } from './auth.errors.js';

export interface ResolutionLimiterOptions {
  /** Resolutions running at once, in all. */
  maxConcurrent: number;
  /** Resolutions waiting for a slot; one more is refused at once. */
  maxQueued: number;
  /** Resolutions of one issuer running or waiting; one more is refused at once. */
  maxPerIssuer: number;
}

/**
 * Bounds the outbound DID resolutions: at most `maxConcurrent` at a time, at most `maxQueued`
 * waiting, at most `maxPerIssuer` for one DID. Work beyond those fails at once with
 * ResolutionRefusedError instead of waiting, so a flood of tokens naming fresh issuers costs a
 * bounded number of sockets and a bounded queue, and an answer comes back in time either way.
 *
 * @NOTE The per-issuer tally holds only issuers with work running or waiting (an entry goes when
 * its count returns to 0), so its size is bounded by `maxConcurrent + maxQueued`.
 */
export class ResolutionLimiter {
  private readonly limit: LimitFunction;
  private readonly perIssuer = new Map<string, number>();

  constructor(private readonly options: ResolutionLimiterOptions) {
    for (const [name, value] of Object.entries(options)) {
      if (!(Number.isInteger(value) && value >= (name === 'maxQueued' ? 0 : 1))) {
        throw new RangeError(`ResolutionLimiter: ${name} must be a positive integer, got ${value}`);
      }
    }
    this.limit = pLimit(options.maxConcurrent);
  }

  /** Resolutions running and waiting now. */
  get pending(): { active: number; queued: number } {
    return { active: this.limit.activeCount, queued: this.limit.pendingCount };
  }

  async run<T>(did: string, resolve: () => Promise<T>): Promise<T> {
    const running = this.perIssuer.get(did) ?? 0;
    if (running >= this.options.maxPerIssuer) throw new ResolutionRefusedError(did, 'issuer');
    if (this.limit.activeCount >= this.options.maxConcurrent && this.limit.pendingCount >= this.options.maxQueued) {
      throw new ResolutionRefusedError(did, 'queue');
    }
    this.perIssuer.set(did, running + 1);
    try {
      return await this.limit(resolve);
    } finally {
      const left = (this.perIssuer.get(did) ?? 1) - 1;
      if (left === 0) this.perIssuer.delete(did);
      else this.perIssuer.set(did, left);
    }
  }
}
