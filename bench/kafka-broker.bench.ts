/**
 * What a local Kafka broker (scripts/kafka-broker.mjs) costs in CPU, per profile: formatting its
 * storage, starting until it is ready, waiting idle for a minute, and carrying a test-sized load
 * (messages published and consumed through the project's `KafkaBus`). The test command, the fault
 * campaign and the scaled-mode spec start `test` brokers; the benchmarks keep `throughput` ones.
 *
 *     npm run bench:kafka-broker          # BENCH_BROKER_IDLE_SECONDS=60, BENCH_BROKER_MESSAGES=50000
 *
 * CPU is read from /proc (Linux): the broker JVM's own, and the reaped children of this process
 * (the JVM that formats the storage).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessage } from '#lib/contracts';
import { KafkaBus } from '#lib/kafka';
import { waitFor } from '#lib/testing';
import { startBroker, type BrokerProfile } from '#scripts/kafka-broker.mjs';
import { atMost, reportFigures, type Figure } from './bench-report.js';

const idleSeconds = Number(process.env.BENCH_BROKER_IDLE_SECONDS ?? 60);
const messages = Number(process.env.BENCH_BROKER_MESSAGES ?? 50_000);
/** Goals of the `test` profile; the `throughput` profile took 2.1–2.3 s to start and 1.8–2.0 s per idle minute on 2 cores. */
const TEST_GOAL = { startCpuS: 1.6, idleCpuSPerMinute: 0.8 };
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) of a process, or of the children it reaped, from /proc. */
function procCpuSeconds(pid: number | 'self', which: 'own' | 'children'): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const [user, system] = which === 'own' ? [fields[11], fields[12]] : [fields[13], fields[14]];
  return (Number(user) + Number(system)) / CLOCK_TICKS;
}

async function load(brokers: string, jvmCpu: () => number): Promise<number> {
  const bus = new KafkaBus({ brokers: [brokers], clientId: 'bench-broker', logLevel: 'error' });
  const topic = `bench-broker-${Date.now()}`;
  const received: IncomingMessage[] = [];
  try {
    await bus.ensureTopics([{ name: topic, partitions: 4 }]);
    const subscription = await bus.subscribe({ groupId: `${topic}-reader`, topics: [topic], handler: async (batch) => void received.push(...batch.messages) });
    const before = jvmCpu();
    const payload = 'x'.repeat(400);
    for (let sent = 0; sent < messages; sent += 1_000) {
      await bus.publish(
        topic,
        Array.from({ length: Math.min(1_000, messages - sent) }, (_, i) => ({ key: `did:plc:${(sent + i) % 997}`, value: payload })),
      );
    }
    await waitFor('every message consumed', () => received.length >= messages, { timeoutMs: 300_000, intervalMs: 50 });
    const used = jvmCpu() - before;
    await subscription.stop();
    return used;
  } finally {
    await bus.close();
  }
}

async function measure(profile: BrokerProfile): Promise<Figure[]> {
  const childrenBefore = procCpuSeconds('self', 'children');
  const broker = await startBroker({ profile });
  try {
    const pid = broker.pid!;
    const formatCpu = procCpuSeconds('self', 'children') - childrenBefore;
    const startCpu = procCpuSeconds(pid, 'own');
    await sleep(idleSeconds * 1000);
    const idleCpu = ((procCpuSeconds(pid, 'own') - startCpu) * 60) / idleSeconds;
    const loadCpu = await load(broker.brokers, () => procCpuSeconds(pid, 'own'));
    const isTest = profile === 'test';
    return [
      { figure: `${profile} broker: formatting its storage`, measured: formatCpu, unit: 's CPU', note: 'one JVM, the client compiler alone in either profile' },
      { figure: `${profile} broker: start until ready`, measured: startCpu, unit: 's CPU', ...(isTest ? { goal: atMost(TEST_GOAL.startCpuS) } : {}) },
      { figure: `${profile} broker: idle`, measured: idleCpu, unit: 's CPU per minute', ...(isTest ? { goal: atMost(TEST_GOAL.idleCpuSPerMinute) } : {}), note: `over ${idleSeconds} s` },
      {
        figure: `${profile} broker: ${messages.toLocaleString('en-US')} messages published and consumed`,
        measured: (loadCpu * 1e6) / messages,
        unit: 'µs CPU per message',
        note: `${loadCpu.toFixed(2)} s in all, batches of 1,000, 400 bytes each`,
      },
    ];
  } finally {
    await broker.stop();
  }
}

const figures: Figure[] = [];
for (const profile of ['throughput', 'test'] as const) figures.push(...(await measure(profile)));
reportFigures('kafka-broker', figures);
