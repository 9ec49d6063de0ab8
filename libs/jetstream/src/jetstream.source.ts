import { isUtf8 } from 'node:buffer';
import { Jetstream } from '@skyware/jetstream';
import WebSocket from 'ws';
import { isJetstreamTimeUs } from '#lib/domain';
import { StreamTurns } from '#lib/steps';

type ConnectionState = 'connecting' | 'open' | 'closed';

interface JetstreamSourceOptions {
  /** Full `/subscribe` endpoint, e.g. `wss://jetstream2.us-east.bsky.network/subscribe`. */
  url: string;
  wantedCollections: readonly string[];
  /** Unix µs to replay from; absent means "from now". */
  cursorUs?: number;
  /** Every event frame, parsed but not validated (the caller maps and validates it). */
  onEvent: (raw: unknown) => void;
  /** A frame that is not JSON text; `afterUs` is the `time_us` of the last good event before it. */
  onMalformedFrame: (reason: string, afterUs: number | undefined) => void;
  /**
   * The first well-formed `time_us` of each connection, with the cursor that connection asked for
   * (undefined: the live stream). Jetstream serves an older cursor from the oldest event it still
   * holds, without a word: a first event far past the cursor is the only sign of lost events.
   */
  onFirstEvent?: (firstEventUs: number, requestedCursorUs: number | undefined) => void;
  onConnection?: (state: ConnectionState, detail?: string) => void;
  /** How long the frames of one turn of the event loop may take before the socket waits for the next turn, ms (`StreamTurns`). */
  turnBudgetMs?: number;
}

/**
 * Jetstream through `@skyware/jetstream`, which reconnects by itself and resumes from the last
 * event it received.
 *
 * Backpressure without unbounded buffering: `pause()` stops reading the socket, and the server
 * holds back (Jetstream replays from a cursor anyway, so a consumer that falls far behind loses
 * nothing).
 *
 * @NOTE Frames come straight from each `ws` socket the client opens (the client takes the socket
 * class as its `ws` option): the client would parse each frame and silently drop some malformed
 * ones (no `rev`, arrays, unknown kinds) before any listener sees them, and its reconnecting
 * wrapper (partysocket) wraps every frame in a DOM `MessageEvent` and then copies it into
 * another; at Jetstream's rates that wrapping cost as much allocation as parsing and mapping the
 * frame. The socket keeps its `message` event to us alone; open, close and error still reach the
 * client, which reconnects from the cursor kept up to date here.
 */
export class JetstreamSource {
  private client?: Jetstream;
  /** The socket the client opened last: the one whose frames count. */
  private socket?: WebSocket;
  /** The cursor in the address of `socket`, and whether it has yet to deliver an event. */
  private socketCursorUs: number | undefined;
  private awaitingFirstEvent = false;
  private lastReceivedUs: number | undefined;
  private running = false;
  private pausedSocket?: WebSocket;
  /** The frames of a turn of the event loop, budgeted (`giveTurnIfDue`). */
  private readonly turns: StreamTurns;

  constructor(private readonly options: JetstreamSourceOptions) {
    this.lastReceivedUs = options.cursorUs;
    this.turns = new StreamTurns(options.turnBudgetMs);
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
      ws: this.frameSocketClass(),
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
  }

  /**
   * The socket class the client opens its connections with: a `ws` socket that hands each frame,
   * as bytes, to `receive` and keeps `message` listeners added through the DOM interface (the
   * client's wrapper) from ever being called.
   */
  private frameSocketClass(): new (address: string | URL, protocols?: string | string[]) => WebSocket {
    const opened = (socket: WebSocket, address: string | URL) => this.opened(socket, address);
    const receive = (socket: WebSocket, data: WebSocket.RawData, isBinary: boolean) => this.receive(socket, data, isBinary);
    return class FrameSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        // @NOTE `ws` closes a connection on a text frame that is not UTF-8, and the reconnect asks
        // for the same cursor and gets the same frame, for ever: `receive` checks each frame
        // instead, and passes over one such frame as malformed.
        super(address, protocols, { skipUTF8Validation: true });
        opened(this, address);
        this.on('message', (data, isBinary) => receive(this, data, isBinary));
      }

