import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '#scripts/free-port.mjs';
import { waitFor } from './wait-for.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// Source (libs/testing/src) or build (dist/libs/testing/src): either way the repository root.
const root = path.resolve(here, here.split(path.sep).includes('dist') ? '../../../..' : '../../..');
/** The Node running this process: the project's Node 24 under npm scripts and Jest alike. */
const node = process.execPath;

export { freePort };

/** The built entry point (`npm run build`); tests that spawn processes need the build. */
export const appEntry = path.join(root, 'dist', 'services', 'app', 'src', 'main.js');
export const chdbHttpEntry = path.join(root, 'dist', 'libs', 'testing', 'src', 'chdb-http.main.js');
export const jetstreamReplayEntry = path.join(root, 'dist', 'libs', 'testing', 'src', 'jetstream-replay.main.js');
export const evalEntry = path.join(root, 'dist', 'eval', 'main.js');

/**
 * What a service process takes from this one's environment besides its own: the temporary folder
 * the test command chose, and Node's compile cache, which spares each of the suite's many process
 * starts compiling the same modules again (~150 of the ~1,300 ms of CPU the app's imports take).
 */
function inherited(): Record<string, string> {
  const names = ['TMPDIR', 'NODE_COMPILE_CACHE'] as const;
  return Object.fromEntries(names.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));
}

/** A service process of this project, started from the build with its own environment. */
export class AppProcess {
  private child?: ChildProcess;
  /** The last lines the process wrote to stderr, for failure messages. */
  readonly output: string[] = [];

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    private readonly args: string[] = [],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True from `start()` until the process exits, whatever ended it. */
  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The stdout lines that parse as JSON objects, among the last ones kept. */
  jsonLines(): Record<string, unknown>[] {
    const lines: Record<string, unknown>[] = [];
    for (const line of this.output) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a JSON line
      }
    }
    return lines;
  }

  start(): this {
    const child = spawn(node, [this.entry, ...this.args], {
      env: { PATH: process.env.PATH ?? '', ...inherited(), ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      this.output.splice(0, Math.max(0, this.output.length - 200));
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.child = child;
    return this;
  }

  /** Resolves with the first stdout line that parses as JSON and has the given key. */
  async firstJsonLine<T>(key: string, timeoutMs = 30_000): Promise<T> {
    // Polled until the line comes or the process exits without it, whichever is first.
    const found = await waitFor(`a "${key}" line from ${this.name}`, () => {
      const line = this.jsonLines().find((value) => key in value);
      if (line) return { line };
      return this.running ? undefined : { line: undefined };
    }, { timeoutMs, intervalMs: 50, context: () => this.output.slice(-30).join('\n') });
    if (!found.line) throw new Error(`${this.name} exited before printing a "${key}" line:\n${this.output.slice(-30).join('\n')}`);
    return found.line as T;
  }

  /** Calls `listener` once the started process exits, whatever the reason. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.child?.once('exit', listener);
  }

  /** Stops the process with `signal` and waits for it to exit; resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = once(child, 'exit');
    child.kill(signal);
    const [code] = (await exited) as [number | null];
    this.child = undefined;
    return code;
  }
}

/** An app process from the build listening on free loopback ports, with its base URLs. */
export interface ServingAppProcess {
  process: AppProcess;
  /** The public HTTP server (XRPC, `/health`, `/ready`). */
  url: string;
  /** The ops listener (`/status`, `/metrics`). */
  opsUrl: string;
}

/**
 * Starts the app from the build with `env` on free loopback ports and resolves once it answers
 * `/ready`; the error of a process that never does carries its last lines.
 */
export async function startAppProcess(name: string, env: Record<string, string>, timeoutMs = 120_000): Promise<ServingAppProcess> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const process = new AppProcess(name, appEntry, { ...env, HTTP_PORT: String(port), OPS_PORT: String(opsPort), HTTP_BIND_HOST: '127.0.0.1' }).start();
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await fetch(`${url}/ready`).then((response) => response.ok, () => false);
    if (ready) return { process, url, opsUrl: `http://127.0.0.1:${opsPort}` };
    if (!process.running || Date.now() > deadline) {
      await process.stop('SIGKILL');
      throw new Error(`${name} never became ready:\n${process.output.slice(-20).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
