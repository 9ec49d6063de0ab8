import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClickHouseClient, type ClickHouseClient } from '#lib/clickhouse';
import { startBroker, type BrokerProfile, type StartedBroker } from '#scripts/kafka-broker.mjs';
import { AppProcess, appEntry, chdbHttpEntry, freePort, jetstreamReplayEntry } from '../app-process.js';
import { mulberry32 } from '../synthetic-events.js';
import { kafkaTestEnv } from '../test-app.env.js';
import { waitFor } from '../wait-for.js';
import type { CampaignSource } from './campaign-source.js';
import { auditStore, type StoreAudit } from './store-audit.js';

/** What the campaign strikes: the embedded app, a scaled role, the broker, or the ClickHouse server. */
type FaultKind = 'app' | 'scoring' | 'ingest' | 'broker' | 'clickhouse';

interface FaultRecovery {
  fault: FaultKind;
  /** Share of the source through the pipeline when the fault struck (0–1). */
  at: number;
  /** From the restart to the process listening (the broker or ClickHouse server: answering). */
  readyMs: number;
  /**
   * From the restart to the pipeline advancing again: the next batch acknowledged (embedded app,
   * ingest) or new rows in ClickHouse (scoring, broker, ClickHouse). Null when nothing was left to store.
   */
  advancingMs: number | null;
}

export interface CampaignReport {
  mode: 'embedded' | 'scaled';
  seconds: number;
  audit: StoreAudit;
  recoveries: FaultRecovery[];
  /** Exits the campaign did not cause (the process is restarted, as an orchestrator would). */
  crashes: string[];
}

interface CampaignOptions {
  source: CampaignSource;
  /** Working folder (data of every process). */
  dir: string;
  /** Kills, at seeded random points of the source. */
  kills: number;
  seed: number;
  /** Replay pace, per connection (default: as fast as ingest reads). */
  replayEventsPerSecond?: number;
  /** A wait fails when the pipeline made no progress for this long (default 180 s). */
  stallMs?: number;
  log?: (line: string) => void;
}

interface ScaledCampaignOptions extends CampaignOptions {
  /** How long the ClickHouse server stays down, half-way through (default 30 s). */
  clickhouseOutageMs?: number;
  /** Partitions of the events topic (default 4). */
  partitions?: number;
  /** The broker's profile (default `throughput`, as `npm run bench:faults` measures it; the spec's is `test`). */
  brokerProfile?: BrokerProfile;
}

/** The reliable verdict: nothing lost, nothing counted twice, nothing invented. */
export function campaignPassed(report: CampaignReport): boolean {
  const { lost, foreign, duplicates, aggregates } = report.audit;
  return lost === 0 && foreign === 0 && duplicates === 0 && aggregates.every((aggregate) => aggregate.under === 0);
}

/** The figures of one mode, one line each. */
export function formatCampaign(report: CampaignReport): string[] {
  const { audit } = report;
  const ms = (value: number | null) => (value === null ? 'n/a (nothing left)' : `${(value / 1000).toFixed(1)} s`);
  return [
    `${report.mode}: ${report.recoveries.length} faults in ${report.seconds.toFixed(0)} s — ${campaignPassed(report) ? 'PASS' : 'FAIL'}`,
    `  events in the source:     ${audit.sourceEvents}`,
    `  distinct events stored:   ${audit.storedDistinct}`,
    `  duplicates in aggregates: ${audit.duplicates}   (goal 0)`,
    `  lost:                     ${audit.lost}   (goal 0)`,
    `  not in the source:        ${audit.foreign}   (goal 0)`,
    ...audit.aggregates.map((a) => `  aggregate ${a.name}: ${a.over} over, ${a.under} under the source (goal 0, 0)`),
    `  unexpected exits:         ${report.crashes.length}${report.crashes.length > 0 ? `: ${report.crashes.join('; ')}` : ''}`,
    '  recovery after each fault (restart → ready / → advancing again):',
    ...report.recoveries.map(
      (r, i) => `    ${String(i + 1).padStart(2)}. ${r.fault.padEnd(10)} at ${(r.at * 100).toFixed(1).padStart(5)}%: ready ${ms(r.readyMs)}, advancing ${ms(r.advancingMs)}`,
    ),
  ];
}

