import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ErrorFrame, MessageFrame, XrpcStreamServer, type Frame } from '@atproto/xrpc-server';
import type { WebSocket } from 'ws';
import { LabelRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { Nsid } from '#lib/domain';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';
import { labelFrameBody } from '../labels/label.format.js';
import { LabelStream } from '../labels/label.stream.js';

const PATH = `/xrpc/${Nsid.subscribeLabels}`;
/** Clients send nothing this method reads: a larger frame closes the connection (1009). */
const MAX_CLIENT_FRAME_BYTES = 1024;
/** How often every subscriber is pinged; one that has not answered the ping before is gone. */
const HEARTBEAT_MS = 30_000;
/** What a subscriber past the bound is told before its socket closes. */
const FULL = 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Type: text/plain\r\nContent-Length: 30\r\nConnection: close\r\n\r\nToo many label subscribers now';

/**
 * `com.atproto.label.subscribeLabels`: our labels over a WebSocket, one `#labels` frame per
 * sequence number. Without `cursor`, from now on; with one, everything after it first, in order
 * (`0`: everything kept). A cursor older than the kept history gets `#info OutdatedCursor` and
 * then everything kept; one past the newest label is refused (`FutureCursor`). Frames go out one
 * at a time, each after the socket took the one before (`XrpcStreamServer`), so a slow consumer
 * slows only itself.
 */
@Injectable()
export class SubscribeLabelsGateway implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private server?: XrpcStreamServer;
  private closing?: Promise<void>;
  private readonly log: Logger;
  /** Subscriptions open or being opened: the bound counts a handshake under way too. */
  private subscribers = 0;
  private heartbeat?: NodeJS.Timeout;
  /** Sockets that answered the last ping. */
  private readonly alive = new WeakSet<WebSocket>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly stream: LabelStream,
    private readonly labels: LabelRepository,
    private readonly metrics: Metrics,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'subscribe-labels' });
  }

  onApplicationBootstrap(): void {
    const server = new XrpcStreamServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME_BYTES, handler: (req, signal) => this.frames(req, signal) });
    this.server = server;
    const http = this.adapterHost.httpAdapter.getHttpServer() as Server;
    // @NOTE A listener of the HTTP server, outside every route and filter: what it throws ends the
    // process. The request target is anyone's (`//`, `/\`, absolute-form), so it is compared as
    // text, never parsed, and anything else that goes wrong closes that one socket.
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        if (pathOf(req) !== PATH) {
          socket.destroy();
          return;
        }
        // @NOTE Each subscription replays what it asks for from the store and holds a socket: past
        // the bound, a new one is refused before its handshake, and told when to try again.
        if (this.subscribers >= this.config.labeler.maxSubscribers) {
          this.metrics.labelSubscribersRefused.inc();
          socket.end(FULL);
          return;
        }
        this.subscribers += 1;
        let counted = true;
        const release = () => {
          if (counted) this.subscribers -= 1;
          counted = false;
        };
        socket.once('close', release);
        server.wss.handleUpgrade(req, socket, head, (ws) => {
          this.metrics.labelSubscribers.inc();
          this.alive.add(ws);
          ws.on('pong', () => this.alive.add(ws));
          ws.once('close', () => {
            this.metrics.labelSubscribers.dec();
            release();
          });
          server.wss.emit('connection', ws, req);
        });
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'upgrade request refused');
        socket.destroy();
      }
    });
    // A subscriber that went away without closing (a dropped network) would hold its place for as
    // long as TCP takes to notice; one that misses a ping is closed at the next.
    this.heartbeat = setInterval(() => {
      for (const ws of server.wss.clients) {
        if (!this.alive.has(ws)) {
          ws.terminate();
          continue;
        }
        this.alive.delete(ws);
        ws.ping();
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * Closes every subscription, so that shutdown never waits for a client to leave. Called before
   * the HTTP server closes (whose close waits for every connection, upgraded ones included), and
   * again, at no cost, as a shutdown hook.
   */
  closeSubscriptions(): Promise<void> {
    clearInterval(this.heartbeat);
    const wss = this.server?.wss;
    if (!wss) return Promise.resolve();
    this.closing ??= new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => resolve());
    });
    return this.closing;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.closeSubscriptions();
  }

  private async *frames(req: IncomingMessage, signal: AbortSignal): AsyncGenerator<Frame> {
    // The path is exactly PATH here (see the upgrade listener), so the target parses.
    const text = new URLSearchParams(queryOf(req)).get('cursor');
    let position = this.stream.lastSeq;
    const floor = await this.labels.historyFloor();
    if (text !== null && text !== '') {
      if (!/^\d{1,15}$/.test(text)) {
        yield new ErrorFrame({ error: 'InvalidRequest', message: 'cursor must be a sequence number' });
        return;
      }
      const cursor = Number(text);
      await this.stream.poll();
      if (cursor > this.stream.lastSeq) {
        yield new ErrorFrame({ error: 'FutureCursor', message: 'Cursor in the future.' });
        return;
      }
      position = cursor;
      if (cursor > 0 && cursor < floor) {
        yield new MessageFrame({ name: 'OutdatedCursor', message: `labels before ${floor} are no longer kept; sending all that are` }, { type: '#info' });
        position = 0;
      }
    }
    this.log.debug({ position }, 'subscriber connected');
    for await (const batch of this.stream.after(position, signal, floor)) {
      for (const label of batch) yield new MessageFrame({ seq: label.seq, labels: [labelFrameBody(label)] }, { type: '#labels' });
    }
  }
}

/** The request target's path, as sent: `/xrpc/…` before any `?`. */
const pathOf = (req: IncomingMessage): string => (req.url ?? '/').split('?', 1)[0]!;

/** The request target's query, without its `?`. */
function queryOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at + 1);
}
