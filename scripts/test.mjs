#!/usr/bin/env node
// The test command (`npm test`, and so `.ci/run`): type-check, build, start what the tests need
// that the tests cannot start themselves (a real Kafka broker), run Jest, and stop everything.
//
// KAFKA_BROKERS=host:port uses an existing broker instead of starting one. Extra arguments go to
// Jest, e.g. `npm test -- test/integration/kafka-bus.spec.ts`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);

function run(command, commandArgs, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: root, env, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  const started = Date.now();
  console.log('[test] type-checking');
  if ((await run(bin('tsc'), ['-p', 'tsconfig.json'])) !== 0) return 1;
  console.log('[test] building');
  if ((await run(process.execPath, [path.join(root, 'scripts', 'build.mjs')])) !== 0) return 1;

  let broker;
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    const { startBroker } = await import('./kafka-broker.mjs');
    console.log('[test] starting a Kafka broker');
    broker = await startBroker();
    brokers = broker.brokers;
    console.log(`[test] Kafka broker on ${brokers}`);
  }
  const stopBroker = async () => {
    if (!broker) return;
    const current = broker;
    broker = undefined;
    await current.stop();
    console.log('[test] Kafka broker stopped');
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => void stopBroker().then(() => process.exit(130)));
  }

  try {
    // @NOTE The broker address travels as CG_TEST_KAFKA_BROKERS, not KAFKA_BROKERS: the
    // application reads KAFKA_BROKERS to choose scaled mode, and embedded-mode tests must not.
    const env = { ...process.env, CG_TEST_KAFKA_BROKERS: brokers, NODE_OPTIONS: '--experimental-vm-modules --no-warnings' };
    delete env.KAFKA_BROKERS;
    return await run(process.execPath, [bin('jest'), '--runInBand', ...args], env);
  } finally {
    await stopBroker();
    console.log(`[test] done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
}

process.exitCode = await main();