interface Checkpoint {
  cursorUs: number;
  savedAt: string;
}

async function readCheckpoint(file: string): Promise<Checkpoint | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
  } catch {
    return undefined;
  }
}

/** True once the process logged that it listens (the last step of start-up). */
function listening(process: AppProcess): boolean {
  return process.jsonLines().some((line) => line.msg === 'listening');
}

/** Sorted seeded points in [from, to) of the source, each with a delay that lands the kill anywhere in a batch. */
function faultPoints(random: () => number, count: number, from: number, to: number): { at: number; delayMs: number }[] {
  return Array.from({ length: count }, () => ({ at: from + random() * (to - from), delayMs: Math.floor(random() * 500) })).sort((a, b) => a.at - b.at);
}

/**
 * @NOTE How often the scaled campaign asks the ClickHouse server how far the source got, and,
 * during a recovery, whether rows come again: each look is a query the server answers between
 * inserts, and a recovery takes seconds. The embedded campaign reads a checkpoint file, which costs
 * next to nothing, every 100 ms.
 */
const STORE_PROGRESS_POLL_MS = 250;
const RECOVERY_POLL_MS = 100;

/**
 * Polls `read` until it reaches `target`; fails only when it stops moving for `stallMs`, so a
 * million events take as long as they take. `tick` runs on every poll (reviving crashed processes).
 */
