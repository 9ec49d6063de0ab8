import { createHash, randomBytes } from 'node:crypto';
import { SECP256K1_JWT_ALG, Secp256k1Keypair, type Keypair } from '@atproto/crypto';
import { loadLibsecp256k1, secp256k1DidKey, type Libsecp256k1 } from '#lib/identity';

const libsecp256k1 = loadLibsecp256k1();

/**
 * A secp256k1 account key that signs in libsecp256k1: the same signatures as @atproto/crypto's
 * `Secp256k1Keypair` (RFC 6979 nonces, low S, compact r‖s over the SHA-256 of the message) and the
 * same `did:key`, in native code.
 *
 * @NOTE A Polis conversation replays up to a thousand accounts that send feedback, each with a
 * key, a DID document and a service token: in @noble's pure JavaScript the key, its `did:key`
 * (which decompresses the public key to compress it again) and the signature took some 2 ms of
 * CPU an account.
 */
class NativeSecp256k1Keypair implements Keypair {
  readonly jwtAlg = SECP256K1_JWT_ALG;
  private readonly didKey: string;

  constructor(
    private readonly native: Libsecp256k1,
    private readonly privateKey: Uint8Array,
  ) {
    this.didKey = secp256k1DidKey(native.publicKeyCreate(privateKey, true));
  }

  did(): string {
    return this.didKey;
  }

  sign(msg: Uint8Array): Promise<Uint8Array> {
    const hash = createHash('sha256').update(msg).digest();
    return Promise.resolve(this.native.ecdsaSign(hash, this.privateKey).signature);
  }
}

/** A secp256k1 key for an account from `privateKey` (32 bytes): native where libsecp256k1 loads, else @atproto/crypto's. */
export async function importAccountKeypair(privateKey: Uint8Array): Promise<Keypair> {
  if (libsecp256k1 === undefined) return Secp256k1Keypair.import(privateKey);
  if (!libsecp256k1.privateKeyVerify(privateKey)) throw new RangeError('not a secp256k1 private key');
  return new NativeSecp256k1Keypair(libsecp256k1, privateKey);
}

/** A new random secp256k1 key for an account (see `importAccountKeypair`). */
export async function createAccountKeypair(): Promise<Keypair> {
  if (libsecp256k1 === undefined) return Secp256k1Keypair.create();
  for (;;) {
    // A random 32-byte string is a valid key unless it is 0 or not below the group order (~2⁻¹²⁸).
    const privateKey = new Uint8Array(randomBytes(32));
    if (libsecp256k1.privateKeyVerify(privateKey)) return new NativeSecp256k1Keypair(libsecp256k1, privateKey);
  }
}

/** Whether account keys sign in libsecp256k1 here (else in @atproto/crypto's JavaScript). */
export const accountKeysAreNative = libsecp256k1 !== undefined;
