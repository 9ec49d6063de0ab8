import { RateLimitExceededError, ViewerRateLimiter } from './viewer-rate-limiter.js';

describe('ViewerRateLimiter', () => {
  let now = 0;
  const limiter = (options: { perMinute: number; burst: number; maxViewers?: number }) =>
    new ViewerRateLimiter({ maxViewers: 10, ...options, now: () => now });
  const refused = (take: () => void): RateLimitExceededError | undefined => {
    try {
      take();
      return undefined;
    } catch (error) {
      if (error instanceof RateLimitExceededError) return error;
      throw error;
    }
  };
  beforeEach(() => (now = 1_000_000));

  it('lets a viewer spend its burst, then refuses it until a token has refilled, and says when', () => {
    const limits = limiter({ perMinute: 6, burst: 3 });
    for (let i = 0; i < 3; i += 1) expect(refused(() => limits.take('did:plc:a'))).toBeUndefined();
    expect(refused(() => limits.take('did:plc:a'))?.retryAfterSeconds).toBe(10);
    // Other viewers have buckets of their own.
    expect(refused(() => limits.take('did:plc:b'))).toBeUndefined();
    now += 9_000;
    expect(refused(() => limits.take('did:plc:a'))?.retryAfterSeconds).toBe(1);
    now += 1_000;
    expect(refused(() => limits.take('did:plc:a'))).toBeUndefined();
    expect(refused(() => limits.take('did:plc:a'))).toBeInstanceOf(RateLimitExceededError);
  });

  it('refills no further than the burst after a long pause', () => {
    const limits = limiter({ perMinute: 60, burst: 2 });
    limits.take('did:plc:a');
    now += 3_600_000;
    expect(refused(() => limits.take('did:plc:a'))).toBeUndefined();
    expect(refused(() => limits.take('did:plc:a'))).toBeUndefined();
    expect(refused(() => limits.take('did:plc:a'))).toBeInstanceOf(RateLimitExceededError);
  });
});