async function waitForProgress(
  what: string,
  read: () => Promise<number>,
  target: number,
  options: { stallMs: number; intervalMs?: number; tick?: () => Promise<void>; context?: () => string },
): Promise<number> {
  let last = Number.NaN;
  let movedAt = performance.now();
  for (;;) {
    await options.tick?.();
    const value = await read().catch(() => last);
    if (value >= target) return value;
    if (value !== last) {
      last = value;
      movedAt = performance.now();
    } else if (performance.now() - movedAt > options.stallMs) {
      throw new Error(`no progress for ${options.stallMs} ms waiting for ${what} (at ${last}, want ${target})${options.context ? `\n${options.context()}` : ''}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/** Measures one recovery: polls `ready` and `advancing` from `restartedAt` until both are known. */
async function measureRecovery(
  fault: FaultKind,
  at: number,
  restartedAt: number,
  probes: { ready: () => boolean | Promise<boolean>; advancing: () => Promise<boolean | 'nothing left'>; tick?: () => Promise<void> },
  options: { stallMs: number; context?: () => string },
): Promise<FaultRecovery> {
  let readyMs: number | undefined;
  let advancingMs: number | null | undefined;
  await waitFor(
    `recovery after the ${fault} fault`,
    async () => {
      await probes.tick?.();
      if (readyMs === undefined && (await probes.ready())) readyMs = performance.now() - restartedAt;
      if (advancingMs === undefined) {
        const advanced = await probes.advancing();
        if (advanced === 'nothing left') advancingMs = null;
        else if (advanced) advancingMs = performance.now() - restartedAt;
      }
      return readyMs !== undefined && advancingMs !== undefined;
    },
    { timeoutMs: options.stallMs, intervalMs: RECOVERY_POLL_MS, context: options.context },
  );
  return { fault, at, readyMs: readyMs!, advancingMs: advancingMs! };
}

const logsOf = (...processes: (AppProcess | undefined)[]) => () =>
  processes
    .filter((p): p is AppProcess => p !== undefined)
    .map((p) => `--- ${p.name}\n${p.output.slice(-15).join('\n')}`)
    .join('\n');

async function startReplay(source: CampaignSource, eventsPerSecond = 0): Promise<{ process: AppProcess; url: string }> {
  const process = new AppProcess('jetstream', jetstreamReplayEntry, {}, [source.file, '0', ...(eventsPerSecond > 0 ? [String(eventsPerSecond)] : [])]).start();
  // Loading a million frames takes a while on a busy machine.
  const { url } = await process.firstJsonLine<{ url: string }>('url', 300_000);
  return { process, url };
}

/**
 * Embedded mode under SIGKILL: the app (ingest, in-process bus, scoring, chDB on disk) reads a
 * replay process and is killed `kills` times at seeded points, restarted each time; at the end it
 * stops cleanly and the store it left is audited against the source.
 */
export async function runEmbeddedCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const { source, dir, kills } = options;
  const stallMs = options.stallMs ?? 180_000;
  const random = mulberry32(options.seed);
  const started = performance.now();
  const dataDir = path.join(dir, 'embedded');
  const cursorFile = path.join(dataDir, 'ingest-cursor.json');
  const feedsFile = path.join(dir, 'feeds.yaml');
  const database = 'faults';
  await writeFile(feedsFile, 'communities: {}\nfeeds: {}\n');
  const replay = await startReplay(source, options.replayEventsPerSecond);
  let app: AppProcess | undefined;
  let clickhouse: AppProcess | undefined;
  const crashes: string[] = [];
  const recoveries: FaultRecovery[] = [];
  const context = () => logsOf(app, replay.process)();
  const launch = async () =>
    new AppProcess('app', appEntry, {
      DATA_DIR: dataDir,
      CLICKHOUSE_DATABASE: database,
      JETSTREAM_URL: replay.url,
      FEEDS_FILE: feedsFile,
      HTTP_PORT: '0',
      HTTP_BIND_HOST: '127.0.0.1',
      // @NOTE Its own ops port, should the app have one: the default port is one per machine.
      OPS_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    }).start();
  const revive = async () => {
    if (app && !app.running) {
      crashes.push(`app exited by itself: ${app.output.slice(-3).join(' | ')}`);
      app = await launch();
    }
  };
  const acknowledgedUs = async () => (await readCheckpoint(cursorFile))?.cursorUs ?? 0;
  try {
    app = await launch();
    for (const point of faultPoints(random, kills, 0.03, 0.97)) {
      await waitForProgress(`${(point.at * 100).toFixed(1)}% of the source acknowledged`, acknowledgedUs, source.timeAt(point.at), { stallMs, tick: revive, context });
      await sleep(point.delayMs);
      const before = await readCheckpoint(cursorFile);
      await app.stop('SIGKILL');
      const restartedAt = performance.now();
      app = await launch();
      const restarted = app;
      const recovery = await measureRecovery(
        'app',
        point.at,
        restartedAt,
        {
          ready: () => listening(restarted),
          advancing: async () => (await readCheckpoint(cursorFile))?.savedAt !== before?.savedAt,
          tick: revive,
        },
        { stallMs, context },
      );
      recoveries.push(recovery);
      options.log?.(`embedded: kill ${recoveries.length}/${kills} at ${(point.at * 100).toFixed(1)}%: ready in ${recovery.readyMs.toFixed(0)} ms, advancing in ${recovery.advancingMs?.toFixed(0)} ms`);
    }
    await waitForProgress('the whole source acknowledged', acknowledgedUs, source.lastTimeUs, { stallMs, tick: revive, context });
    const code = await app.stop('SIGTERM');
    if (code !== 0) crashes.push(`app exited with code ${code} on SIGTERM: ${app.output.slice(-3).join(' | ')}`);
    app = undefined;
    // The store the app left, read through a ClickHouse HTTP front over the same chDB folder.
    clickhouse = new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(dataDir, 'clickhouse')]).start();
    const { url } = await clickhouse.firstJsonLine<{ url: string }>('url', 120_000);
    const audit = await auditStore({ url, database, source });
    return { mode: 'embedded', seconds: (performance.now() - started) / 1000, audit, recoveries, crashes };
  } finally {
    await app?.stop('SIGKILL');
    await clickhouse?.stop();
    await replay.process.stop();
  }
}

type Role = 'scoring' | 'ingest';

/**
 * The processes of a scaled campaign and what it learned from them: a ClickHouse HTTP server (chDB
 * behind it, restarted on its port after the outage), a Kafka broker, the replay and the two roles.
 * Built step by step, so that `stop()` stops whatever a failed start left running.
 */
class ScaledStack {
  clickhouse: AppProcess;
  clickhouseUrl = '';
  broker: StartedBroker | undefined;
  replay: { process: AppProcess; url: string } | undefined;
  client: ClickHouseClient | undefined;
  readonly roles = new Map<Role, AppProcess>();
  /** Exits the campaign did not cause. */
  readonly crashes: string[] = [];
  readonly context = (): string => logsOf(...this.roles.values(), this.clickhouse)();
  private readonly topicPrefix = `faults${Date.now()}.`;

  constructor(
    private readonly options: ScaledCampaignOptions,
    private readonly scaledDir: string,
    private readonly clickhousePort: number,
    private readonly feedsFile: string,
  ) {
    this.clickhouse = this.startClickhouse();
  }

  static async start(options: ScaledCampaignOptions, feedsFile: string): Promise<ScaledStack> {
    const stack = new ScaledStack(options, path.join(options.dir, 'scaled'), await freePort(), feedsFile);
    try {
      ({ url: stack.clickhouseUrl } = await stack.clickhouse.firstJsonLine<{ url: string }>('url', 120_000));
      stack.broker = await startBroker({ profile: options.brokerProfile });
      stack.replay = await startReplay(options.source, options.replayEventsPerSecond);
      stack.client = createClickHouseClient({ kind: 'server', url: stack.clickhouseUrl, username: 'default', password: '', database: SCALED_DATABASE });
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  get ingestCursor(): string {
    return path.join(this.scaledDir, 'ingest', 'ingest-cursor.json');
  }

  /** A ClickHouse server on the stack's folder and port (the same store after a restart). */
  startClickhouse(): AppProcess {
    return new AppProcess('clickhouse', chdbHttpEntry, {}, [path.join(this.scaledDir, 'clickhouse'), String(this.clickhousePort)]).start();
  }

  async launch(role: Role): Promise<AppProcess> {
    const child = new AppProcess(role, appEntry, {
      CG_ROLE: role,
      KAFKA_BROKERS: this.broker!.brokers,
      KAFKA_TOPIC_PREFIX: this.topicPrefix,
      KAFKA_PARTITIONS: String(this.options.partitions ?? 4),
      ...kafkaTestEnv,
      CLICKHOUSE_URL: this.clickhouseUrl,
      CLICKHOUSE_DATABASE: SCALED_DATABASE,
      DATA_DIR: path.join(this.scaledDir, role),
      FEEDS_FILE: this.feedsFile,
      JETSTREAM_URL: this.replay!.url,
      HTTP_PORT: '0',
      HTTP_BIND_HOST: '127.0.0.1',
      OPS_PORT: String(await freePort()),
      // @NOTE Score snapshots are no part of what is audited; on two shared cores they would only slow the run.
      SCORING_SNAPSHOTS: 'false',
      LOG_LEVEL: 'info',
    }).start();
    this.roles.set(role, child);
    return child;
  }

  /** Restarts a role that exited by itself, as an orchestrator would, and notes the crash. */
  readonly revive = async (): Promise<void> => {
    for (const [role, child] of this.roles) {
      if (child.running) continue;
      this.crashes.push(`${role} exited by itself: ${child.output.slice(-3).join(' | ')}`);
      await this.launch(role);
    }
  };

  /** Scoring first (it creates the topics' consumer group), then ingest. */
  async startRoles(stallMs: number): Promise<void> {
    const scoring = await this.launch('scoring');
    await waitFor('scoring listening', () => listening(scoring) || !scoring.running, { timeoutMs: stallMs, context: this.context });
    if (!scoring.running) throw new Error(`scoring exited during start-up\n${this.context()}`);
    await this.launch('ingest');
  }

  /** Stops the roles with SIGTERM, noting any that does not exit cleanly. */
  async stopRoles(): Promise<void> {
    for (const [role, child] of this.roles) {
      const code = await child.stop('SIGTERM');
      if (code !== 0) this.crashes.push(`${role} exited with code ${code} on SIGTERM: ${child.output.slice(-3).join(' | ')}`);
    }
    this.roles.clear();
  }

  async stop(): Promise<void> {
    for (const child of this.roles.values()) await child.stop('SIGKILL');
    await this.client?.close();
    await this.replay?.process.stop();
    await this.clickhouse.stop();
    await this.broker?.stop();
  }
}

const SCALED_DATABASE = 'faults';

/** How far the source has reached ClickHouse, asked of the ClickHouse server. */
interface StoreProgress {
  /** Rows written (a re-delivered event counts again until merged): moves whenever scoring inserts. */
  rowsWritten: () => Promise<number>;
  /** Whether every source event is stored (distinct). */
  allStored: () => Promise<boolean>;
  /** For a recovery: rows written since `baseline`, or nothing left to write. */
  storedAfter: (baseline: number) => () => Promise<boolean | 'nothing left'>;
  /** Rows written as a share of the source. */
  share: () => Promise<number>;
}

function storeProgress(client: ClickHouseClient, source: CampaignSource): StoreProgress {
  const countOf = async (query: string) => {
    const result = await client.query({ query, format: 'JSONCompactEachRow' });
    const [row] = await result.json<[string]>();
    return Number(row?.[0] ?? 0);
  };
  const rowsWritten = () => countOf(`SELECT count() FROM ${SCALED_DATABASE}.event_log`);
  // @NOTE A FINAL count of a million rows costs the server a second: asked at most every 3 s.
  let storedCheck = { at: 0, done: false };
  const allStored = async () => {
    if (storedCheck.done || performance.now() - storedCheck.at < 3_000) return storedCheck.done;
    storedCheck = { at: performance.now(), done: (await countOf(`SELECT count() FROM ${SCALED_DATABASE}.event_log FINAL`)) >= source.keys.length };
    return storedCheck.done;
  };
  return {
    rowsWritten,
    allStored,
    storedAfter: (baseline) => async () => {
      if ((await rowsWritten()) > baseline) return true;
      return (await allStored()) ? 'nothing left' : false;
    },
    share: async () => (await rowsWritten()) / source.keys.length,
  };
}

type ScaledFault = { at: number; delayMs: number; kind: Exclude<FaultKind, 'app'> };

/**
 * The faults of a scaled campaign, in the order they strike: `kills` kills at seeded points, each
 * kind (scoring, ingest, broker) at least once and the rest drawn at random in a random order, and
 * the ClickHouse outage half-way.
 */
function scaledFaults(random: () => number, kills: number): ScaledFault[] {
  const kinds: ScaledFault['kind'][] = ['scoring', 'ingest', 'broker'];
  while (kinds.length < kills) kinds.push(kinds[Math.floor(random() * 3)]!);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const faults: ScaledFault[] = faultPoints(random, kills, 0.05, 0.9).map((point, i) => ({ ...point, kind: kinds[i]! }));
  faults.push({ at: 0.5, delayMs: 0, kind: 'clickhouse' });
  return faults.sort((a, b) => a.at - b.at);
}

/** SIGKILL to a role, restarted at once; advancing again = a new checkpoint (ingest) or new rows (scoring). */
async function killRole(stack: ScaledStack, store: StoreProgress, role: Role, at: number, stallMs: number): Promise<FaultRecovery> {
  const before = await readCheckpoint(stack.ingestCursor);
  await stack.roles.get(role)!.stop('SIGKILL');
  const baseline = await store.rowsWritten();
  const restartedAt = performance.now();
  const restarted = await stack.launch(role);
  return measureRecovery(
    role,
    at,
    restartedAt,
    {
      ready: () => listening(restarted),
      advancing: role === 'ingest' ? async () => (await readCheckpoint(stack.ingestCursor))?.savedAt !== before?.savedAt : store.storedAfter(baseline),
      tick: stack.revive,
    },
    { stallMs, context: stack.context },
  );
}

/** SIGKILL to the broker, restarted on its port and data; ready once it says it started. */
async function killBroker(stack: ScaledStack, store: StoreProgress, at: number, stallMs: number): Promise<FaultRecovery> {
  const broker = stack.broker!;
  process.kill(broker.pid!, 'SIGKILL');
  const restartedAt = performance.now();
  await broker.restart();
  const readyMs = performance.now() - restartedAt;
  const baseline = await store.rowsWritten();
  const advanced = await measureRecovery('broker', at, restartedAt, { ready: () => true, advancing: store.storedAfter(baseline), tick: stack.revive }, { stallMs, context: stack.context });
  return { ...advanced, readyMs };
}

/** The ClickHouse server away for `outageMs`, then back on the same folder and port. */
async function clickhouseOutage(stack: ScaledStack, store: StoreProgress, at: number, outageMs: number, stallMs: number): Promise<FaultRecovery> {
  const baseline = await store.rowsWritten();
  await stack.clickhouse.stop('SIGTERM');
  await sleep(outageMs);
  const restartedAt = performance.now();
  const restarted = stack.startClickhouse();
  stack.clickhouse = restarted;
  const answers = () => restarted.jsonLines().some((line) => 'url' in line);
  return measureRecovery(
    'clickhouse',
    at,
    restartedAt,
    {
      ready: answers,
      // Asked once the server answers: the client logs every refused connection.
      advancing: async () => answers() && store.storedAfter(baseline)(),
      tick: stack.revive,
    },
    { stallMs, context: stack.context },
  );
}

/**
 * Scaled mode under faults: ingest and scoring as processes joined by a real Kafka broker and a
 * ClickHouse HTTP server (chDB behind it). Scoring, ingest and the broker are killed with SIGKILL
 * at seeded points (each at least once), and the ClickHouse server is down for
 * `clickhouseOutageMs` half-way; then the store is audited against the source.
 */
export async function runScaledCampaign(options: ScaledCampaignOptions): Promise<CampaignReport> {
  const { source } = options;
  const stallMs = options.stallMs ?? 180_000;
  const outageMs = options.clickhouseOutageMs ?? 30_000;
  const random = mulberry32(options.seed);
  const started = performance.now();
  const feedsFile = path.join(options.dir, 'feeds.yaml');
  await writeFile(feedsFile, 'communities: {}\nfeeds: {}\n');

  const stack = await ScaledStack.start(options, feedsFile);
  const { context, revive } = stack;
  try {
    const store = storeProgress(stack.client!, source);
    await stack.startRoles(stallMs);

    const faults = scaledFaults(random, Math.max(3, options.kills));
    const recoveries: FaultRecovery[] = [];
    for (const fault of faults) {
      await waitForProgress(`${(fault.at * 100).toFixed(1)}% of the source in ClickHouse`, store.share, fault.at, {
        stallMs,
        intervalMs: STORE_PROGRESS_POLL_MS,
        tick: revive,
        context,
      });
      await sleep(fault.delayMs);
      const recovery =
        fault.kind === 'broker'
          ? await killBroker(stack, store, fault.at, stallMs)
          : fault.kind === 'clickhouse'
            ? await clickhouseOutage(stack, store, fault.at, outageMs, stallMs)
            : await killRole(stack, store, fault.kind, fault.at, stallMs);
      recoveries.push(recovery);
      options.log?.(
        `scaled: ${fault.kind} fault ${recoveries.length}/${faults.length} at ${(fault.at * 100).toFixed(1)}%: ready in ${recovery.readyMs.toFixed(0)} ms, advancing in ${recovery.advancingMs?.toFixed(0)} ms`,
      );
    }

    // Done when every source event is stored; a loss shows as rows that stop coming, then in the audit.
    await waitForProgress(
      'the whole source in ClickHouse',
      async () => ((await store.allStored()) ? 1 : (await store.rowsWritten()) / (source.keys.length * 10)),
      1,
      { stallMs, intervalMs: STORE_PROGRESS_POLL_MS, tick: revive, context },
    ).catch((error: unknown) => options.log?.(`scaled: ${(error as Error).message.split('\n')[0]}; auditing what is stored`));
    await stack.stopRoles();
    const audit = await auditStore({ url: stack.clickhouseUrl, database: SCALED_DATABASE, source });
    return { mode: 'scaled', seconds: (performance.now() - started) / 1000, audit, recoveries, crashes: stack.crashes };
  } finally {
    await stack.stop();
  }
}
