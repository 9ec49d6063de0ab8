import { randomBytes } from 'node:crypto';
import { Secp256k1Keypair, verifySignature } from '@atproto/crypto';
import { accountKeysAreNative, createAccountKeypair, importAccountKeypair } from './account-keypair.js';

describe('account keys of the evaluation', () => {
  it('sign in libsecp256k1 on this machine', () => {
    expect(accountKeysAreNative).toBe(true);
  });

  it('give the signatures and did:key of @atproto/crypto for the same private key', async () => {
    for (let i = 0; i < 20; i += 1) {
      const privateKey = new Uint8Array(randomBytes(32));
      const [native, reference] = await Promise.all([importAccountKeypair(privateKey), Secp256k1Keypair.import(privateKey)]);
      const message = new Uint8Array(randomBytes(100 + i));
      expect(native.jwtAlg).toBe(reference.jwtAlg);
      expect(native.did()).toBe(reference.did());
      expect(Buffer.from(await native.sign(message)).toString('hex')).toBe(Buffer.from(await reference.sign(message)).toString('hex'));
    }
  });

  it('make new keys whose signatures verify (strictly: low S, compact) and no other', async () => {
    const [key, other] = await Promise.all([createAccountKeypair(), createAccountKeypair()]);
    const message = new TextEncoder().encode('header.payload');
    const signature = await key.sign(message);
    expect(signature).toHaveLength(64);
    expect(await verifySignature(key.did(), message, signature)).toBe(true);
    expect(await verifySignature(other.did(), message, signature)).toBe(false);
  });

  it('refuses 32 bytes that are not a private key', async () => {
    await expect(importAccountKeypair(new Uint8Array(32))).rejects.toThrow(RangeError);
  });
});
