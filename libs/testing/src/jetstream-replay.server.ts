import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { isDid, isNsid, type JetstreamEvent } from '#lib/domain';
import { RawLine, toJsonlLine } from './jsonl.js';

/**
 * A frame sent exactly as given: any text (newlines and all), or a binary frame (arbitrary bytes). For
 * hostile streams built in memory; a JSONL file can only carry `RawLine`s.
 */
export class RawFrame {
  readonly data: Buffer;
  readonly binary: boolean;
  /** Its place on the replay timeline; without one it follows the frame before it. */
  readonly timeUs?: number;

  constructor(data: string | Uint8Array, options: { timeUs?: number; binary?: boolean } = {}) {
    this.data = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    this.binary = options.binary ?? false;
    this.timeUs = options.timeUs;
  }
}

/** What the replay server can send: Jetstream events, or `RawLine`s and `RawFrame`s sent verbatim (malformed frames). */
export type ReplayItem = JetstreamEvent | RawLine | RawFrame;

interface JetstreamReplayServerOptions {
  /** Events in any order (sent in `time_us` order), or the path of a JSONL file of them. */
  events: readonly ReplayItem[] | string;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** `'asap'` (default) sends as fast as the client reads; otherwise a per-connection rate. */
  pace?: 'asap' | { eventsPerSecond?: number };
  /**
   * Oldest retained `time_us`: earlier events are never sent, and an older cursor is clamped to it
   * silently, as real Jetstream does once its ~36 h retention has passed. Default: the first event.
   */
  retentionStartUs?: number;
  /**
   * A cursor newer than every loaded event waits for `push`ed ones (real Jetstream live-tails then).
   * Without a cursor, real Jetstream live-tails (sends only new events). A replay has no "now", so the
   * default is `'oldest'`: replay everything retained. `'live'` sends only events `push`ed later.
   */
  noCursor?: 'oldest' | 'live';
  /** Additionally send a non-JSON text frame after every `every` frames on each connection. */
  malformedFrames?: { every: number };
  /**
   * Drop (terminate) a connection after it was sent this many frames, to test reconnects. A number
   * applies to every connection; an array gives the limit of the 1st, 2nd, … connection (later ones are
   * never dropped).
   */
  dropAfterFrames?: number | readonly number[];
  /** Bytes queued per socket before the sender waits for the client to read (default 1 MiB). */
  highWaterMarkBytes?: number;
  startPaused?: boolean;
}

interface ReplayConnectionInfo {
  id: number;
  open: boolean;
  wantedCollections: string[];
  wantedDids: string[];
  /** The `cursor` the client asked for, as given. */
  cursor: number | null;
  /** True when the cursor was older than the retained events and replay began at the oldest one. */
  cursorClamped: boolean;
  /** `time_us` of the first retained event at or after the cursor (null: nothing yet). */
  startTimeUs: number | null;
  /** Frames sent on this connection (malformed ones included). */
  sent: number;
  lastTimeUs: number | null;
  /** True when the server dropped it (`dropAfterFrames` or `dropConnections()`). */
  dropped: boolean;
}

