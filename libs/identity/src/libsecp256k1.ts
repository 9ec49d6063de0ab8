import { createRequire } from 'node:module';
import { bytesToMultibase, DID_KEY_PREFIX, SECP256K1_DID_PREFIX } from '@atproto/crypto';

/** The part of the `secp256k1` package's native binding (libsecp256k1) this project uses. */
export interface Libsecp256k1 {
  /** Throws when r or s is not below the group order. Modifies `sig` in place. */
  signatureNormalize(sig: Uint8Array): Uint8Array;
  /** Low-S signatures only (hence normalize first); throws when r or s is not below the order. */
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean;
  privateKeyVerify(seckey: Uint8Array): boolean;
  /** The public key of `seckey`, compressed (33 bytes) by default. */
  publicKeyCreate(seckey: Uint8Array, compressed?: boolean): Uint8Array;
  /** Deterministic (RFC 6979) ECDSA over a 32-byte hash, low S, compact r‖s. */
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
}

/**
 * libsecp256k1 through the `secp256k1` package's prebuilt N-API binding (linux-x64 glibc/musl,
 * darwin-arm64, win32-x64), or undefined where it does not load.
 *
 * @NOTE `secp256k1/bindings` is the native module alone. The package's main entry silently falls
 * back to a pure-JS implementation (elliptic) when the binding does not load; callers here fall
 * back to what they choose (OpenSSL, @atproto/crypto) instead.
 */
export function loadLibsecp256k1(): Libsecp256k1 | undefined {
  try {
    return createRequire(import.meta.url)('secp256k1/bindings') as Libsecp256k1;
  } catch {
    return undefined;
  }
}

/**
 * The multikey (`publicKeyMultibase` of a DID document) of a compressed secp256k1 public key:
 * its bytes behind the secp256k1 multicodec prefix, base58btc. `did:key:` and it make the `did:key`.
 *
 * @NOTE Written from the bytes: @atproto/crypto's `formatMultikey` decompresses the point it is
 * given to compress it again, ~0.7 ms of CPU a key.
 */
export function secp256k1Multikey(compressedPublicKey: Uint8Array): string {
  const prefixed = new Uint8Array(SECP256K1_DID_PREFIX.length + compressedPublicKey.length);
  prefixed.set(SECP256K1_DID_PREFIX);
  prefixed.set(compressedPublicKey, SECP256K1_DID_PREFIX.length);
  return bytesToMultibase(prefixed, 'base58btc');
}

/** The `did:key` of a compressed secp256k1 public key. */
export function secp256k1DidKey(compressedPublicKey: Uint8Array): string {
  return `${DID_KEY_PREFIX}${secp256k1Multikey(compressedPublicKey)}`;
}
