import {
  DidNotFoundError,
  getKey,
  PoorlyFormattedDidDocumentError,
  PoorlyFormattedDidError,
  UnsupportedDidMethodError,
  UnsupportedDidWebPathError,
  type DidDocument,
  type IdResolver,
} from '@atproto/identity';
import { verifyJwt, XRPCError, type VerifySignatureWithKeyFn } from '@atproto/xrpc-server';
import { LRUCache } from 'lru-cache';
import {
  AuthMissingError,
  AuthRequiredError,
  DidDocumentTooLargeError,
  IdentityUnavailableError,
  ResolutionRefusedError,
  type AuthFailureReason,
} from './auth.errors.js';
import { SignatureVerifier } from './signature.verifier.js';
import { VerifiedTokenCache } from './verified-token.cache.js';

export type ServiceAuthResult = { kind: 'anonymous' } | { kind: 'viewer'; did: string };
export type ViewerAuth = Extract<ServiceAuthResult, { kind: 'viewer' }>;

/**
 * The smallest thing the verifier needs: the issuer's `#atproto` signing key as a `did:key`.
 * To be classified correctly, "this DID does not exist / has no key" must be thrown as one of
 * @atproto/identity's error classes (DidNotFoundError, ...) or as an AuthRequiredError; any other
 * error for a did:plc is treated as the directory being unavailable.
 */
export interface AtprotoKeyResolver {
  resolveAtprotoKey(did: string, forceRefresh: boolean): Promise<string>;
}

export interface ServiceAuthVerifierOptions {
  /** This feed generator's DID (no fragment). Tokens must name it, or it + `#bsky_fg`, as `aud`. */
  serviceDid: string;
  /** An IdResolver (use createIdResolver: it caches DID documents) or a bare key resolver. */
  idResolver: IdResolver | AtprotoKeyResolver;
  /** Verified tokens remembered until their `exp`; 0 disables. Default 10 000. */
  verifiedCacheSize?: number;
  /** Upper bound on how long a verified token is remembered, whatever its `exp`. Default 5 min. */
  verifiedCacheMaxTtlMs?: number;
  /**
   * A bad signature makes verifyJwt re-fetch the issuer's DID document (key rotation). Within this
   * interval after one forced re-fetch for a DID, further ones are served from the cache, so a
   * stream of forged tokens naming someone's DID cannot turn into a stream of PLC requests.
   * Default 10 s; 0 re-fetches every time.
   */
  minForcedRefreshIntervalMs?: number;
  /** A token whose `exp` is further ahead than this is refused (`exp-too-far`). Default 5 min. */
  maxExpAheadMs?: number;
  /** A token whose `iat` is further ahead than this (clock skew) is refused (`issued-in-future`). Default 60 s. */
  maxIatAheadMs?: number;
  /**
   * A DID that could not be resolved (unknown, unusable, or its directory or host failing) is
   * answered with the same error for this long without asking again. Default 10 s; 0 disables.
   */
  failureCacheTtlMs?: number;
  /** Told each time a token is refused (or a viewer was required and none came), with the reason: for metrics. */
  onFailure?: (reason: AuthFailureReason) => void;
  /**
   * Checks a JWT signature against the issuer's `did:key`. Default: `SignatureVerifier`
   * (libsecp256k1 / OpenSSL, same answers as @atproto/crypto, 25–35x faster).
   */
  verifySignature?: VerifySignatureWithKeyFn;
  /**
   * Worker threads for secp256k1 checks with the default `verifySignature`, so they do not take
   * event-loop time; 0 (default) checks on the calling thread. `close` stops them.
   */
  signatureThreads?: number;
}

export const FEED_GENERATOR_SERVICE_ID = 'bsky_fg';

const ANONYMOUS: ServiceAuthResult = Object.freeze({ kind: 'anonymous' });
// Service JWTs are a few hundred bytes; anything far larger is not one, and is not worth parsing.
const MAX_JWT_LENGTH = 8192;
const BEARER = /^Bearer +(\S+)$/i;
const FORCED_REFRESH_MEMORY = 10_000;
const FAILURE_MEMORY = 10_000;
/** JWS ES256 and ES256K signatures are r‖s, 32 bytes each (RFC 7518 §3.4). */
const JWS_SIGNATURE_BYTES = 64;

