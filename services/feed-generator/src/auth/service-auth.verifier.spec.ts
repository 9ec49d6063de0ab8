import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { P256Keypair, Secp256k1Keypair, type Keypair } from '@atproto/crypto';
import type { IdResolver } from '@atproto/identity';
import { createServiceJwt, cryptoVerifySignatureWithKey } from '@atproto/xrpc-server';
import { AuthMissingError, AuthRequiredError, DidDocumentTooLargeError, IdentityUnavailableError, ResolutionRefusedError } from './auth.errors.js';
import { createIdResolver, type BoundedDidCache, type IdResolverFactoryOptions } from './id-resolver.factory.js';
import { ServiceAuthVerifier, type ServiceAuthVerifierOptions } from './service-auth.verifier.js';

const LXM = 'app.bsky.feed.getFeedSkeleton';
const SERVICE_DID = 'did:web:feeds.common-ground.test';

/**
 * A PLC directory (`GET /<did>`) and a did:web host (`GET /.well-known/did.json`) on 127.0.0.1,
 * serving DID documents built from real keypairs, counting every request per DID.
 */
class DidDocumentServer {
  private readonly server: Server = createServer((req, res) => this.handle(req, res));
  private readonly docs = new Map<string, object>();
  readonly hits = new Map<string, number>();
  failWithStatus: number | undefined;
  /** Answers this much later (to hold resolutions in flight). */
  delayMs = 0;
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  get plcUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** did:web on this server; identity resolves `localhost` over http. */
  get webDid(): string {
    return `did:web:localhost%3A${this.port}`;
  }

  /**
   * Serves `did`'s document with `keypair` as its `#atproto` key, or with no key at all;
   * `padBytes` makes it that much larger (a long `alsoKnownAs` entry).
   */
  publish(did: string, keypair: Keypair | null, padBytes = 0): void {
    this.docs.set(did, {
      '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
      id: did,
      alsoKnownAs: [`at://${did.slice(-8)}.handle.test`, ...(padBytes > 0 ? [`https://pad.test/${'x'.repeat(padBytes)}`] : [])],
      verificationMethod: keypair
        ? [{ id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase: keypair.did().slice('did:key:'.length) }]
        : [],
      service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://pds.test' }],
    });
  }

  hitsFor(did: string): number {
    return this.hits.get(did) ?? 0;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.delayMs > 0) {
      setTimeout(() => this.answer(req, res), this.delayMs);
      return;
    }
    this.answer(req, res);
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    const did = path === '/.well-known/did.json' ? this.webDid : decodeURIComponent(path.slice(1));
    this.hits.set(did, this.hitsFor(did) + 1);
    if (this.failWithStatus !== undefined) {
      res.writeHead(this.failWithStatus).end();
      return;
    }
    const doc = this.docs.get(did);
    if (!doc) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"DID not registered"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/did+ld+json' }).end(JSON.stringify(doc));
  }
}

async function freeLocalPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const bearer = (jwt: string) => `Bearer ${jwt}`;

