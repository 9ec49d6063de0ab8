interface Entry {
  did: string;
  /** The method the token was checked against (its `lxm` claim). */
  lxm: string;
  /** Epoch ms after which the entry is dead: never later than the token's own `exp`. */
  expiresAtMs: number;
}

/**
 * Bounded LRU of raw JWTs that already verified, so a token presented again (client retries,
 * repeated page loads within the token's minute) skips the secp256k1 verification.
 *
 * Safe because the key is the exact token string (any change to header, payload or signature is
 * a different key), an entry answers only for the method it was checked against, and it never
 * outlives the token's `exp`. Only successes are stored.
 *
 * @NOTE Keyed by the token alone (a token names one method, so it is checked against one): joining
 * method and token into a key would build and hash a new ~700-character string twice a request.
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
    const entry = this.entries.get(jwt);
    if (entry === undefined || entry.lxm !== lxm) return undefined;
    this.entries.delete(jwt);
    // Same boundary as verifyJwt's `Date.now() / 1000 > payload.exp`.
    if (nowMs > entry.expiresAtMs) return undefined;
    this.entries.set(jwt, entry);
    return entry.did;
  }

  set(lxm: string, jwt: string, did: string, expSeconds: number, nowMs: number): void {
    if (this.maxEntries <= 0) return;
    const expiresAtMs = Math.min(expSeconds * 1000, nowMs + this.maxTtlMs);
    if (!(nowMs <= expiresAtMs)) return;
    this.entries.delete(jwt);
    this.entries.set(jwt, { did, lxm, expiresAtMs });
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
