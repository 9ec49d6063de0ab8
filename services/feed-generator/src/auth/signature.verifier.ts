import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { P256_JWT_ALG, parseDidKey, SECP256K1_JWT_ALG } from '@atproto/crypto';
import { cryptoVerifySignatureWithKey, type VerifySignatureWithKeyFn } from '@atproto/xrpc-server';
import { LRUCache } from 'lru-cache';
import { loadLibsecp256k1, type Libsecp256k1 } from '#lib/identity';
import { Secp256k1WorkerPool } from './secp256k1-worker.pool.js';

/** JWS `alg` → the curve name Node's JWK import knows. */
const CURVES: Readonly<Record<string, string>> = { [SECP256K1_JWT_ALG]: 'secp256k1', [P256_JWT_ALG]: 'P-256' };
/** DER signatures start with a SEQUENCE tag; compact (r‖s) ones are 64 bytes of two scalars. */
const DER_SEQUENCE = 0x30;
const COMPACT_SIGNATURE_BYTES = 64;
/** The only length byte a 64-byte DER SEQUENCE can have (short form: 64 - tag - length byte). */
const DER_LENGTH_OF_64_BYTES = 62;
const UNCOMPRESSED_POINT_BYTES = 65;
/**
 * What a kept key weighs, as the cache counts it: the entry, its `did:key` and decompressed point;
 * an OpenSSL key object adds ~3–5 KB of native memory (RSS measured over thousands of P-256 and
 * secp256k1 keys).
 */
const POINT_ENTRY_BYTES = 512;
const KEY_OBJECT_BYTES = 5_120;

export type Secp256k1Backend = 'libsecp256k1' | 'openssl';

interface ParsedKey {
  jwtAlg: string;
  /** The decompressed point `04 ‖ x ‖ y`. */
  point: Uint8Array;
  /** Checked by libsecp256k1, which takes the point itself. */
  viaLibsecp256k1: boolean;
  /**
   * For OpenSSL. Absent for keys libsecp256k1 checks, and when Node has no curve for the key's
   * algorithm: such keys go to the @atproto/crypto path.
   */
  key: KeyObject | undefined;
}

export interface SignatureVerifierOptions {
  /**
   * Parsed public keys kept, one per `did:key` that signed a valid signature (least recently used
   * dropped first). Default 50 000.
   */
  maxKeys?: number;
  /**
   * The most the kept keys may weigh, in bytes (a key with an OpenSSL key object counts ~5.6 KB,
   * one libsecp256k1 checks 512 B). Default 64 MiB: 50 000 secp256k1 keys, or ~12 000 P-256 ones.
   */
  maxBytes?: number;
  /**
   * Who checks ES256K (secp256k1) signatures. Default libsecp256k1 where its binding loads, else
   * OpenSSL. ES256 (P-256) always goes to OpenSSL.
   */
  secp256k1?: Secp256k1Backend;
  /**
   * With libsecp256k1: check secp256k1 signatures on this many worker threads instead of the
   * calling thread (the event loop). Default 0 (calling thread). Call `close` to stop them.
   */
  threads?: number;
}

