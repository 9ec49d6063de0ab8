import { afterEach, describe, expect, it } from '@jest/globals';
import { parseDidKey, Secp256k1Keypair } from '@atproto/crypto';
import { Secp256k1PoolClosedError, Secp256k1WorkerPool } from './secp256k1-worker.pool.js';
import { SignatureVerifier } from './signature.verifier.js';

const ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const to32 = (value: bigint) => Buffer.from(value.toString(16).padStart(64, '0'), 'hex');

describe('Secp256k1WorkerPool', () => {
  const pools: Secp256k1WorkerPool[] = [];
  const start = (threads = 1) => {
    const pool = new Secp256k1WorkerPool(threads);
    pools.push(pool);
    return pool;
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
  });

  it('checks many signatures sent in one turn, each with its own answer', async () => {
    const pool = start(2);
    const keypairs = await Promise.all([Secp256k1Keypair.create(), Secp256k1Keypair.create()]);
    const jobs = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const keypair = keypairs[i % 2]!;
        const msg = new Uint8Array(Buffer.from(`message number ${i} `.repeat(1 + (i % 7))));
        const sig = await keypair.sign(msg);
        const wrongKey = i % 5 === 0;
        const point = parseDidKey(keypairs[wrongKey ? (i + 1) % 2 : i % 2]!.did()).keyBytes;
        return { msg, sig, point, expected: !wrongKey };
      }),
    );
    const answers = await Promise.all(jobs.map((job) => pool.verify(job.msg, job.sig, job.point)));
    expect(answers).toEqual(jobs.map((job) => job.expected));
    // Queued in one turn: one message to one of the (idle) workers.
    expect(pool.stats).toEqual({ batches: 1, jobs: 200 });
  });

  it('sends what queued up while its worker was busy as the next batch', async () => {
    const pool = start(1);
    const keypair = await Secp256k1Keypair.create();
    const point = parseDidKey(keypair.did()).keyBytes;
    const msg = new Uint8Array(Buffer.from('batch'));
    const sig = await keypair.sign(msg);
    const first = pool.verify(msg, sig, point);
    await new Promise((resolve) => setImmediate(resolve));
    // The first batch is now with the worker; these wait for it, then go together.
    const rest = Array.from({ length: 50 }, () => pool.verify(msg, sig, point));
    expect(await Promise.all([first, ...rest])).toEqual(Array.from({ length: 51 }, () => true));
    expect(pool.stats).toEqual({ batches: 2, jobs: 51 });
  });

  it('accepts high-S signatures and refuses scalars out of range, like @noble with allowMalleableSig', async () => {
    const pool = start();
    const keypair = await Secp256k1Keypair.create();
    const point = parseDidKey(keypair.did()).keyBytes;
    const msg = new Uint8Array(Buffer.from('hello'));
    const sig = await keypair.sign(msg);
    const r = BigInt(`0x${Buffer.from(sig.subarray(0, 32)).toString('hex')}`);
    const s = BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`);
    const highS = new Uint8Array(Buffer.concat([to32(r), to32(ORDER - s)]));
    expect(await pool.verify(msg, highS, point)).toBe(true);
    expect(await pool.verify(msg, new Uint8Array(Buffer.concat([to32(ORDER), to32(s)])), point)).toBe(false);
    expect(await pool.verify(msg, new Uint8Array(64), point)).toBe(false);
    // S out of range: the order itself, one past it, and the largest 32-byte number (S ≡ S − n mod n, which a lax check would take).
    for (const scalar of [ORDER, ORDER + 1n, 2n ** 256n - 1n]) expect(await pool.verify(msg, new Uint8Array(Buffer.concat([to32(r), to32(scalar)])), point)).toBe(false);
    // The worker hashes what it is given: a different message does not verify.
    expect(await pool.verify(new Uint8Array(Buffer.from('hellO')), sig, point)).toBe(false);
  });

  it('refuses work once closed, failing the jobs still queued', async () => {
    const pool = start();
    const keypair = await Secp256k1Keypair.create();
    const msg = new Uint8Array(Buffer.from('x'));
    const pending = expect(pool.verify(msg, await keypair.sign(msg), parseDidKey(keypair.did()).keyBytes)).rejects.toBeInstanceOf(
      Secp256k1PoolClosedError,
    );
    await pool.close();
    await pending;
    await expect(pool.verify(msg, new Uint8Array(64), new Uint8Array(65))).rejects.toBeInstanceOf(Secp256k1PoolClosedError);
    expect(pool.usable).toBe(false);
  });

  it('lets a SignatureVerifier go on checking on its own thread after it is closed', async () => {
    const verifier = new SignatureVerifier({ threads: 1 });
    const keypair = await Secp256k1Keypair.create();
    const msg = new Uint8Array(Buffer.from('still checked'));
    let sig = await keypair.sign(msg);
    expect(await verifier.verify(keypair.did(), msg, sig, 'ES256K')).toBe(true);
    await verifier.close();
    sig = await keypair.sign(msg);
    expect(await verifier.verify(keypair.did(), msg, sig, 'ES256K')).toBe(true);
    expect(await verifier.verify(keypair.did(), new Uint8Array(Buffer.from('tampered')), sig, 'ES256K')).toBe(false);
  });
});