describe('ServiceAuthVerifier', () => {
  const dids = new DidDocumentServer();
  const alice = 'did:plc:alice00000000000000000000';
  const bob = 'did:plc:bob0000000000000000000000';
  let aliceKey: Secp256k1Keypair;
  let bobKey: P256Keypair;
  let idResolver: IdResolver;

  const token = (overrides: Partial<Parameters<typeof createServiceJwt>[0]> = {}) =>
    createServiceJwt({ iss: alice, aud: SERVICE_DID, lxm: LXM, keypair: aliceKey, ...overrides });

  const newVerifier = (options: Partial<ServiceAuthVerifierOptions> = {}) =>
    new ServiceAuthVerifier({ serviceDid: SERVICE_DID, idResolver, ...options });

  beforeAll(async () => {
    await dids.start();
  });
  afterAll(async () => {
    await dids.stop();
  });

  beforeEach(async () => {
    aliceKey = await Secp256k1Keypair.create();
    bobKey = await P256Keypair.create();
    dids.publish(alice, aliceKey);
    dids.publish(bob, bobKey);
    dids.hits.clear();
    dids.failWithStatus = undefined;
    dids.delayMs = 0;
    idResolver = createIdResolver({
      plcUrl: dids.plcUrl,
      didCacheTtlMs: 60_000,
      didCacheMaxTtlMs: 600_000,
      timeoutMs: 2_000,
      allowInsecureFetch: true,
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  describe('accepts', () => {
    it('a token for this feed generator, returning the viewer DID', async () => {
      await expect(newVerifier().verify(bearer(await token()), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
    });

    it('a token whose audience is the feed generator service (#bsky_fg)', async () => {
      const jwt = await token({ aud: `${SERVICE_DID}#bsky_fg` });
      await expect(newVerifier().verify(bearer(jwt), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
    });

    it('a P-256 signed token, and a lower-case "bearer" scheme', async () => {
      const jwt = await token({ iss: bob, keypair: bobKey });
      await expect(newVerifier().verify(`bearer ${jwt}`, LXM)).resolves.toEqual({ kind: 'viewer', did: bob });
    });

    it('a did:web viewer whose document is served by its own host', async () => {
      const webKey = await Secp256k1Keypair.create();
      dids.publish(dids.webDid, webKey);
      const jwt = await token({ iss: dids.webDid, keypair: webKey });
      await expect(newVerifier().verify(bearer(jwt), LXM)).resolves.toEqual({ kind: 'viewer', did: dids.webDid });
    });

    it('works with a bare key resolver instead of an IdResolver', async () => {
      const verifier = newVerifier({ idResolver: idResolver.did });
      await expect(verifier.verify(bearer(await token()), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
    });

    it('checks secp256k1 signatures on a worker thread when asked, and on its own thread once closed', async () => {
      const verifier = newVerifier({ signatureThreads: 1, verifiedCacheSize: 0 });
      const forged = await token({ keypair: await Secp256k1Keypair.create() });
      await expect(verifier.verify(bearer(await token()), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      await expect(verifier.verify(bearer(forged), LXM)).rejects.toMatchObject({ reason: 'bad-signature' });
      await verifier.close();
      await expect(verifier.verify(bearer(await token()), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      await expect(verifier.verify(bearer(forged), LXM)).rejects.toMatchObject({ reason: 'bad-signature' });
    });

    it('answers exactly as with @atproto/crypto, token by token', async () => {
      const ours = newVerifier({ verifiedCacheSize: 0 });
      const theirs = newVerifier({ verifiedCacheSize: 0, verifySignature: cryptoVerifySignatureWithKey });
      const mallory = await Secp256k1Keypair.create();
      const jwts = [
        await token(),
        await token({ iss: bob, keypair: bobKey }),
        await token({ keypair: mallory }),
        await token({ iss: bob, keypair: aliceKey }),
      ];
      const [header, payload, sig] = jwts[0]!.split('.') as [string, string, string];
      const es256Header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256' })).toString('base64url');
      jwts.push(`${es256Header}.${payload}.${sig}`, `${header}.${payload}.${sig.slice(0, -4)}AAAA`);
      const outcome = async (verifier: ServiceAuthVerifier, jwt: string) => {
        try {
          return await verifier.verify(bearer(jwt), LXM);
        } catch (err) {
          return (err as AuthRequiredError).code;
        }
      };
      for (const jwt of jwts) expect(await outcome(ours, jwt)).toEqual(await outcome(theirs, jwt));
    });
  });

  describe('anonymous and missing credentials', () => {
    it('treats a request without Authorization header as anonymous', async () => {
      await expect(newVerifier().verify(undefined, LXM)).resolves.toEqual({ kind: 'anonymous' });
      await expect(newVerifier().verify('  ', LXM)).resolves.toEqual({ kind: 'anonymous' });
    });

    it('verifyViewer answers a missing header with AuthMissingError', async () => {
      const err = await rejectionOf(newVerifier().verifyViewer(undefined, LXM));
      expect(err).toBeInstanceOf(AuthMissingError);
      expect(err).toMatchObject({ name: 'AuthMissingError', xrpcError: 'AuthMissing', reason: 'missing', status: 401 });
      await expect(newVerifier().verifyViewer(bearer(await token()), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
    });
  });

  describe('rejects', () => {
    const expectRejected = async (header: string, reason: string, code?: string, lxm = LXM, verifier = newVerifier()) => {
      const err = await rejectionOf(verifier.verify(header, lxm));
      expect(err).toBeInstanceOf(AuthRequiredError);
      expect(err).toMatchObject({ name: 'AuthRequiredError', status: 401, reason });
      // Answered with the error named as the atproto XRPC server names it.
      expect((err as AuthRequiredError).xrpcError).toBe((err as AuthRequiredError).code);
      if (code) expect(err).toMatchObject({ code });
    };

    it('a header that is not "Bearer <jwt>"', async () => {
      const jwt = await token();
      await expectRejected(`Basic ${Buffer.from('alice:pw').toString('base64')}`, 'malformed', 'BadAuthorizationHeader');
      await expectRejected('Bearer', 'malformed', 'BadAuthorizationHeader');
      await expectRejected(`Bearer ${jwt} extra`, 'malformed', 'BadAuthorizationHeader');
      await expectRejected(jwt, 'malformed', 'BadAuthorizationHeader');
    });

    it('a bearer value that is not a well-formed JWT', async () => {
      await expectRejected('Bearer abc.def', 'malformed', 'BadJwt');
      await expectRejected('Bearer not.json.atall', 'malformed', 'BadJwt');
      const [header, , sig] = (await token()).split('.');
      const noExp = Buffer.from(JSON.stringify({ iss: alice, aud: SERVICE_DID, lxm: LXM })).toString('base64url');
      await expectRejected(`Bearer ${header}.${noExp}.${sig}`, 'malformed', 'BadJwt');
      await expectRejected(`Bearer ${'a'.repeat(9000)}.b.c`, 'malformed', 'BadJwt');
      expect(dids.hitsFor(alice)).toBe(0);
    });

    it('an expired token, before resolving anything', async () => {
      const jwt = await token({ iat: nowSeconds() - 120, exp: nowSeconds() - 60 });
      await expectRejected(bearer(jwt), 'expired', 'JwtExpired');
      expect(dids.hitsFor(alice)).toBe(0);
    });

    it('a forged token: right issuer, signed by a key that is not in its DID document', async () => {
      const mallory = await Secp256k1Keypair.create();
      await expectRejected(bearer(await token({ keypair: mallory })), 'bad-signature', 'BadJwtSignature');
      // verifyJwt re-fetched the document once (rotation check) before giving up.
      expect(dids.hitsFor(alice)).toBe(2);
    });

    it('a token whose signature was tampered with, or whose claims were altered after signing', async () => {
      const [header, payload, sig] = (await token()).split('.') as [string, string, string];
      const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
      await expectRejected(`Bearer ${header}.${payload}.${flipped}`, 'bad-signature');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      const asBob = Buffer.from(JSON.stringify({ ...claims, iss: bob })).toString('base64url');
      await expectRejected(`Bearer ${header}.${asBob}.${sig}`, 'bad-signature');
    });

    it('a token for another audience, without resolving the issuer', async () => {
      await expectRejected(bearer(await token({ aud: 'did:web:other-feeds.test' })), 'wrong-audience', 'BadJwtAudience');
      await expectRejected(bearer(await token({ aud: `${SERVICE_DID}#atproto_labeler` })), 'wrong-audience');
      await expectRejected(bearer(await token({ aud: `did:web:other-feeds.test#bsky_fg` })), 'wrong-audience');
      expect(dids.hitsFor(alice)).toBe(0);
    });

    it('a token for another method, or without lxm', async () => {
      await expectRejected(bearer(await token({ lxm: 'app.bsky.feed.getTimeline' })), 'wrong-method', 'BadJwtLexiconMethod');
      await expectRejected(bearer(await token({ lxm: null })), 'wrong-method', 'BadJwtLexiconMethod');
      await expectRejected(bearer(await token()), 'wrong-method', 'BadJwtLexiconMethod', 'app.bsky.feed.describeFeedGenerator');
    });

    it('an issuer DID the directory does not know', async () => {
      const ghost = await Secp256k1Keypair.create();
      await expectRejected(bearer(await token({ iss: 'did:plc:ghost0000000000000000000', keypair: ghost })), 'unknown-issuer', 'UnknownIssuer');
    });

    it('an issuer that names a service (DID#fragment), without resolving it', async () => {
      const jwt = await token({ iss: `${alice}#atproto_labeler` });
      await expectRejected(bearer(jwt), 'unknown-issuer', 'BadJwtIss');
      expect(dids.hitsFor(alice)).toBe(0);
    });

    it('a self-certifying did:key issuer', async () => {
      const self = await Secp256k1Keypair.create();
      await expectRejected(bearer(await token({ iss: self.did(), keypair: self })), 'unknown-issuer', 'UnsupportedDidMethod');
    });

    it('an issuer whose DID document has no #atproto key', async () => {
      const keyless = 'did:plc:keyless000000000000000000';
      dids.publish(keyless, null);
      await expectRejected(bearer(await token({ iss: keyless })), 'unknown-issuer', 'BadIssuerKey');
    });

    it('a token living more than 5 minutes from now, before resolving anything', async () => {
      // 5 min + 10 s: a margin for the seconds a slow machine takes between minting and checking.
      await expectRejected(bearer(await token({ exp: nowSeconds() + 310 })), 'exp-too-far', 'JwtExpTooFar');
      await expectRejected(bearer(await token({ exp: nowSeconds() + 3_600 })), 'exp-too-far', 'JwtExpTooFar');
      expect(dids.hitsFor(alice)).toBe(0);
      await expect(newVerifier().verify(bearer(await token({ exp: nowSeconds() + 295 })), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      // Configurable, for callers that mint longer tokens on purpose (the bench).
      const lenient = newVerifier({ maxExpAheadMs: 3_600_000 });
      await expect(lenient.verify(bearer(await token({ exp: nowSeconds() + 3_500 })), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
    });

    it('a token issued more than 60 s in the future, before resolving anything', async () => {
      await expectRejected(bearer(await token({ iat: nowSeconds() + 90, exp: nowSeconds() + 150 })), 'issued-in-future', 'JwtIssuedInFuture');
      expect(dids.hitsFor(alice)).toBe(0);
      // Clock skew within the minute is accepted.
      const skewed = await token({ iat: nowSeconds() + 30, exp: nowSeconds() + 90 });
      await expect(newVerifier().verify(bearer(skewed), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
    });

    it('counts the out-of-bounds tokens in the failure reasons', async () => {
      const reasons: string[] = [];
      const verifier = newVerifier({ onFailure: (reason) => reasons.push(reason) });
      await rejectionOf(verifier.verify(bearer(await token({ exp: nowSeconds() + 600 })), LXM));
      await rejectionOf(verifier.verify(bearer(await token({ iat: nowSeconds() + 600, exp: nowSeconds() + 60 })), LXM));
      expect(reasons).toEqual(['exp-too-far', 'issued-in-future']);
    });

    it('a signature that is not 64 bytes, as @atproto/crypto does, without resolving the issuer', async () => {
      const [header, payload, sig] = (await token()).split('.') as [string, string, string];
      const bytes = Buffer.from(sig, 'base64url');
      const resolve = jest.spyOn(idResolver.did, 'resolve');
      const wrongLengths = [bytes.subarray(0, 63), Buffer.concat([bytes, Buffer.from([1])]), Buffer.alloc(0), Buffer.alloc(512, 7)];
      for (const wrong of wrongLengths) {
        const jwt = `${header}.${payload}.${wrong.toString('base64url')}`;
        await expectRejected(bearer(jwt), 'bad-signature', 'BadJwtSignature');
        const theirs = await rejectionOf(newVerifier({ verifySignature: cryptoVerifySignatureWithKey }).verify(bearer(jwt), LXM));
        expect(theirs).toMatchObject({ reason: 'bad-signature', code: 'BadJwtSignature' });
      }
      expect(resolve).not.toHaveBeenCalled();
      expect(dids.hitsFor(alice)).toBe(0);
    });

    it('an access token type (at+jwt) even when signed by the issuer', async () => {
      const header = Buffer.from(JSON.stringify({ typ: 'at+jwt', alg: 'ES256K' })).toString('base64url');
      const payload = Buffer.from(JSON.stringify({ iss: alice, aud: SERVICE_DID, lxm: LXM, exp: nowSeconds() + 60 })).toString('base64url');
      const sig = Buffer.from(await aliceKey.sign(Buffer.from(`${header}.${payload}`))).toString('base64url');
      await expectRejected(`Bearer ${header}.${payload}.${sig}`, 'malformed', 'BadJwtType');
    });
  });

  describe('key rotation', () => {
    it('accepts a token signed with a rotated key after re-fetching the cached DID document once', async () => {
      const verifier = newVerifier();
      await expect(verifier.verify(bearer(await token()), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      expect(dids.hitsFor(alice)).toBe(1);

      const rotated = await Secp256k1Keypair.create();
      dids.publish(alice, rotated);
      const jwt = await token({ keypair: rotated });
      await expect(verifier.verify(bearer(jwt), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      expect(dids.hitsFor(alice)).toBe(2);

      // The refreshed document is cached: the new key needs no fetch, the old key no longer verifies
      // (and its re-fetch falls inside the forced-refresh interval, so it is served from the cache).
      await expect(verifier.verify(bearer(await token({ keypair: rotated })), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      expect(dids.hitsFor(alice)).toBe(2);
      const err = await rejectionOf(verifier.verify(bearer(await token({ keypair: aliceKey })), LXM));
      expect(err).toMatchObject({ reason: 'bad-signature' });
      expect(dids.hitsFor(alice)).toBe(2);
    });

    it('re-verifies a cached token once its issuer is seen with a new key', async () => {
      const verifier = newVerifier();
      const old = await token();
      await expect(verifier.verify(bearer(old), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      await expect(verifier.verify(bearer(old), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      expect(verifier.stats.fromCache).toBe(1);

      // The old key leaked and alice rotated: her next token brings the new document in.
      const rotated = await Secp256k1Keypair.create();
      dids.publish(alice, rotated);
      await expect(verifier.verify(bearer(await token({ keypair: rotated })), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });

      const err = await rejectionOf(verifier.verify(bearer(old), LXM));
      expect(err).toMatchObject({ reason: 'bad-signature', code: 'BadJwtSignature' });
      expect(verifier.stats.fromCache).toBe(1);
    });

    it('re-fetches a DID at most once per interval however many forged tokens name it', async () => {
      const verifier = newVerifier({ minForcedRefreshIntervalMs: 60_000 });
      const mallory = await Secp256k1Keypair.create();
      const forged = await Promise.all(Array.from({ length: 20 }, () => token({ keypair: mallory })));
      const results = await Promise.allSettled(forged.map((jwt) => verifier.verify(bearer(jwt), LXM)));
      expect(results.every((r) => r.status === 'rejected' && (r.reason as AuthRequiredError).reason === 'bad-signature')).toBe(true);
      expect(dids.hitsFor(alice)).toBe(2);
      for (const jwt of forged.slice(0, 5)) await rejectionOf(verifier.verify(bearer(jwt), LXM));
      expect(dids.hitsFor(alice)).toBe(2);
    });
  });

  describe('identity infrastructure', () => {
    it('reports a failing PLC directory as IdentityUnavailableError, not as a bad credential', async () => {
      dids.failWithStatus = 503;
      const err = await rejectionOf(newVerifier().verify(bearer(await token()), LXM));
      expect(err).toBeInstanceOf(IdentityUnavailableError);
      expect(err).toMatchObject({ xrpcError: 'UpstreamFailure', status: 502, did: alice });
    });

    it('reports an unreachable did:web host as IdentityUnavailableError, and a host without a document as an unknown issuer', async () => {
      const closed = await freeLocalPort();
      const unreachable = `did:web:localhost%3A${closed}`;
      const err = await rejectionOf(newVerifier().verify(bearer(await token({ iss: unreachable })), LXM));
      expect(err).toBeInstanceOf(IdentityUnavailableError);
      expect(err).toMatchObject({ did: unreachable });
      // A host that answers, but without a document: the issuer's problem.
      dids.failWithStatus = 404;
      await expect(newVerifier().verify(bearer(await token({ iss: dids.webDid })), LXM)).rejects.toMatchObject({ reason: 'unknown-issuer' });
    });

    it('answers a DID that just failed from memory for a short while, then asks again', async () => {
      const verifier = newVerifier({ failureCacheTtlMs: 10_000 });
      const ghost = 'did:plc:ghost0000000000000000000';
      const jwt = () => token({ iss: ghost });
      for (let i = 0; i < 3; i++) await expect(verifier.verify(bearer(await jwt()), LXM)).rejects.toMatchObject({ reason: 'unknown-issuer' });
      expect(dids.hitsFor(ghost)).toBe(1);
      dids.publish(ghost, aliceKey);
      const later = Date.now() + 10_001;
      const fresh = await token({ iss: ghost, exp: Math.floor(later / 1000) + 60 });
      jest.spyOn(Date, 'now').mockReturnValue(later);
      await expect(verifier.verify(bearer(fresh), LXM)).resolves.toEqual({ kind: 'viewer', did: ghost });
      expect(dids.hitsFor(ghost)).toBe(2);
    });

    it('keeps using a stale cached DID document when its refresh fails', async () => {
      const verifier = newVerifier({ verifiedCacheSize: 0 });
      await verifier.verify(bearer(await token()), LXM);
      dids.failWithStatus = 503;
      const later = Date.now() + 120_000;
      const jwt = await token({ exp: Math.floor(later / 1000) + 60 });
      jest.spyOn(Date, 'now').mockReturnValue(later);
      await expect(verifier.verify(bearer(jwt), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      expect(dids.hitsFor(alice)).toBe(2);
    });

    it('keeps SSRF protection on by default: a resolver without allowInsecureFetch will not call a local http PLC', async () => {
      const protectedResolver = createIdResolver({ plcUrl: dids.plcUrl, didCacheTtlMs: 60_000, didCacheMaxTtlMs: 600_000, timeoutMs: 2_000 });
      const err = await rejectionOf(newVerifier({ idResolver: protectedResolver }).verify(bearer(await token()), LXM));
      expect(err).toBeInstanceOf(IdentityUnavailableError);
      // Refused by the SSRF-protected fetch before any request: an IP-literal host (allowIpHost: false).
      expect((err as Error).cause).toMatchObject({ message: 'Invalid hostname' });
      expect(dids.hitsFor(alice)).toBe(0);
    });
  });

  describe('bounded identity resolution', () => {
    const resolverWith = (options: Partial<IdResolverFactoryOptions>) =>
      createIdResolver({ plcUrl: dids.plcUrl, didCacheTtlMs: 60_000, didCacheMaxTtlMs: 600_000, timeoutMs: 2_000, allowInsecureFetch: true, ...options });

    it('keeps only DID documents with a usable #atproto key', async () => {
      const verifier = newVerifier({ failureCacheTtlMs: 0 });
      const keyless = 'did:plc:keyless000000000000000000';
      dids.publish(keyless, null);
      for (let i = 0; i < 2; i++) {
        await expect(verifier.verify(bearer(await token({ iss: keyless })), LXM)).rejects.toMatchObject({ reason: 'unknown-issuer' });
        await expect(verifier.verify(bearer(await token()), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      }
      expect(dids.hitsFor(keyless)).toBe(2);
      expect(dids.hitsFor(alice)).toBe(1);
      expect((idResolver.did.cache as BoundedDidCache).size).toBe(1);
    });

    it('refuses a DID document over 64 KiB as an unknown issuer, and keeps none of it', async () => {
      const big = 'did:plc:big0000000000000000000000';
      dids.publish(big, aliceKey, 70 * 1024);
      const err = await rejectionOf(newVerifier().verify(bearer(await token({ iss: big })), LXM));
      expect(err).toMatchObject({ reason: 'unknown-issuer', code: 'UnknownIssuer' });
      expect((err as Error).cause).toBeInstanceOf(DidDocumentTooLargeError);
      expect((idResolver.did.cache as BoundedDidCache).size).toBe(0);
      // Just under the limit is a document like any other.
      dids.publish(big, aliceKey, 60 * 1024);
      await expect(newVerifier().verify(bearer(await token({ iss: big })), LXM)).resolves.toEqual({ kind: 'viewer', did: big });
    });

    it('keeps DID documents within its byte budget, dropping the least recently used', async () => {
      const resolver = resolverWith({ maxCachedBytes: 100_000 });
      const verifier = newVerifier({ idResolver: resolver });
      const cache = resolver.did.cache as BoundedDidCache;
      for (let i = 0; i < 12; i++) {
        const did = `did:plc:budget${String(i).padStart(18, '0')}`;
        const keypair = await Secp256k1Keypair.create();
        dids.publish(did, keypair, 20_000);
        await expect(verifier.verify(bearer(await token({ iss: did, keypair })), LXM)).resolves.toEqual({ kind: 'viewer', did });
        expect(cache.bytes).toBeLessThanOrEqual(100_000);
      }
      expect(cache.size).toBe(4);
    });

    it('refuses resolutions beyond the concurrency limit and its queue at once, as an identity outage', async () => {
      dids.delayMs = 1_000;
      const verifier = newVerifier({ idResolver: resolverWith({ maxConcurrentResolutions: 2, maxQueuedResolutions: 2 }) });
      const issuers = Array.from({ length: 10 }, (_, i) => `did:plc:flood${String(i).padStart(19, '0')}`);
      const tokens = await Promise.all(issuers.map((iss) => token({ iss })));
      // The order outcomes settle in: the refused ones must all come before any resolution answered.
      let settled = 0;
      const outcomes = await Promise.all(
        tokens.map(async (jwt) => {
          const err = await rejectionOf(verifier.verify(bearer(jwt), LXM));
          return { err, order: settled++, answered: dids.hits.size };
        }),
      );
      const refused = outcomes.filter(({ err }) => err instanceof IdentityUnavailableError);
      expect(refused).toHaveLength(6);
      for (const { err, order, answered } of refused) {
        expect((err as Error).cause).toBeInstanceOf(ResolutionRefusedError);
        expect(order).toBeLessThan(6);
        expect(answered).toBe(0);
      }
      expect(issuers.reduce((sum, did) => sum + dids.hitsFor(did), 0)).toBe(4);
      expect(outcomes.filter(({ err }) => (err as AuthRequiredError).reason === 'unknown-issuer')).toHaveLength(4);
    });

    it('refuses a second resolution of one issuer while its limit is in use', async () => {
      dids.delayMs = 200;
      const resolver = resolverWith({ maxResolutionsPerIssuer: 1 });
      const [first, second] = await Promise.allSettled([resolver.did.resolve(alice, true), resolver.did.resolve(alice, true)]);
      expect(first).toMatchObject({ status: 'fulfilled' });
      expect(second).toMatchObject({ status: 'rejected', reason: expect.any(ResolutionRefusedError) });
      expect(dids.hitsFor(alice)).toBe(1);
    });
  });

  describe('verified-token cache', () => {
    it('serves a token seen before without resolving or verifying it again', async () => {
      const verifier = newVerifier();
      const resolve = jest.spyOn(idResolver.did, 'resolve');
      const jwt = await token();
      await verifier.verify(bearer(jwt), LXM);
      await verifier.verify(bearer(jwt), LXM);
      expect(resolve).toHaveBeenCalledTimes(1);

      const uncached = newVerifier({ verifiedCacheSize: 0 });
      await uncached.verify(bearer(jwt), LXM);
      await uncached.verify(bearer(jwt), LXM);
      expect(resolve).toHaveBeenCalledTimes(3);
    });

    it('rejects a cached token once it has expired', async () => {
      const verifier = newVerifier();
      const jwt = await token({ exp: nowSeconds() + 30 });
      await expect(verifier.verify(bearer(jwt), LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 31_000);
      const err = await rejectionOf(verifier.verify(bearer(jwt), LXM));
      expect(err).toMatchObject({ reason: 'expired', code: 'JwtExpired' });
    });

    it('does not let a token cached for one method pass for another', async () => {
      const verifier = newVerifier();
      const jwt = await token();
      await verifier.verify(bearer(jwt), LXM);
      const err = await rejectionOf(verifier.verify(bearer(jwt), 'app.bsky.feed.describeFeedGenerator'));
      expect(err).toMatchObject({ reason: 'wrong-method' });
    });
  });

  it('checks a token\'s signature once and serves it from the verified-token cache after (the figure is in bench:feed)', async () => {
    const jwt = bearer(await token());
    const counted = (verifiedCacheSize?: number) => {
      const checks = jest.fn(cryptoVerifySignatureWithKey);
      const verifier = newVerifier({ verifySignature: checks, ...(verifiedCacheSize === undefined ? {} : { verifiedCacheSize }) });
      return { checks, verifier };
    };
    const cached = counted();
    const uncached = counted(0);
    for (let i = 0; i < 1_000; i++) {
      await expect(cached.verifier.verify(jwt, LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
      if (i < 20) await expect(uncached.verifier.verify(jwt, LXM)).resolves.toEqual({ kind: 'viewer', did: alice });
    }
    expect(cached.checks).toHaveBeenCalledTimes(1);
    expect(uncached.checks).toHaveBeenCalledTimes(20);
  });
});