const VERIFY_JWT_CODE_TO_REASON: Record<string, Exclude<AuthFailureReason, 'missing'>> = {
  BadJwt: 'malformed',
  BadJwtType: 'malformed',
  BadJwtIss: 'malformed',
  JwtExpired: 'expired',
  BadJwtAudience: 'wrong-audience',
  BadJwtLexiconMethod: 'wrong-method',
  BadJwtSignature: 'bad-signature',
};

/**
 * Verifies AT Protocol inter-service auth (the `Authorization: Bearer <jwt>` the AppView forwards
 * with getFeedSkeleton): signature by the issuer's current atproto key, `aud`, `lxm`, `exp`.
 * Framework-free; the Nest layer calls `verify` and maps the errors from auth.errors.ts.
 */
export class ServiceAuthVerifier {
  readonly serviceDid: string;
  /** Tokens that went through verifyJwt (a signature check, unless refused before) and tokens answered from the cache. */
  readonly stats = { verified: 0, fromCache: 0 };
  private readonly feedGeneratorAudience: string;
  private readonly keys: AtprotoKeyResolver;
  private readonly verified: VerifiedTokenCache;
  private readonly minForcedRefreshIntervalMs: number;
  private readonly maxExpAheadMs: number;
  private readonly maxIatAheadMs: number;
  private readonly failureCacheTtlMs: number;
  private readonly inflight = new Map<string, Promise<string>>();
  /** When each DID was last re-fetched by force (signature mismatch). */
  private readonly lastForcedRefresh = new LRUCache<string, number>({ max: FORCED_REFRESH_MEMORY });
  /** DIDs whose resolution failed lately: how, and until when (epoch ms). */
  private readonly failures = new LRUCache<string, { unknown: boolean; untilMs: number }>({ max: FAILURE_MEMORY });
  private readonly onFailure?: (reason: AuthFailureReason) => void;
  private readonly verifySignature: VerifySignatureWithKeyFn;
  private readonly signatures: SignatureVerifier | undefined;

  constructor(options: ServiceAuthVerifierOptions) {
    if (!/^did:[a-z]+:[A-Za-z0-9._:%-]+$/.test(options.serviceDid)) {
      throw new RangeError(`ServiceAuthVerifier: serviceDid must be a DID without fragment, got "${options.serviceDid}"`);
    }
    this.serviceDid = options.serviceDid;
    this.feedGeneratorAudience = `${options.serviceDid}#${FEED_GENERATOR_SERVICE_ID}`;
    this.keys = 'resolveAtprotoKey' in options.idResolver ? options.idResolver : keyResolverOf(options.idResolver);
    this.verified = new VerifiedTokenCache(options.verifiedCacheSize ?? 10_000, options.verifiedCacheMaxTtlMs ?? 5 * 60_000);
    this.minForcedRefreshIntervalMs = options.minForcedRefreshIntervalMs ?? 10_000;
    this.maxExpAheadMs = options.maxExpAheadMs ?? 5 * 60_000;
    this.maxIatAheadMs = options.maxIatAheadMs ?? 60_000;
    this.failureCacheTtlMs = options.failureCacheTtlMs ?? 10_000;
    this.onFailure = options.onFailure;
    this.signatures = options.verifySignature ? undefined : new SignatureVerifier({ threads: options.signatureThreads ?? 0 });
    this.verifySignature = options.verifySignature ?? this.signatures!.verify;
  }

  /** Batches sent to the signature worker threads and the checks they carried (none without threads). */
  get signatureBatches(): { batches: number; jobs: number } {
    return this.signatures?.workerStats ?? { batches: 0, jobs: 0 };
  }