/**
 * JWT signature checks in native code instead of @atproto/crypto's pure-JS @noble/curves, with the
 * same answers: pass `verify` as `verifyJwt`'s `verifySignatureWithKey`.
 *
 * The AppView sends a freshly minted service JWT with every getFeedSkeleton call, so every request
 * pays one ECDSA verification. Accounts' keys are nearly all secp256k1, where OpenSSL has only its
 * generic prime-curve code (~6x @noble) and libsecp256k1 is ~6x faster again; P-256 is fast in
 * OpenSSL (~25x @noble). Figures: `npm run bench:feed`. A `did:key` is decoded and decompressed
 * once and kept, once a signature verified with it.
 *
 * @NOTE Only keys that verified a signature are kept: a forged token from a fresh issuer, with a
 * P-256 key of its own and a garbage signature, costs one parse and leaves nothing behind (each
 * left an OpenSSL key object, ~5 KB of RSS, in the cache). The cache is bounded by weight as well
 * as by count, so that issuers that do sign validly with keys of their own (a did:web per
 * subdomain is cheap) pin at most `maxBytes`.
 *
 * @NOTE Semantics are those of verifyJwt's default, `verifySignature(key, msg, sig, { jwtAlg,
 * allowMalleableSig: true })`:
 *  - a header `alg` that is not the key's algorithm throws (verifyJwt answers BadJwtSignature);
 *    like verifySignature, an empty `alg` is not compared;
 *  - high-S signatures are accepted: @noble skips the low-S rule when malleable, OpenSSL never
 *    applies it, and for libsecp256k1 (which requires low S) the signature is normalized first;
 *  - with `allowMalleableSig` @noble also accepts a DER-encoded signature, trying DER before
 *    compact. A DER signature starts with 0x30 and, when it is 64 bytes long, continues with 62
 *    (@noble refuses non-minimal long-form lengths), so `mayBeDer` signatures (all DER ones and
 *    1 in 65 536 compact ones) are handed to @atproto/crypto, which decides exactly as before;
 *  - otherwise the signature must be compact r‖s of 64 bytes with 0 < r, s < n, as @noble's
 *    `fromCompact` requires; OpenSSL's `ieee-p1363` encoding and libsecp256k1's compact parse are
 *    that format and range.
 * Any algorithm without a native path also goes to @atproto/crypto.
 */
export class SignatureVerifier {
  /** Verifications answered by each implementation (for tests). */
  readonly counts = { libsecp256k1: 0, openssl: 0, atproto: 0 };
  readonly secp256k1Backend: Secp256k1Backend;
  private readonly keys: LRUCache<string, ParsedKey>;
  private readonly libsecp256k1: Libsecp256k1 | undefined;
  private readonly threads: number;
  private pool: Secp256k1WorkerPool | undefined;
  private poolStopped = false;

  constructor(options: SignatureVerifierOptions = {}) {
    const maxKeys = options.maxKeys ?? 50_000;
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    if (!(maxKeys >= 1)) throw new RangeError('SignatureVerifier: maxKeys must be at least 1');
    if (!(maxBytes >= POINT_ENTRY_BYTES + KEY_OBJECT_BYTES)) throw new RangeError(`SignatureVerifier: maxBytes must be at least ${POINT_ENTRY_BYTES + KEY_OBJECT_BYTES}`);
    this.keys = new LRUCache<string, ParsedKey>({ max: maxKeys, maxSize: maxBytes, sizeCalculation: weightOf });
    this.libsecp256k1 = options.secp256k1 === 'openssl' ? undefined : loadLibsecp256k1();
    if (options.secp256k1 === 'libsecp256k1' && this.libsecp256k1 === undefined) {
      throw new Error('SignatureVerifier: the libsecp256k1 binding (package secp256k1) does not load on this platform');
    }
    this.secp256k1Backend = this.libsecp256k1 ? 'libsecp256k1' : 'openssl';
    this.threads = this.libsecp256k1 ? (options.threads ?? 0) : 0;
    if (!(Number.isInteger(this.threads) && this.threads >= 0)) throw new RangeError('SignatureVerifier: threads must be a non-negative integer');
  }

  /** Parsed keys kept now, and what they weigh as the cache counts it (bytes). */
  get cachedKeys(): { count: number; bytes: number } {
    return { count: this.keys.size, bytes: this.keys.calculatedSize };
  }

  /** Messages sent to the worker threads and the checks they carried (none without threads). */
  get workerStats(): { batches: number; jobs: number } {
    return { ...(this.pool?.stats ?? { batches: 0, jobs: 0 }) };
  }

  /** Stops the worker threads, if any were started; verification goes on on the calling thread. */
  async close(): Promise<void> {
    this.poolStopped = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }

  readonly verify: VerifySignatureWithKeyFn = async (didKey, msgBytes, sigBytes, alg) => {
    const cached = this.keys.get(didKey);
    const parsed = cached ?? this.parse(didKey);
    const valid = await this.check(parsed, didKey, msgBytes, sigBytes, alg);
    if (valid && cached === undefined) this.keys.set(didKey, parsed);
    return valid;
  };