      override addEventListener(...[type, listener, options]: Parameters<WebSocket['addEventListener']>): void {
        if ((type as string) === 'message') return;
        super.addEventListener(type, listener, options);
      }
    };
  }

  /**
   * @NOTE The cursor is read from the address the socket was opened with, not from the client: the
   * client builds that address afresh for every reconnect, so it is exactly what this connection
   * asked the server for.
   */
  private opened(socket: WebSocket, address: string | URL): void {
    const cursor = new URL(address).searchParams.get('cursor');
    this.socket = socket;
    this.socketCursorUs = cursor === null ? undefined : Number(cursor);
    this.awaitingFirstEvent = true;
  }

  private receive(socket: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (socket !== this.socket || !this.client) return;
    this.giveTurnIfDue(socket);
    if (isBinary) {
      this.options.onMalformedFrame('a binary frame: Jetstream sends JSON text', this.lastReceivedUs);
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (!isUtf8(bytes)) {
      this.options.onMalformedFrame('a text frame that is not UTF-8', this.lastReceivedUs);
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(bytes.toString());
    } catch (error) {
      this.options.onMalformedFrame((error as Error).message, this.lastReceivedUs);
      return;
    }
    const timeUs = (event as { time_us?: unknown } | null)?.time_us;
    // @NOTE Only a well-formed time_us, not ahead of the clock, moves the cursor: one hostile frame with
    // time_us 1e300, or a year ahead, would otherwise make every reconnect ask for the future, which
    // Jetstream answers from the live edge, losing what was sent while disconnected.
    if (isJetstreamTimeUs(timeUs, Date.now() * 1000)) {
      if (this.awaitingFirstEvent) {
        this.awaitingFirstEvent = false;
        this.options.onFirstEvent?.(timeUs, this.socketCursorUs);
      }
      if (timeUs > (this.lastReceivedUs ?? 0)) {
        this.lastReceivedUs = timeUs;
        this.client.cursor = timeUs;
      }
    }
    this.options.onEvent(event);
  }

  /**
   * Stops reading the socket until the next turn of the event loop once this turn's frames have
   * taken the turn's budget (`StreamTurns`, `TURN_BUDGET_MS` as a snapshot run's steps): a
   * connection that has fallen behind (ingest catching up after a restart) would otherwise have
   * thousands of frames parsed and mapped in one stretch, which every request of the one-process
   * app waited out. The frames left wait in the kernel, and the server's sending with them.
   */
  private giveTurnIfDue(socket: WebSocket): void {
    if (this.pausedSocket || socket.readyState !== WebSocket.OPEN || !this.turns.due()) return;
    socket.pause();
    this.turns.resumeNextTurn(() => {
      // Paused since for backpressure, or replaced: `resume()` or the next connection reads on.
      if (!this.pausedSocket && socket === this.socket && socket.readyState === WebSocket.OPEN) socket.resume();
    });
  }

  /**
   * Stops reading until `resume()`. The socket stops being read, so TCP backpressure reaches the
   * server and nothing piles up here; before a socket is open, it disconnects and `resume()`
   * reconnects from the last event received.
   */
  pause(): void {
    if (!this.running || this.pausedSocket) return;
    const socket = this.socket;
    if (socket?.readyState === WebSocket.OPEN) {
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

  private disconnect(): void {
    this.running = false;
    // A socket paused for a turn (`giveTurnIfDue`) would not read the server's answer to the close,
    // and would linger until the close times out (30 s); resuming one not paused changes nothing.
    this.socket?.resume();
    this.client?.close();
    this.client = undefined;
    this.socket = undefined;
  }

  stop(): void {
    this.pausedSocket?.resume();
    this.pausedSocket = undefined;
    if (this.running) this.disconnect();
  }
}
