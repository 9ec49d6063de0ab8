import { describe, expect, it } from '@jest/globals';
import { VerifiedTokenCache } from './verified-token.cache.js';

const LXM = 'app.bsky.feed.getFeedSkeleton';
const T0 = 1_800_000_000_000;
const KEY = 'did:key:zQ3shOld';

describe('VerifiedTokenCache', () => {
  it('answers until the token exp (inclusive, like verifyJwt) and not a millisecond after', () => {
    const cache = new VerifiedTokenCache(10, 600_000);
    cache.set(LXM, 'jwt', 'did:plc:a', KEY, T0 / 1000 + 60, T0);
    expect(cache.get(LXM, 'jwt', T0 + 60_000)).toBe('did:plc:a');
    expect(cache.get(LXM, 'jwt', T0 + 60_001)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never keeps an entry longer than its max TTL, whatever exp says', () => {
    const cache = new VerifiedTokenCache(10, 1_000);
    cache.set(LXM, 'jwt', 'did:plc:a', KEY, T0 / 1000 + 3600, T0);
    expect(cache.get(LXM, 'jwt', T0 + 1_000)).toBe('did:plc:a');
    expect(cache.get(LXM, 'jwt', T0 + 1_001)).toBeUndefined();
  });

  it('stays within its size by evicting the least recently used token', () => {
    const cache = new VerifiedTokenCache(2, 600_000);
    const exp = T0 / 1000 + 60;
    cache.set(LXM, 'a', 'did:plc:a', KEY, exp, T0);
    cache.set(LXM, 'b', 'did:plc:b', KEY, exp, T0);
    expect(cache.get(LXM, 'a', T0)).toBe('did:plc:a');
    cache.set(LXM, 'c', 'did:plc:c', KEY, exp, T0);
    expect(cache.size).toBe(2);
    expect(cache.get(LXM, 'b', T0)).toBeUndefined();
    expect(cache.get(LXM, 'a', T0)).toBe('did:plc:a');
    expect(cache.get(LXM, 'c', T0)).toBe('did:plc:c');
  });

  it('keys by method as well as token, and stores nothing when disabled or already expired', () => {
    const cache = new VerifiedTokenCache(10, 600_000);
    cache.set(LXM, 'jwt', 'did:plc:a', KEY, T0 / 1000 + 60, T0);
    expect(cache.get('app.bsky.feed.describeFeedGenerator', 'jwt', T0)).toBeUndefined();
    cache.set(LXM, 'old', 'did:plc:a', KEY, T0 / 1000 - 1, T0);
    expect(cache.get(LXM, 'old', T0)).toBeUndefined();
    const disabled = new VerifiedTokenCache(0, 600_000);
    disabled.set(LXM, 'jwt', 'did:plc:a', KEY, T0 / 1000 + 60, T0);
    expect(disabled.get(LXM, 'jwt', T0)).toBeUndefined();
  });

  it('forgets the tokens of an issuer once it is seen with another signing key, and only those', () => {
    const cache = new VerifiedTokenCache(10, 600_000);
    const exp = T0 / 1000 + 60;
    cache.set(LXM, 'a1', 'did:plc:a', KEY, exp, T0);
    cache.set(LXM, 'b1', 'did:plc:b', KEY, exp, T0);
    cache.keepOnlyKey('did:plc:a', KEY);
    expect(cache.get(LXM, 'a1', T0)).toBe('did:plc:a');
    expect(cache.get(LXM, 'b1', T0)).toBe('did:plc:b');
    cache.set(LXM, 'a2', 'did:plc:a', 'did:key:zQ3shNew', exp, T0);
    cache.keepOnlyKey('did:plc:a', 'did:key:zQ3shNew');
    expect(cache.get(LXM, 'a1', T0)).toBeUndefined();
    expect(cache.get(LXM, 'a2', T0)).toBe('did:plc:a');
    expect(cache.get(LXM, 'b1', T0)).toBe('did:plc:b');
    expect(cache.size).toBe(2);
  });

  it('still forgets a token of the old key stored after the new key was seen (a check that was under way at the rotation)', () => {
    const cache = new VerifiedTokenCache(10, 600_000);
    const exp = T0 / 1000 + 60;
    const NEW = 'did:key:zQ3shNew';
    cache.set(LXM, 'a1', 'did:plc:a', KEY, exp, T0);
    cache.keepOnlyKey('did:plc:a', NEW);
    expect(cache.get(LXM, 'a1', T0)).toBeUndefined();
    cache.set(LXM, 'a2', 'did:plc:a', NEW, exp, T0);
    // Checked with the old key before the rotation was seen, stored after.
    cache.set(LXM, 'a3', 'did:plc:a', KEY, exp, T0);
    cache.keepOnlyKey('did:plc:a', NEW);
    expect(cache.get(LXM, 'a2', T0)).toBe('did:plc:a');
    expect(cache.get(LXM, 'a3', T0)).toBeUndefined();
    // Back to one key: a new token of the old key is again told apart.
    cache.set(LXM, 'a4', 'did:plc:a', KEY, exp, T0);
    cache.keepOnlyKey('did:plc:a', NEW);
    expect(cache.get(LXM, 'a4', T0)).toBeUndefined();
    expect(cache.size).toBe(1);
  });
});