export interface JetstreamReplayServer {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/subscribe`, the endpoint to give `@skyware/jetstream`. */
  readonly subscribeUrl: string;
  readonly port: number;
  /** Frames sent over all connections. */
  readonly sentCount: number;
  /** Frames loaded (events and raw lines). */
  readonly frameCount: number;
  /** Every connection so far, open or closed, in connection order. */
  connections(): ReplayConnectionInfo[];
  pause(): void;
  resume(): void;
  /** Appends live events (`time_us` not older than the newest loaded) and sends them to connected clients. */
  push(...items: ReplayItem[]): void;
  /** Terminates every open connection now, as a network failure would. */
  dropConnections(): void;
  /** Resolves once `count` connections have been accepted in total. */
  waitForConnections(count: number, timeoutMs?: number): Promise<void>;
  /** Terminates every socket and stops listening. */
  close(): Promise<void>;
}

class ReplayServerError extends Error {
  override name = 'ReplayServerError';
}

class BadRequestError extends Error {
  override name = 'BadRequestError';
}

/** Wakes every waiter on `notify()`. */
class Signal {
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Frames as UTF-8 slices of a few large buffers, with per-frame metadata in parallel arrays: 200k
 * events cost about their JSON size, not 200k objects.
 */
class FrameStore {
  readonly buffers: Buffer[] = [];
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly timeUs: number[] = [];
  readonly dids: (string | null)[] = [];
  readonly collections: (string | null)[] = [];
  readonly raw: boolean[] = [];
  readonly binary: boolean[] = [];
  private readonly interned = new Map<string, string>();
  private pending = '';
  private pendingBytes = 0;
  private pendingFrom = 0;

  get length(): number {
    return this.timeUs.length;
  }

  get lastTimeUs(): number {
    return this.timeUs.length > 0 ? this.timeUs[this.timeUs.length - 1]! : Number.NEGATIVE_INFINITY;
  }

  frame(i: number): Buffer {
    return this.buffers[i]!.subarray(this.starts[i], this.ends[i]);
  }

  private intern(value: string | null): string | null {
    if (value === null) return null;
    const known = this.interned.get(value);
    if (known !== undefined) return known;
    this.interned.set(value, value);
    return value;
  }

  private pushMeta(value: unknown): void {
    let timeUs: number | undefined;
    let did: string | null = null;
    let collection: string | null = null;
    let raw = false;
    if (value instanceof RawLine || value instanceof RawFrame) {
      raw = true;
      timeUs = value.timeUs;
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const event = value as Record<string, unknown>;
      if (typeof event.time_us === 'number' && Number.isFinite(event.time_us)) timeUs = event.time_us;
      if (typeof event.did === 'string') did = event.did;
      const commit = event.commit as Record<string, unknown> | undefined;
      if (event.kind === 'commit' && typeof commit?.collection === 'string') collection = commit.collection;
    } else {
      raw = true;
    }
    // @NOTE A frame without a time_us keeps its place: it takes the time of the frame before it.
    this.timeUs.push(timeUs ?? (this.length > 0 ? this.lastTimeUs : Number.NEGATIVE_INFINITY));
    this.dids.push(this.intern(did));
    this.collections.push(this.intern(collection));
    this.raw.push(raw);
    this.binary.push(value instanceof RawFrame && value.binary);
  }

  /** Adds serialised items, packing them into ~1 MiB buffers. */
  addItems(items: Iterable<unknown>): void {
    for (const item of items) {
      if (item instanceof RawFrame) {
        // @NOTE Kept in its own buffer: its bytes need not be UTF-8, so they cannot join the packed text.
        this.flush();
        this.buffers.push(item.data);
        this.starts.push(0);
        this.ends.push(item.data.length);
        this.pushMeta(item);
        this.pendingFrom = this.length;
        continue;
      }
      const line = toJsonlLine(item);
      const bytes = Buffer.byteLength(line);
      this.starts.push(this.pendingBytes);
      this.ends.push(this.pendingBytes + bytes);
      this.pending += line;
      this.pendingBytes += bytes;
      this.pushMeta(item);
      if (this.pendingBytes >= 1 << 20) this.flush();
    }
    this.flush();
  }

  private flush(): void {
    if (this.pendingFrom === this.length) return;
    const buffer = Buffer.from(this.pending, 'utf8');
    for (let i = this.pendingFrom; i < this.length; i++) this.buffers.push(buffer);
    this.pending = '';
    this.pendingBytes = 0;
    this.pendingFrom = this.length;
  }

  /** Indexes a whole JSONL file held in one buffer; lines that are not JSON become raw frames. */
  addJsonl(buffer: Buffer): void {
    let start = 0;
    while (start < buffer.length) {
      let end = buffer.indexOf(10, start);
      if (end === -1) end = buffer.length;
      let lineEnd = end;
      if (lineEnd > start && buffer[lineEnd - 1] === 13) lineEnd -= 1;
      const text = buffer.toString('utf8', start, lineEnd);
      if (text.trim() !== '') {
        let value: unknown;
        try {
          value = JSON.parse(text) as unknown;
        } catch {
          value = new RawLine(text);
        }
        this.buffers.push(buffer);
        this.starts.push(start);
        this.ends.push(lineEnd);
        this.pushMeta(value);
      }
      start = end + 1;
    }
    this.pendingFrom = this.length;
  }

  /** Jetstream sends in `time_us` order: sort (stably) when the input is not. */
  sortByTime(): void {
    let sorted = true;
    for (let i = 1; i < this.length && sorted; i++) sorted = this.timeUs[i - 1]! <= this.timeUs[i]!;
    if (sorted) return;
    const order = Array.from({ length: this.length }, (_, i) => i);
    order.sort((a, b) => this.timeUs[a]! - this.timeUs[b]! || a - b);
    for (const column of [this.buffers, this.starts, this.ends, this.timeUs, this.dids, this.collections, this.raw, this.binary] as unknown[][]) {
      const copy = order.map((i) => column[i]);
      for (let i = 0; i < copy.length; i++) column[i] = copy[i];
    }
  }

  /** First index whose `time_us` is ≥ `timeUs`. */
  lowerBound(timeUs: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.timeUs[mid]! < timeUs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

interface Filters {
  fullPaths: Set<string>;
  prefixes: string[];
  wantedCollections: string[];
  wantedDids: Set<string>;
  maxMessageSizeBytes: number;
}

/** Same rules as Jetstream's `parseSubscriberOptions`: `x.y.*` is a prefix, anything else must be an NSID. */
function parseFilters(wantedCollections: readonly unknown[], wantedDids: readonly unknown[], maxMessageSizeBytes: unknown): Filters {
  const fullPaths = new Set<string>();
  const prefixes: string[] = [];
  for (const collection of wantedCollections) {
    if (typeof collection !== 'string') throw new BadRequestError('invalid subscriber options: invalid collection');
    if (collection.endsWith('.*')) prefixes.push(collection.slice(0, -1));
    else if (isNsid(collection)) fullPaths.add(collection);
    else throw new BadRequestError(`invalid subscriber options: invalid collection: ${collection}`);
  }
  if (fullPaths.size + prefixes.length > 100) throw new BadRequestError('invalid subscriber options: too many wanted collections');
  const dids = new Set<string>();
  for (const did of wantedDids) {
    if (!isDid(did)) throw new BadRequestError('invalid subscriber options');
    dids.add(did);
  }
  if (dids.size > 10_000) throw new BadRequestError('invalid subscriber options: too many wanted DIDs');
  const max = Number(maxMessageSizeBytes ?? 0);
  return {
    fullPaths,
    prefixes,
    wantedCollections: wantedCollections as string[],
    wantedDids: dids,
    maxMessageSizeBytes: Number.isInteger(max) && max > 0 ? max : 0,
  };
}

const injectedMalformed = ['{"did":"did:plc:', 'this frame is not JSON', '{"kind":"commit",'];

interface Connection {
  info: ReplayConnectionInfo;
  ws: WebSocket;
  filters: Filters;
  next: number;
  pendingBytes: number;
  /** The pump's only wait: notified on new data, resume, drain, hello and close (spurious wake-ups are fine). */
  wake: Signal;
  /** Aborted when the socket closes, to cut pacing sleeps short. */
  abort: AbortController;
  closed: Promise<void>;
  awaitingHello: boolean;
  dropAfter: number;
  sinceMalformed: number;
}

/**
 * A local server speaking Jetstream's `/subscribe` protocol over WebSocket, replaying a fixed set of
 * events: collection (with `prefix.*` wildcards) and DID filters, `cursor` replay with silent clamping to
 * the retention window, `options_update` messages, backpressure, drops and pauses for tests.
 */
export async function startJetstreamReplayServer(options: JetstreamReplayServerOptions): Promise<JetstreamReplayServer> {
  const store = new FrameStore();
  if (typeof options.events === 'string') store.addJsonl(await readFile(options.events));
  else store.addItems(options.events);
  store.sortByTime();
  const server = new ReplayServer(options, store);
  await server.listen();
  return server;
}

/** What a client asked for in its `/subscribe` request. */
interface Subscription {
  filters: Filters;
  cursor: number | null;
  awaitingHello: boolean;
}

/** Reads a `/subscribe` request's query; throws `BadRequestError` for what Jetstream refuses. */
function parseSubscription(request: IncomingMessage, query: URLSearchParams): Subscription {
  let cursor: number | null = null;
  const rawCursor = query.get('cursor');
  if (rawCursor !== null && rawCursor !== '') {
    if (!/^-?\d+$/.test(rawCursor)) throw new BadRequestError(`invalid cursor: ${rawCursor}`);
    cursor = Number(rawCursor);
  }
  if (query.get('compress') === 'true' || (request.headers['socket-encoding'] ?? '').includes('zstd')) {
    throw new BadRequestError('zstd compression is not supported by the replay server');
  }
  const filters = parseFilters(query.getAll('wantedCollections'), query.getAll('wantedDids'), query.get('maxMessageSizeBytes'));
  return { filters, cursor, awaitingHello: query.get('requireHello') === 'true' };
}

function reject(socket: Duplex, status: string, message: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`);
}