  /** Stops the signature worker threads, if any (Nest calls this on shutdown). */
  async close(): Promise<void> {
    await this.signatures?.close();
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /**
   * No header (or an empty one) → anonymous. Anything else must be a valid service-auth token for
   * `lxm` or this throws AuthRequiredError (401) — or IdentityUnavailableError when the PLC
   * directory could not be reached to check it.
   */
  async verify(authorizationHeader: string | undefined, lxm: string): Promise<ServiceAuthResult> {
    try {
      return await this.verifyHeader(authorizationHeader, lxm);
    } catch (err) {
      if (err instanceof AuthRequiredError) this.onFailure?.(err.reason);
      throw err;
    }
  }

  /** Like `verify`, for routes that need a viewer: a missing header throws AuthMissingError. */
  async verifyViewer(authorizationHeader: string | undefined, lxm: string): Promise<ViewerAuth> {
    const result = await this.verify(authorizationHeader, lxm);
    if (result.kind === 'anonymous') {
      this.onFailure?.('missing');
      throw new AuthMissingError();
    }
    return result;
  }

  private async verifyHeader(authorizationHeader: string | undefined, lxm: string): Promise<ServiceAuthResult> {
    const header = authorizationHeader?.trim();
    if (!header) return ANONYMOUS;
    const match = BEARER.exec(header);
    if (!match) {
      throw new AuthRequiredError('malformed', 'Authorization header must be "Bearer <jwt>"', { code: 'BadAuthorizationHeader' });
    }
    const jwt = match[1]!;
    if (jwt.length > MAX_JWT_LENGTH) {
      throw new AuthRequiredError('malformed', 'jwt too long', { code: 'BadJwt' });
    }

    const cached = this.verified.get(lxm, jwt, Date.now());
    if (cached !== undefined) {
      this.stats.fromCache += 1;
      return { kind: 'viewer', did: cached };
    }

    this.stats.verified += 1;
    const payload = await this.verifyJwt(jwt, lxm);
    this.verified.set(lxm, jwt, payload.iss, payload.signingKey, payload.exp, Date.now());
    return { kind: 'viewer', did: payload.iss };
  }

  private async verifyJwt(jwt: string, lxm: string): Promise<{ iss: string; exp: number; signingKey: string }> {
    const claims = peekClaims(jwt);
    // @NOTE verifyJwt compares `aud` with one string (auth.js `payload.aud !== ownDid`). Passing
    // whichever of our two accepted audiences the token claims keeps that check inside verifyJwt,
    // before any DID resolution or signature work; a token claiming anything else is checked
    // against the bare DID and fails there with BadJwtAudience. The peek is never trusted on its
    // own: verifyJwt re-parses the same string and compares again.
    const ownDid = claims?.aud === this.feedGeneratorAudience ? this.feedGeneratorAudience : this.serviceDid;
    let signingKey = '';
    const getSigningKey = async (iss: string, forceRefresh: boolean): Promise<string> => {
      // verifyJwt asks for the key once its own checks (type, expiry, audience, method, issuer)
      // passed: ours follow them, before anything is resolved.
      if (!forceRefresh) this.checkBeforeResolving(jwt, claims);
      signingKey = await this.signingKeyOf(iss, forceRefresh);
      return signingKey;
    };
    try {
      const payload = await verifyJwt(jwt, ownDid, lxm, getSigningKey, this.verifySignature);
      return { iss: payload.iss, exp: payload.exp, signingKey };
    } catch (err) {
      throw toAuthError(err);
    }
  }

  /**
   * Bounds verifyJwt leaves out: a token may live at most `maxExpAheadMs` from now and may not be
   * issued in the future (beyond `maxIatAheadMs` of clock skew), and its signature must have the
   * one length a JWS ECDSA signature has.
   *
   * @NOTE A signature of another length can never verify against a key that is not also
   * rejected, yet verifyJwt answers `false` from the check with a forced re-fetch of the issuer's
   * DID document (a possible key rotation). Refusing it here, with the code @atproto/crypto's
   * refusal gets (BadJwtSignature), spares that re-fetch and the first resolution too. DER
   * signatures, which @noble would parse under `allowMalleableSig`, are not JWS and go with them.
   */
  private checkBeforeResolving(jwt: string, claims: PeekedClaims | undefined): void {
    const now = Date.now();
    if (claims?.exp !== undefined && claims.exp * 1000 > now + this.maxExpAheadMs) {
      throw new AuthRequiredError('exp-too-far', `jwt exp is more than ${this.maxExpAheadMs / 1000} s ahead`, { code: 'JwtExpTooFar' });
    }
    if (claims?.iat !== undefined && claims.iat * 1000 > now + this.maxIatAheadMs) {
      throw new AuthRequiredError('issued-in-future', 'jwt iat is in the future', { code: 'JwtIssuedInFuture' });
    }
    const sig = jwt.slice(jwt.lastIndexOf('.') + 1);
    if (Buffer.from(sig, 'base64url').length !== JWS_SIGNATURE_BYTES) {
      throw new AuthRequiredError('bad-signature', 'could not verify jwt signature', { code: 'BadJwtSignature' });
    }
  }

  private signingKeyOf(iss: string, forceRefresh: boolean): Promise<string> {
    // @NOTE atproto lets `iss` name a service of a DID (`did:plc:x#atproto_labeler`, verified with
    // that DID's `#atproto_label` key). Such a token comes from a service acting as itself, not
    // from an account viewing a feed, so it is refused before any resolution.
    if (iss.includes('#')) {
      return Promise.reject(
        new AuthRequiredError('unknown-issuer', 'jwt iss names a service (DID#fragment); a viewer must be an account DID', {
          code: 'BadJwtIss',
        }),
      );
    }
    // @NOTE resolveAtprotoKey answers a did:key with itself (base-resolver.js), so a did:key issuer
    // is self-certifying: anyone could mint viewers at will. Accounts are did:plc or did:web.
    if (!iss.startsWith('did:plc:') && !iss.startsWith('did:web:')) {
      return Promise.reject(
        new AuthRequiredError('unknown-issuer', 'jwt iss must be a did:plc or did:web account', { code: 'UnsupportedDidMethod' }),
      );
    }
    return this.resolveKey(iss, forceRefresh);
  }

  /**
   * Coalesces concurrent look-ups of one DID, rate-limits forced refreshes per DID, answers DIDs
   * that failed lately from memory, and forgets cached tokens of an issuer seen with a new key.
   */
  private async resolveKey(did: string, forceRefresh: boolean): Promise<string> {
    const key = await this.lookUpKey(did, forceRefresh);
    this.verified.keepOnlyKey(did, key);
    return key;
  }

  private lookUpKey(did: string, forceRefresh: boolean): Promise<string> {
    let force = forceRefresh;
    if (!force) {
      const failed = this.failures.get(did);
      if (failed !== undefined && Date.now() < failed.untilMs) {
        return Promise.reject(
          failed.unknown
            ? new AuthRequiredError('unknown-issuer', `could not resolve a signing key for ${did} (failed lately)`, { code: 'UnknownIssuer' })
            : new IdentityUnavailableError(did),
        );
      }
    }
    if (force) {
      const pendingForced = this.inflight.get(`force ${did}`);
      if (pendingForced) return pendingForced;
      const now = Date.now();
      const last = this.lastForcedRefresh.get(did);
      if (last !== undefined && now - last < this.minForcedRefreshIntervalMs) {
        force = false;
      } else {
        this.lastForcedRefresh.set(did, now);
      }
    }
    const slot = `${force ? 'force' : 'cached'} ${did}`;
    const pending = this.inflight.get(slot);
    if (pending) return pending;
    const lookup = this.resolveKeyOnce(did, force).finally(() => this.inflight.delete(slot));
    this.inflight.set(slot, lookup);
    return lookup;
  }

  private async resolveKeyOnce(did: string, forceRefresh: boolean): Promise<string> {
    try {
      const key = await this.keys.resolveAtprotoKey(did, forceRefresh);
      this.failures.delete(did);
      return key;
    } catch (err) {
      const error = classifyResolutionError(did, err);
      // A refusal is about our load, not about this DID: the next request may well get through.
      // @NOTE Remembered as a kind, not as the error: thousands of errors with their causes and
      // stacks would weigh more than the documents the DID cache is bounded to.
      if (!(err instanceof ResolutionRefusedError) && this.failureCacheTtlMs > 0) {
        this.failures.set(did, { unknown: error instanceof AuthRequiredError, untilMs: Date.now() + this.failureCacheTtlMs });
      }
      throw error;
    }
  }
}

/**
 * What a failed resolution means for the token: the issuer is unknown or unusable (401), or the
 * identity infrastructure could not answer (IdentityUnavailableError: the token may be valid).
 *
 * @NOTE A did:web is served by the issuer itself: an answer that is not a usable document is the
 * issuer's problem (unknown-issuer), but a host that cannot be reached at all (no route, refused,
 * timed out) is treated like a PLC outage, so public feeds can still be served.
 */
function classifyResolutionError(did: string, err: unknown): Error {
  if (err instanceof AuthRequiredError || err instanceof IdentityUnavailableError) return err;
  if (err instanceof ResolutionRefusedError) return new IdentityUnavailableError(did, { cause: err });
  if (isUnknownIdentity(err) || err instanceof DidDocumentTooLargeError || (did.startsWith('did:web:') && !isUnreachable(err))) {
    return new AuthRequiredError('unknown-issuer', `could not resolve a signing key for ${did}`, { code: 'UnknownIssuer', cause: err });
  }
  return new IdentityUnavailableError(did, { cause: err });
}

/**
 * fetch's own failures: no connection (`TypeError: fetch failed`) or the resolver's timeout.
 *
 * @NOTE Compared by name, not `instanceof`: fetch's errors may come from another realm than this
 * module's `TypeError` (undici's, under a test runner's sandbox).
 */
function isUnreachable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const { name, message } = err as { name?: unknown; message?: unknown };
  return (name === 'TypeError' && message === 'fetch failed') || name === 'TimeoutError' || name === 'AbortError';
}

