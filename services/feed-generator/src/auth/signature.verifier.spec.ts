import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { P256Keypair, Secp256k1Keypair, type Keypair } from '@atproto/crypto';
import { cryptoVerifySignatureWithKey } from '@atproto/xrpc-server';
import { SignatureVerifier } from './signature.verifier.js';

const K256_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const CASES = [
  { name: 'secp256k1 with libsecp256k1', alg: 'ES256K', create: () => Secp256k1Keypair.create(), n: K256_ORDER, secp256k1: 'libsecp256k1', threads: 0, path: 'libsecp256k1' },
  { name: 'secp256k1 with libsecp256k1 on a worker thread', alg: 'ES256K', create: () => Secp256k1Keypair.create(), n: K256_ORDER, secp256k1: 'libsecp256k1', threads: 1, path: 'libsecp256k1' },
  { name: 'secp256k1 with OpenSSL', alg: 'ES256K', create: () => Secp256k1Keypair.create(), n: K256_ORDER, secp256k1: 'openssl', threads: 0, path: 'openssl' },
  { name: 'P-256 with OpenSSL', alg: 'ES256', create: () => P256Keypair.create(), n: P256_ORDER, secp256k1: 'libsecp256k1', threads: 0, path: 'openssl' },
] as const;

const toBig = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
const to32 = (value: bigint) => Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
const compact = (r: bigint, s: bigint) => new Uint8Array(Buffer.concat([to32(r), to32(s)]));

/** DER `SEQUENCE { INTEGER r, INTEGER s }`, minimal encoding. */
function der(r: bigint, s: bigint): Uint8Array {
  const int = (value: bigint) => {
    const hex = value.toString(16);
    let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    if (bytes[0]! >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30, body.length]), body]));
}

/** Both verifiers' answer: `true`/`false`, or `'throws'`. */
async function outcome(verify: (key: string, msg: Uint8Array, sig: Uint8Array, alg: string) => Promise<boolean>, ...args: [string, Uint8Array, Uint8Array, string]) {
  try {
    return await verify(...args);
  } catch {
    return 'throws';
  }
}

