// A worker thread of Secp256k1WorkerPool: sha256 of each message, then libsecp256k1's verify (after
// normalizing to low S, which libsecp256k1 requires and @noble with `allowMalleableSig` does not).
//
// @NOTE Erasable TypeScript only (no enums, no parameter properties, type-only imports): under Jest
// this file runs as is, with Node stripping its types.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

interface Secp256k1Binding {
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, publicKey: Uint8Array): boolean;
  signatureNormalize(sig: Uint8Array): Uint8Array;
}

/** What the pool hands the worker: where the native binding is, and the layout of a job. */
interface WorkerSetup {
  bindingPath: string;
  sigBytes: number;
  pointBytes: number;
}

/** One batch: `count` jobs of (length u32, message, compact signature, uncompressed key), back to back. */
interface Batch {
  id: number;
  buffer: ArrayBuffer;
  count: number;
}

const { bindingPath, sigBytes, pointBytes } = workerData as WorkerSetup;
const secp256k1 = createRequire(import.meta.url)(bindingPath) as Secp256k1Binding;

parentPort?.on('message', ({ id, buffer, count }: Batch) => {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const results = new Uint8Array(count);
  let offset = 0;
  for (let i = 0; i < count; i += 1) {
    const length = view.getUint32(offset);
    offset += 4;
    const hash = createHash('sha256').update(bytes.subarray(offset, offset + length)).digest();
    offset += length;
    const sig = bytes.slice(offset, offset + sigBytes);
    offset += sigBytes;
    const point = bytes.subarray(offset, offset + pointBytes);
    offset += pointBytes;
    try {
      results[i] = secp256k1.ecdsaVerify(secp256k1.signatureNormalize(sig), hash, point) ? 1 : 0;
    } catch {
      results[i] = 0;
    }
  }
  parentPort?.postMessage({ id, results }, [results.buffer]);
});