/**
 * @NOTE Same steps as DidResolver.resolveAtprotoKey (resolve the document, then its `#atproto`
 * key via getKey), but a document without a usable key becomes an AuthRequiredError instead of a
 * plain `Error('Could not parse signingKey ...')` that would be indistinguishable from an outage.
 *
 * @NOTE getKey decodes the multibase key, decompresses the point in pure JS (a modular square
 * root) and encodes it again: about as costly as the signature check itself once that is native.
 * The DID cache hands out the same document object until it is refreshed, so the key is
 * remembered per document object; a refreshed (or re-fetched) document is a new object.
 */
function keyResolverOf(idResolver: IdResolver): AtprotoKeyResolver {
  const keys = new WeakMap<DidDocument, string>();
  return {
    async resolveAtprotoKey(did, forceRefresh) {
      const doc = await idResolver.did.resolve(did, forceRefresh);
      if (doc === null) throw new DidNotFoundError(did);
      const known = keys.get(doc);
      if (known !== undefined) return known;
      let key: string | undefined;
      try {
        key = getKey(doc);
      } catch (cause) {
        throw new AuthRequiredError('unknown-issuer', `unusable #atproto key in the DID document of ${did}`, { code: 'BadIssuerKey', cause });
      }
      if (key === undefined) {
        throw new AuthRequiredError('unknown-issuer', `no #atproto key in the DID document of ${did}`, { code: 'BadIssuerKey' });
      }
      keys.set(doc, key);
      return key;
    },
  };
}

