// The machine's memory filesystem, for files that are many, small and short-lived (chDB's data of
// a test or evaluation run): `/dev/shm` where it is writable and has room, else undefined.
import { accessSync, constants, statfsSync } from 'node:fs';

const SHM = '/dev/shm';

/**
 * `/dev/shm` when this process may write there and it has at least `minFreeBytes` free, else
 * undefined (the caller keeps the usual temporary folder).
 *
 * @NOTE chDB writes every insert as a part of several files and merges them in the background:
 * on this machine's ext4 a five-row insert cost 11.8 ms of CPU, on tmpfs 2.8 ms (200 inserts).
 * @param {number} [minFreeBytes]
 * @returns {string | undefined}
 */
export function memoryFilesystem(minFreeBytes = 0) {
  try {
    accessSync(SHM, constants.W_OK);
    const { bavail, bsize } = statfsSync(SHM);
    return bavail * bsize >= minFreeBytes ? SHM : undefined;
  } catch {
    return undefined;
  }
}
