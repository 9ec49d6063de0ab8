import { Jetstream } from '@skyware/jetstream';
import WebSocket from 'ws';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface JetstreamSourceOptions {
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
 * @NOTE Backpressure without buffering: Jetstream replays from a cursor, so when the consumer
 * falls behind `pause()` simply disconnects and `resume()` reconnects from the last event
 * received. Nothing piles up in memory and nothing is skipped (at worst one event repeats).
 */
export class JetstreamSource {
  private client?: Jetstream;
  private lastReceivedUs: number | undefined;
  private running = false;

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
    const receive = (event: { time_us: number }) => {
      if (client !== this.client) return;
      if (typeof event.time_us === 'number' && event.time_us > (this.lastReceivedUs ?? 0)) this.lastReceivedUs = event.time_us;
      this.options.onEvent(event);
    };
    client.on('commit', receive);
    client.on('account', receive);
    client.on('identity', receive);
    client.on('open', () => this.options.onConnection?.('open'));
    client.on('close', () => this.options.onConnection?.('closed'));
    client.on('error', (error: unknown) => {
      if (error instanceof SyntaxError) {
        this.options.onMalformedFrame(error.message, this.lastReceivedUs);
      } else {
        this.options.onConnection?.('connecting', error instanceof Error ? error.message : 'connection error, reconnecting');
      }
    });
    this.client = client;
    this.options.onConnection?.('connecting');
    client.start();
  }

  /** Disconnects; `resume()` continues from the last event received. */
  pause(): void {
    if (!this.running) return;
    this.running = false;
    this.client?.close();
    this.client = undefined;
  }

  resume(): void {
    this.start();
  }

  stop(): void {
    this.pause();
  }
}