  private async check(parsed: ParsedKey, didKey: string, msgBytes: Uint8Array, sigBytes: Uint8Array, alg: string): Promise<boolean> {
    // Same test as verifySignature's `opts.jwtAlg && opts.jwtAlg !== parsed.jwtAlg`.
    if (alg && alg !== parsed.jwtAlg) throw new Error(`Expected key alg ${alg}, got ${parsed.jwtAlg}`);
    if ((!parsed.viaLibsecp256k1 && parsed.key === undefined) || mayBeDer(sigBytes)) {
      this.counts.atproto += 1;
      return cryptoVerifySignatureWithKey(didKey, msgBytes, sigBytes, alg);
    }
    if (parsed.viaLibsecp256k1 && this.libsecp256k1 !== undefined) {
      this.counts.libsecp256k1 += 1;
      if (sigBytes.length !== COMPACT_SIGNATURE_BYTES) return false;
      const pool = this.workerPool();
      if (pool) {
        try {
          return await pool.verify(msgBytes, sigBytes, parsed.point);
        } catch {
          // The pool was closed or a worker died: this check, and the next ones, run here.
        }
      }
      const hash = createHash('sha256').update(msgBytes).digest();
      try {
        return this.libsecp256k1.ecdsaVerify(this.libsecp256k1.signatureNormalize(Uint8Array.from(sigBytes)), hash, parsed.point);
      } catch {
        // r or s not below the group order: not a signature @noble would parse either.
        return false;
      }
    }
    this.counts.openssl += 1;
    if (sigBytes.length !== COMPACT_SIGNATURE_BYTES || parsed.key === undefined) return false;
    return verify('sha256', msgBytes, { key: parsed.key, dsaEncoding: 'ieee-p1363' }, sigBytes);
  }

  /** The worker threads, started on first use; none after `close` or after a worker failed. */
  private workerPool(): Secp256k1WorkerPool | undefined {
    if (this.threads === 0 || this.poolStopped) return undefined;
    if (this.pool && !this.pool.usable) {
      void this.close();
      return undefined;
    }
    this.pool ??= new Secp256k1WorkerPool(this.threads);
    return this.pool;
  }

  /** Throws for a malformed or unsupported did:key, as verifySignature does. */
  private parse(didKey: string): ParsedKey {
    const { jwtAlg, keyBytes } = parseDidKey(didKey);
    // @NOTE An OpenSSL key object weighs ~5 KB: none is made for the keys libsecp256k1 checks.
    const viaLibsecp256k1 = jwtAlg === SECP256K1_JWT_ALG && this.libsecp256k1 !== undefined && isUncompressedPoint(keyBytes);
    return { jwtAlg, point: keyBytes, viaLibsecp256k1, key: viaLibsecp256k1 ? undefined : toKeyObject(jwtAlg, keyBytes) };
  }
}

/** What a kept key counts for against `maxBytes`. */
function weightOf(parsed: ParsedKey): number {
  return POINT_ENTRY_BYTES + (parsed.key === undefined ? 0 : KEY_OBJECT_BYTES);
}

/** Whether @noble's DER parser could accept `sig`; if not, it reads it as compact or refuses it. */
function mayBeDer(sig: Uint8Array): boolean {
  return sig[0] === DER_SEQUENCE && (sig.length !== COMPACT_SIGNATURE_BYTES || sig[1] === DER_LENGTH_OF_64_BYTES);
}

/** parseDidKey returns the decompressed point `04 ‖ x ‖ y`; Node imports it as a JWK. */
function isUncompressedPoint(point: Uint8Array): boolean {
  return point.length === UNCOMPRESSED_POINT_BYTES && point[0] === 0x04;
}

function toKeyObject(jwtAlg: string, point: Uint8Array): KeyObject | undefined {
  const crv = CURVES[jwtAlg];
  if (crv === undefined || !isUncompressedPoint(point)) return undefined;
  const bytes = Buffer.from(point.buffer, point.byteOffset, point.byteLength);
  return createPublicKey({
    key: { kty: 'EC', crv, x: bytes.subarray(1, 33).toString('base64url'), y: bytes.subarray(33).toString('base64url') },
    format: 'jwk',
  });
}
