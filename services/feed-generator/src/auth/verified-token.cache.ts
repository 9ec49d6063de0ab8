interface Entry {
  did: string;
  /** Epoch ms after which the entry is dead: never later than the token's own `exp`. */
  expiresAtMs: number;
}

/**
 * Bounded LRU of raw JWTs that already verified, so a token presented again (client retries,
 * repeated page loads within the token's minute) skips the secp256k1 verification.
 *
 * Safe because the key is the exact token string (any change to header, payload or signature is
 * a different key) plus the method it was checked against, and an entry never outlives the
 * token's `exp`. Only successes are stored.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxTtlMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(lxm: string, jwt: string, nowMs: number): string | undefined {
    if (this.maxEntries <= 0) return undefined;
    const key = cacheKey(lxm, jwt);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    // Same boundary as verifyJwt's `Date.now() / 1000 > payload.exp`.
    if (nowMs > entry.expiresAtMs) return undefined;
    this.entries.set(key, entry);
    return entry.did;
  }

  set(lxm: string, jwt: string, did: string, expSeconds: number, nowMs: number): void {
    if (this.maxEntries <= 0) return;
    const expiresAtMs = Math.min(expSeconds * 1000, nowMs + this.maxTtlMs);
    if (!(nowMs <= expiresAtMs)) return;
    const key = cacheKey(lxm, jwt);
    this.entries.delete(key);
    this.entries.set(key, { did, expiresAtMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

// NSIDs contain no spaces, so the first space always separates method from token.
function cacheKey(lxm: string, jwt: string): string {
  return `${lxm} ${jwt}`;
}
