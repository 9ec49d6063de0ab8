import { Jetstream } from '@skyware/jetstream';
import WebSocket from 'ws';
import { isJetstreamTimeUs } from '#lib/domain';

type ConnectionState = 'connecting' | 'open' | 'closed';

interface JetstreamSourceOptions {
  /** Full `/subscribe` endpoint, e.g. `wss://jetstream2.us-east.bsky.network/subscribe`. */
  url: string;
  wantedCollections: readonly string[];
  /** Unix µs to replay from; absent means "from now". */
  cursorUs?: number;
  /** Every event frame, parsed but not validated (the caller maps and validates it). */
  onEvent: (raw: unknown) => void;
  /** A frame that is not JSON; `afterUs` is the `time_us` of the last good event before it. */
  onMalformedFrame: (reason: string, afterUs: number | undefined) => void;
  onConnection?: (state: ConnectionState, detail?: string) => void;
}

/**
 * Jetstream through `@skyware/jetstream`, which reconnects by itself and resumes from the last
 * event it received.
 *
 * Backpressure without unbounded buffering: `pause()` stops reading the socket, and the server
 * holds back (Jetstream replays from a cursor anyway, so a consumer that falls far behind loses
 * nothing).
 */
export class JetstreamSource {
  private client?: Jetstream;
  private lastReceivedUs: number | undefined;
  private running = false;
  private pausedSocket?: { pause(): void; resume(): void };

  constructor(private readonly options: JetstreamSourceOptions) {
    this.lastReceivedUs = options.cursorUs;
  }

  /** `time_us` of the newest event received so far. */
  get cursorUs(): number | undefined {
    return this.lastReceivedUs;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const client = new Jetstream({
      ws: WebSocket,
      endpoint: this.options.url,
      wantedCollections: [...this.options.wantedCollections] as never,
      cursor: this.lastReceivedUs,
    });
    client.on('open', () => this.options.onConnection?.('open'));
    client.on('close', () => this.options.onConnection?.('closed'));
    client.on('error', (error: unknown) => {
      // Must never throw: an exception here would stall the socket silently.
      try {
        this.options.onConnection?.('connecting', error instanceof Error ? error.message : 'connection error, reconnecting');
      } catch {
        // The connection state is informational; losing one report is harmless.
      }
    });
    this.client = client;
    this.options.onConnection?.('connecting');
    client.start();
    // @NOTE The client parses each frame and silently drops some malformed ones (no `rev`, arrays,
    // unknown kinds) before any listener sees them. We take its socket's message handler instead,
    // parse once, count every malformed frame, and keep the client's cursor up to date, so its
    // reconnects still resume from the last event received.
    client.ws!.onmessage = (message: MessageEvent) => this.receive(client, message.data);
  }

  private receive(client: Jetstream, data: unknown): void {
    if (client !== this.client) return;
    let event: unknown;
    try {
      event = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch (error) {
      this.options.onMalformedFrame((error as Error).message, this.lastReceivedUs);
      return;
    }
    const timeUs = (event as { time_us?: unknown } | null)?.time_us;
    // @NOTE Only a well-formed time_us moves the cursor: one hostile frame with time_us 1e300 (or 2^53)
    // would otherwise make every reconnect ask for the far future, and receive nothing ever again.
    if (isJetstreamTimeUs(timeUs) && timeUs > (this.lastReceivedUs ?? 0)) {
      this.lastReceivedUs = timeUs;
      client.cursor = timeUs;
    }
    this.options.onEvent(event);
  }

  /**
   * Stops reading until `resume()`. The socket stops being read, so TCP backpressure reaches the
   * server and nothing piles up here; where the socket cannot pause, it disconnects and `resume()`
   * reconnects from the last event received.
   */
  pause(): void {
    if (!this.running || this.pausedSocket) return;
    const socket = this.rawSocket();
    if (socket) {
      socket.pause();
      this.pausedSocket = socket;
      return;
    }
    this.disconnect();
  }

  resume(): void {
    if (this.pausedSocket) {
      this.pausedSocket.resume();
      this.pausedSocket = undefined;
      return;
    }
    this.start();
  }

  get isPaused(): boolean {
    return this.pausedSocket !== undefined || !this.running;
  }

  /**
   * @NOTE The `ws` socket under the client's reconnecting wrapper (partysocket keeps it as `_ws`);
   * `ws` can pause reading. Absent (another WebSocket implementation), pausing falls back to a
   * disconnect.
   */
  private rawSocket(): { pause(): void; resume(): void } | undefined {
    const socket = (this.client?.ws as unknown as { _ws?: { pause?: unknown; resume?: unknown } } | undefined)?._ws;
    return typeof socket?.pause === 'function' && typeof socket.resume === 'function'
      ? (socket as { pause(): void; resume(): void })
      : undefined;
  }

  private disconnect(): void {
    this.running = false;
    this.client?.close();
    this.client = undefined;
  }

  stop(): void {
    this.pausedSocket?.resume();
    this.pausedSocket = undefined;
    if (this.running) this.disconnect();
  }
}