class ReplayServer implements JetstreamReplayServer {
  url = '';
  subscribeUrl = '';
  port = 0;
  private readonly highWaterMark: number;
  private readonly eventsPerSecond: number;
  private readonly malformedEvery: number;
  private readonly retentionStartUs: number;
  private readonly connectionList: Connection[] = [];
  private readonly connected = new Signal();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly httpServer: Server;
  private paused: boolean;
  private closing = false;
  private sent = 0;
  private injected = 0;

  constructor(
    private readonly options: JetstreamReplayServerOptions,
    private readonly store: FrameStore,
  ) {
    this.highWaterMark = options.highWaterMarkBytes ?? 1 << 20;
    this.eventsPerSecond = options.pace !== undefined && options.pace !== 'asap' ? (options.pace.eventsPerSecond ?? 0) : 0;
    this.malformedEvery = Math.max(0, Math.floor(options.malformedFrames?.every ?? 0));
    this.retentionStartUs = options.retentionStartUs ?? Number.NEGATIVE_INFINITY;
    this.paused = options.startPaused ?? false;
    this.httpServer = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://replay.invalid').pathname;
      response.writeHead(path === '/' ? 200 : 404, { 'Content-Type': 'text/plain' });
      response.end(path === '/' ? 'Jetstream replay server: connect a WebSocket to /subscribe\n' : 'not found\n');
    });
    this.httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.accept(request, socket, head));
  }

  async listen(): Promise<void> {
    this.httpServer.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1');
    await once(this.httpServer, 'listening');
    const address = this.httpServer.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `ws://${host}:${address.port}`;
    this.subscribeUrl = `${this.url}/subscribe`;
    this.port = address.port;
  }

  get sentCount(): number {
    return this.sent;
  }

  get frameCount(): number {
    return this.store.length;
  }

  connections(): ReplayConnectionInfo[] {
    return this.connectionList.map((conn) => ({ ...conn.info, wantedCollections: [...conn.info.wantedCollections], wantedDids: [...conn.info.wantedDids] }));
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wakeAll();
  }

  push(...items: ReplayItem[]): void {
    let newest = this.store.lastTimeUs;
    for (const item of items) {
      const timeUs = item instanceof RawLine || item instanceof RawFrame ? item.timeUs : item.time_us;
      if (timeUs === undefined) continue;
      if (timeUs < newest) throw new ReplayServerError('pushed events must be in time_us order and not older than the events already loaded');
      newest = timeUs;
    }
    this.store.addItems(items);
    this.wakeAll();
  }

  dropConnections(): void {
    for (const conn of this.connectionList) this.drop(conn);
  }

  async waitForConnections(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.connectionList.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new ReplayServerError(`expected ${count} connections, got ${this.connectionList.length}`);
      await Promise.race([this.connected.wait(), sleep(Math.min(left, 100), undefined, { ref: false })]);
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const conn of this.connectionList) if (conn.info.open) conn.ws.terminate();
    this.wakeAll();
    this.wss.close();
    this.httpServer.closeAllConnections();
    await Promise.all([new Promise<void>((resolve) => this.httpServer.close(() => resolve())), ...this.connectionList.map((conn) => conn.closed)]);
  }

  private dropLimitFor(index: number): number {
    const limit = this.options.dropAfterFrames;
    if (limit === undefined) return Number.POSITIVE_INFINITY;
    if (typeof limit === 'number') return limit;
    return limit[index] ?? Number.POSITIVE_INFINITY;
  }

  private wants(conn: Connection, i: number): boolean {
    const { store } = this;
    if (store.raw[i]) return true;
    const { fullPaths, prefixes, wantedDids, maxMessageSizeBytes } = conn.filters;
    if (wantedDids.size > 0 && !wantedDids.has(store.dids[i] ?? '')) return false;
    if (maxMessageSizeBytes > 0 && store.ends[i]! - store.starts[i]! > maxMessageSizeBytes) return false;
    const collection = store.collections[i];
    // @NOTE identity and account events have no collection and pass every collection filter, as in Jetstream.
    if (collection === null || collection === undefined || (fullPaths.size === 0 && prefixes.length === 0)) return true;
    if (fullPaths.has(collection)) return true;
    return prefixes.some((prefix) => collection.startsWith(prefix));
  }

  private send(conn: Connection, data: Buffer | string, binary = false): void {
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    conn.pendingBytes += bytes;
    conn.info.sent += 1;
    this.sent += 1;
    conn.ws.send(data, { binary }, () => {
      conn.pendingBytes -= bytes;
      if (conn.pendingBytes <= this.highWaterMark / 2) conn.wake.notify();
    });
  }

  private wakeAll(): void {
    for (const conn of this.connectionList) conn.wake.notify();
  }

  private async flushed(conn: Connection): Promise<void> {
    while (conn.info.open && conn.pendingBytes > 0) await conn.wake.wait();
  }

  private drop(conn: Connection): void {
    if (!conn.info.open) return;
    conn.info.dropped = true;
    conn.ws.terminate();
  }

  /** Sends a connection the frames it wants, paced, with backpressure, until it closes or is dropped. */
  private async pump(conn: Connection): Promise<void> {
    const { store } = this;
    let paceStart = performance.now();
    let paceCount = 0;
    let sinceYield = 0;
    // The frames of one burst leave in one write: a write a frame cost the sender a quarter to a
    // third of its CPU in bench:embedded (a local stand-in for a remote Jetstream, sharing the cores).
    const socket = (conn.ws as unknown as { _socket?: Duplex })._socket;
    let corked = false;
    const release = () => {
      if (corked) socket?.uncork();
      corked = false;
    };
    while (conn.info.open && !this.closing) {
      if (this.paused || conn.awaitingHello) {
        release();
        await conn.wake.wait();
        paceStart = performance.now();
        paceCount = 0;
        continue;
      }
      if (conn.next >= store.length) {
        release();
        await conn.wake.wait();
        continue;
      }
      const i = conn.next;
      conn.next += 1;
      if (store.timeUs[i]! < this.retentionStartUs || !this.wants(conn, i)) {
        if (++sinceYield >= 4096) {
          sinceYield = 0;
          release();
          await yieldToEventLoop();
        }
        continue;
      }
      if (this.eventsPerSecond > 0) {
        const due = paceStart + (paceCount * 1000) / this.eventsPerSecond;
        paceCount += 1;
        const wait = due - performance.now();
        if (wait >= 1) {
          release();
          await sleep(wait, undefined, { ref: false, signal: conn.abort.signal }).catch(() => undefined);
        }
        if (!conn.info.open || this.closing) break;
      }
      if (!corked) socket?.cork();
      corked = true;
      this.send(conn, store.frame(i), store.binary[i]);
      if (!store.raw[i]) conn.info.lastTimeUs = store.timeUs[i]!;
      if (this.malformedEvery > 0 && ++conn.sinceMalformed >= this.malformedEvery && conn.info.sent < conn.dropAfter) {
        conn.sinceMalformed = 0;
        this.send(conn, injectedMalformed[this.injected++ % injectedMalformed.length]!);
      }
      if (conn.info.sent >= conn.dropAfter) {
        // @NOTE Flush first, so that the client received exactly the frames counted before the drop.
        release();
        await this.flushed(conn);
        this.drop(conn);
        break;
      }
      if (conn.pendingBytes > this.highWaterMark) {
        release();
        while (conn.info.open && conn.pendingBytes > this.highWaterMark / 2) await conn.wake.wait();
        sinceYield = 0;
      } else if (++sinceYield >= 256) {
        // Fairness between connections, and room for the client's messages and close frames.
        sinceYield = 0;
        release();
        await yieldToEventLoop();
      }
    }
    release();
  }

  private accept(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(request.url ?? '/', 'http://replay.invalid');
    if (this.closing) return reject(socket, '503 Service Unavailable', 'shutting down');
    if (url.pathname !== '/subscribe') return reject(socket, '404 Not Found', 'not found');
    let subscription: Subscription;
    try {
      subscription = parseSubscription(request, url.searchParams);
    } catch (error) {
      if (error instanceof BadRequestError) return reject(socket, '400 Bad Request', error.message);
      throw error;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.open(ws, subscription));
  }

  /** The first frame a new connection is sent: at its cursor, clamped to the retention window, or live. */
  private startOf(cursor: number | null): { next: number; clamped: boolean } {
    const { store, retentionStartUs } = this;
    const firstRetained = store.lowerBound(retentionStartUs);
    if (cursor === null) return { next: this.options.noCursor === 'live' ? store.length : firstRetained, clamped: false };
    const oldestRetainedUs = Math.max(retentionStartUs, firstRetained < store.length ? store.timeUs[firstRetained]! : retentionStartUs);
    // @NOTE Like Jetstream, nothing tells the client that its cursor was clamped: it must notice the gap.
    return { next: Math.max(store.lowerBound(cursor), firstRetained), clamped: cursor < oldestRetainedUs };
  }

  private open(ws: WebSocket, { filters, cursor, awaitingHello }: Subscription): void {
    const { next, clamped } = this.startOf(cursor);
    let markClosed!: () => void;
    const conn: Connection = {
      info: {
        id: this.connectionList.length + 1,
        open: true,
        wantedCollections: [...filters.wantedCollections],
        wantedDids: [...filters.wantedDids],
        cursor,
        cursorClamped: clamped,
        startTimeUs: next < this.store.length ? this.store.timeUs[next]! : null,
        sent: 0,
        lastTimeUs: null,
        dropped: false,
      },
      ws,
      filters,
      next,
      pendingBytes: 0,
      wake: new Signal(),
      abort: new AbortController(),
      closed: new Promise<void>((resolve) => (markClosed = resolve)),
      awaitingHello,
      dropAfter: this.dropLimitFor(this.connectionList.length),
      sinceMalformed: 0,
    };
    this.connectionList.push(conn);

    ws.on('close', () => {
      conn.info.open = false;
      conn.abort.abort();
      conn.wake.notify();
      markClosed();
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) this.updateOptions(conn, data);
    });

    this.connected.notify();
    this.pump(conn).catch(() => this.drop(conn));
  }

  /** Jetstream's only client message: {"type":"options_update","payload":{wantedCollections,wantedDids,maxMessageSizeBytes}} */
  private updateOptions(conn: Connection, data: RawData): void {
    try {
      const message = JSON.parse(data.toString()) as { type?: unknown; payload?: Record<string, unknown> };
      if (message.type !== 'options_update') return;
      const payload = message.payload ?? {};
      const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
      conn.filters = parseFilters(asArray(payload.wantedCollections), asArray(payload.wantedDids), payload.maxMessageSizeBytes);
      conn.info.wantedCollections = [...conn.filters.wantedCollections];
      conn.info.wantedDids = [...conn.filters.wantedDids];
      conn.awaitingHello = false;
      conn.wake.notify();
    } catch (error) {
      conn.ws.close(1000, `failed to parse subscriber options: ${error instanceof Error ? error.message : 'invalid'}`.slice(0, 120));
    }
  }
}