function isUnknownIdentity(err: unknown): boolean {
  return (
    err instanceof DidNotFoundError ||
    err instanceof PoorlyFormattedDidError ||
    err instanceof UnsupportedDidMethodError ||
    err instanceof PoorlyFormattedDidDocumentError ||
    err instanceof UnsupportedDidWebPathError
  );
}

interface PeekedClaims {
  aud?: string;
  exp?: number;
  iat?: number;
}

/** The claims the verifier reads before verifyJwt has parsed the token itself (never trusted alone). */
function peekClaims(jwt: string): PeekedClaims | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    if (payload === null || typeof payload !== 'object') return undefined;
    const claims = payload as Record<string, unknown>;
    return {
      ...(typeof claims.aud === 'string' && { aud: claims.aud }),
      ...(typeof claims.exp === 'number' && { exp: claims.exp }),
      ...(typeof claims.iat === 'number' && { iat: claims.iat }),
    };
  } catch {
    // Not JSON: verifyJwt reports it as malformed.
  }
  return undefined;
}

function toAuthError(err: unknown): unknown {
  if (err instanceof AuthRequiredError || err instanceof IdentityUnavailableError) return err;
  if (err instanceof XRPCError && err.statusCode === 401) {
    const code = err.customErrorName ?? 'AuthenticationRequired';
    return new AuthRequiredError(VERIFY_JWT_CODE_TO_REASON[code] ?? 'malformed', err.errorMessage ?? err.message, { code, cause: err });
  }
  // verifyJwt JSON.parses the base64url header and payload without a try (auth.js parseB64UrlToJson).
  if (err instanceof SyntaxError) {
    return new AuthRequiredError('malformed', 'poorly formatted jwt', { code: 'BadJwt', cause: err });
  }
  return err;
}