describe('SignatureVerifier', () => {
  describe.each(CASES)('$name ($alg)', ({ alg, create, n, secp256k1, threads, path }) => {
    const started: SignatureVerifier[] = [];
    const newVerifier = () => {
      const verifier = new SignatureVerifier({ secp256k1, threads });
      started.push(verifier);
      return verifier;
    };
    afterEach(async () => {
      await Promise.all(started.splice(0).map((verifier) => verifier.close()));
    });
    let keypair: Keypair;
    let other: Keypair;
    const message = new Uint8Array(Buffer.from('eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NksifQ.eyJpc3MiOiJkaWQ6cGxjOmFsaWNlIn0', 'utf8'));

    const sameAsAtproto = async (verifier: SignatureVerifier, key: string, msg: Uint8Array, sig: Uint8Array, jwtAlg: string = alg) => {
      const ours = await outcome(verifier.verify, key, msg, sig, jwtAlg);
      expect(ours).toBe(await outcome(cryptoVerifySignatureWithKey, key, msg, sig, jwtAlg));
      return ours;
    };

    beforeAll(async () => {
      keypair = await create();
      other = await create();
    });

    it('accepts signatures made by @atproto/crypto keypairs', async () => {
      const verifier = newVerifier();
      for (let i = 0; i < 20; i += 1) {
        const msg = new Uint8Array(randomBytes(40 + i * 13));
        const sig = await keypair.sign(msg);
        expect(await sameAsAtproto(verifier, keypair.did(), msg, sig)).toBe(true);
      }
      expect(verifier.counts[path] + verifier.counts.atproto).toBe(20);
      expect(verifier.counts[path]).toBeGreaterThan(0);
    });

    it('refuses a tampered message, a tampered signature and another key', async () => {
      const verifier = newVerifier();
      const sig = await keypair.sign(message);
      const tamperedMessage = message.slice();
      tamperedMessage[5] = tamperedMessage[5]! ^ 1;
      expect(await sameAsAtproto(verifier, keypair.did(), tamperedMessage, sig)).toBe(false);
      for (const index of [1, 31, 32, 63]) {
        const tamperedSig = sig.slice();
        tamperedSig[index] = tamperedSig[index]! ^ 0x10;
        expect(await sameAsAtproto(verifier, keypair.did(), message, tamperedSig)).toBe(false);
      }
      expect(await sameAsAtproto(verifier, other.did(), message, sig)).toBe(false);
    });

    it('throws when the header alg is not the key algorithm, like verifySignature', async () => {
      const verifier = newVerifier();
      const sig = await keypair.sign(message);
      const wrong = alg === 'ES256K' ? 'ES256' : 'ES256K';
      for (const jwtAlg of [wrong, 'none', 'HS256', 'RS256']) {
        expect(await sameAsAtproto(verifier, keypair.did(), message, sig, jwtAlg)).toBe('throws');
      }
    });

    it('accepts a high-S signature (allowMalleableSig), as verifyJwt does by default', async () => {
      const verifier = newVerifier();
      const sig = await keypair.sign(message);
      const r = toBig(sig.subarray(0, 32));
      const s = toBig(sig.subarray(32));
      expect(await sameAsAtproto(verifier, keypair.did(), message, compact(r, n - s))).toBe(true);
    });

    it('decides DER-encoded signatures exactly as @atproto/crypto (which accepts them when malleable)', async () => {
      const verifier = newVerifier();
      const sig = await keypair.sign(message);
      const r = toBig(sig.subarray(0, 32));
      const s = toBig(sig.subarray(32));
      expect(await sameAsAtproto(verifier, keypair.did(), message, der(r, s))).toBe(true);
      expect(await sameAsAtproto(verifier, keypair.did(), message, der(r, n - s))).toBe(true);
      expect(await sameAsAtproto(verifier, keypair.did(), message, der(r, s + 1n))).toBe(false);
    });

    it('refuses out-of-range scalars and signatures of the wrong length', async () => {
      const verifier = newVerifier();
      const sig = await keypair.sign(message);
      const r = toBig(sig.subarray(0, 32));
      const s = toBig(sig.subarray(32));
      for (const bad of [compact(0n, s), compact(r, 0n), compact(r + n, s), compact(r, s + n), compact(n, s), compact(r, n)]) {
        if (bad.length === 64) expect(await sameAsAtproto(verifier, keypair.did(), message, bad)).toBe(false);
      }
      for (const bad of [sig.subarray(0, 63), new Uint8Array([...sig, 0]), new Uint8Array(0), new Uint8Array(64)]) {
        expect(await sameAsAtproto(verifier, keypair.did(), message, bad)).toBe(false);
      }
    });

    it('agrees with @atproto/crypto on randomly corrupted signatures', async () => {
      const verifier = newVerifier();
      const sig = await keypair.sign(message);
      let accepted = 0;
      for (let i = 0; i < 60; i += 1) {
        const corrupted = sig.slice();
        const flips = 1 + (i % 3);
        for (let f = 0; f < flips; f += 1) {
          const at = (i * 7 + f * 29) % 64;
          corrupted[at] = corrupted[at]! ^ (1 << ((i + f) % 8));
        }
        if ((await sameAsAtproto(verifier, keypair.did(), message, corrupted)) === true) accepted += 1;
      }
      expect(accepted).toBe(0);
    });
  });

  it('checks natively a compact signature that starts like DER (0x30) but cannot be DER', async () => {
    const keypair = await Secp256k1Keypair.create();
    const verifier = new SignatureVerifier();
    for (let i = 0; ; i += 1) {
      const msg = new Uint8Array(Buffer.from(`message ${i}`));
      const sig = await keypair.sign(msg);
      if (sig[0] !== 0x30 || sig[1] === 62) continue;
      await expect(verifier.verify(keypair.did(), msg, sig, 'ES256K')).resolves.toBe(true);
      expect(verifier.counts).toEqual({ libsecp256k1: 1, openssl: 0, atproto: 0 });
      break;
    }
  });

  it('hands a 64-byte signature that parses as DER (30 3e …) to @atproto/crypto, which decides as before', async () => {
    const keypair = await Secp256k1Keypair.create();
    const verifier = new SignatureVerifier();
    const msg = new Uint8Array(Buffer.from('message'));
    const sig = await keypair.sign(msg);
    // A 64-byte DER SEQUENCE { INTEGER (29 bytes), INTEGER (29 bytes) }: it parses, and fails to verify.
    const der64 = new Uint8Array([0x30, 62, 0x02, 29, ...sig.subarray(3, 32).map((b) => (b & 0x7f) | 1), 0x02, 29, ...sig.subarray(35, 64).map((b) => (b & 0x7f) | 1)]);
    expect(der64.length).toBe(64);
    const [ours, theirs] = [await outcome(verifier.verify, keypair.did(), msg, der64, 'ES256K'), await outcome(cryptoVerifySignatureWithKey, keypair.did(), msg, der64, 'ES256K')];
    expect(ours).toBe(theirs);
    expect(verifier.counts).toEqual({ libsecp256k1: 0, openssl: 0, atproto: 1 });
  });

  it('uses libsecp256k1 for secp256k1 by default where its binding loads (linux-x64 here), OpenSSL when asked', () => {
    expect(new SignatureVerifier().secp256k1Backend).toBe('libsecp256k1');
    expect(new SignatureVerifier({ secp256k1: 'openssl' }).secp256k1Backend).toBe('openssl');
  });

  it('throws for a did:key it cannot parse, and remembers at most maxKeys keys', async () => {
    const verifier = new SignatureVerifier({ maxKeys: 2 });
    await expect(verifier.verify('did:key:zNotAKey', new Uint8Array(1), new Uint8Array(64), 'ES256K')).rejects.toThrow();
    await expect(verifier.verify('did:web:example.com', new Uint8Array(1), new Uint8Array(64), 'ES256K')).rejects.toThrow();
    const keys = await Promise.all([Secp256k1Keypair.create(), P256Keypair.create(), Secp256k1Keypair.create()]);
    // Three keys through a two-key memory, twice: evicted keys are parsed again and still verify.
    for (const round of [0, 1]) {
      for (const keypair of keys) {
        const msg = new Uint8Array(Buffer.from(`round ${round}`));
        await expect(verifier.verify(keypair.did(), msg, await keypair.sign(msg), keypair.jwtAlg)).resolves.toBe(true);
        await expect(verifier.verify(keypair.did(), msg, await keypair.sign(msg), 'ES384')).rejects.toThrow();
        expect(verifier.cachedKeys.count).toBeLessThanOrEqual(2);
      }
    }
    expect(verifier.cachedKeys.count).toBe(2);
    expect(() => new SignatureVerifier({ maxKeys: 0 })).toThrow(RangeError);
  });

  it('keeps no key that verified nothing: forged tokens from fresh P-256 issuers leave no key behind', async () => {
    const verifier = new SignatureVerifier();
    const msg = new Uint8Array(Buffer.from('a forged token'));
    for (let i = 0; i < 40; i += 1) {
      const forger = await P256Keypair.create();
      const garbage = new Uint8Array(randomBytes(64));
      // Every few a DER-shaped one too, which @atproto/crypto decides.
      const signature = i % 4 === 0 ? new Uint8Array([0x30, 62, ...garbage.subarray(2)]) : garbage;
      await expect(verifier.verify(forger.did(), msg, signature, 'ES256')).resolves.toBe(false);
    }
    expect(verifier.cachedKeys).toEqual({ count: 0, bytes: 0 });
    const honest = await P256Keypair.create();
    await expect(verifier.verify(honest.did(), msg, await honest.sign(msg), 'ES256')).resolves.toBe(true);
    expect(verifier.cachedKeys.count).toBe(1);
  });

  it('bounds the keys kept by weight: an OpenSSL key object weighs more than a point libsecp256k1 checks', async () => {
    const p256 = await Promise.all(Array.from({ length: 5 }, () => P256Keypair.create()));
    const k256 = await Promise.all(Array.from({ length: 10 }, () => Secp256k1Keypair.create()));
    const verifier = new SignatureVerifier({ maxBytes: 3 * 5_632 });
    const msg = new Uint8Array(Buffer.from('message'));
    for (const keypair of p256) {
      await expect(verifier.verify(keypair.did(), msg, await keypair.sign(msg), 'ES256')).resolves.toBe(true);
      expect(verifier.cachedKeys.bytes).toBeLessThanOrEqual(3 * 5_632);
    }
    expect(verifier.cachedKeys.count).toBe(3);
    for (const keypair of k256) {
      await expect(verifier.verify(keypair.did(), msg, await keypair.sign(msg), 'ES256K')).resolves.toBe(true);
      expect(verifier.cachedKeys.bytes).toBeLessThanOrEqual(3 * 5_632);
    }
    // The same bytes hold ten secp256k1 keys and some of the P-256 ones.
    expect(verifier.cachedKeys.count).toBeGreaterThan(10);
    expect(() => new SignatureVerifier({ maxBytes: 1_000 })).toThrow(RangeError);
  });
});
