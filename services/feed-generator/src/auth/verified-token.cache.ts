import { LRUCache } from 'lru-cache';

interface Entry {
  did: string;
  /** The method the token was checked against (its `lxm` claim). */
  lxm: string;
  /** The `did:key` its signature verified with. */
  signingKey: string;
  /** Epoch ms after which the entry is dead: never later than the token's own `exp`. */
  expiresAtMs: number;
}

interface IssuerTokens {
  tokens: Set<string>;
  signingKey: string;
  mixed: boolean;
}

/**
 * Bounded LRU of raw JWTs that already verified, so a token presented again (client retries,
 * repeated page loads within the token's minute) skips the secp256k1 verification.
 *
 * Safe because the key is the exact token string (any change to header, payload or signature is
 * a different key), an entry answers only for the method it was checked against, it never
 * outlives the token's `exp`, and it is dropped as soon as its issuer is seen with another signing
 * key (`keepOnlyKey`): a rotation away from a leaked key also ends the tokens it signed. Only
 * successes are stored.
 *
 * @NOTE Keyed by the token alone (a token names one method, so it is checked against one): joining
 * method and token into a key would build and hash a new ~700-character string twice a request.
 * Expiry is checked against the caller's clock rather than lru-cache's TTL (which reads
 * `performance.now()`), so it keeps verifyJwt's exact `exp` boundary.
 */
export class VerifiedTokenCache {
  private readonly entries: LRUCache<string, Entry> | undefined;
  /**
   * Cached tokens by issuer, kept in step with `entries` by its dispose hook, with the key they
   * verified with while it is one key (`mixed` once tokens of two keys are held).
   */
  private readonly byIssuer = new Map<string, IssuerTokens>();

  constructor(
    maxEntries: number,
    private readonly maxTtlMs: number,
  ) {
    this.entries =
      maxEntries > 0
        ? new LRUCache<string, Entry>({ max: maxEntries, dispose: (entry, jwt) => this.unindex(entry.did, jwt) })
        : undefined;
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  get(lxm: string, jwt: string, nowMs: number): string | undefined {
    const entry = this.entries?.get(jwt);
    if (entry === undefined || entry.lxm !== lxm) return undefined;
    // Same boundary as verifyJwt's `Date.now() / 1000 > payload.exp`.
    if (nowMs > entry.expiresAtMs) {
      this.entries!.delete(jwt);
      return undefined;
    }
    return entry.did;
  }

  set(lxm: string, jwt: string, did: string, signingKey: string, expSeconds: number, nowMs: number): void {
    if (this.entries === undefined) return;
    const expiresAtMs = Math.min(expSeconds * 1000, nowMs + this.maxTtlMs);
    if (!(nowMs <= expiresAtMs)) return;
    this.entries.set(jwt, { did, lxm, signingKey, expiresAtMs });
    const issuer = this.byIssuer.get(did);
    if (issuer === undefined) this.byIssuer.set(did, { tokens: new Set([jwt]), signingKey, mixed: false });
    else {
      issuer.tokens.add(jwt);
      if (issuer.signingKey !== signingKey) issuer.mixed = true;
    }
  }

  /**
   * `did` now signs with `signingKey`: forgets its tokens that verified with any other key.
   *
   * @NOTE Called before every signature check: while every token held for `did` verified with
   * `signingKey` (no rotation seen), that is known without visiting them.
   */
  keepOnlyKey(did: string, signingKey: string): void {
    const issuer = this.byIssuer.get(did);
    if (issuer === undefined || this.entries === undefined) return;
    if (!issuer.mixed && issuer.signingKey === signingKey) return;
    for (const jwt of [...issuer.tokens]) {
      if (this.entries.peek(jwt)?.signingKey !== signingKey) this.entries.delete(jwt);
    }
    // Any tokens left verified with `signingKey`; deleting the last one dropped the group.
    const left = this.byIssuer.get(did);
    if (left !== undefined) {
      left.signingKey = signingKey;
      left.mixed = false;
    }
  }

  clear(): void {
    this.entries?.clear();
  }

  private unindex(did: string, jwt: string): void {
    const issuer = this.byIssuer.get(did);
    if (issuer === undefined) return;
    issuer.tokens.delete(jwt);
    if (issuer.tokens.size === 0) this.byIssuer.delete(did);
  }
}
