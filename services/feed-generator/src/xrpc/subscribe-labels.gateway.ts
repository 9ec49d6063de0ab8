import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ErrorFrame, MessageFrame, XrpcStreamServer, type Frame } from '@atproto/xrpc-server';
import { LabelRepository } from '#lib/clickhouse';
import { Nsid } from '#lib/domain';
import { LOGGER, Metrics, type Logger } from '#lib/platform';
import { labelFrameBody } from '../labels/label.format.js';
import { LabelStream } from '../labels/label.stream.js';

const PATH = `/xrpc/${Nsid.subscribeLabels}`;
/** Clients send nothing this method reads: a larger frame closes the connection (1009). */
const MAX_CLIENT_FRAME_BYTES = 1024;

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

  constructor(
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
        server.wss.handleUpgrade(req, socket, head, (ws) => {
          this.metrics.labelSubscribers.inc();
          ws.once('close', () => this.metrics.labelSubscribers.dec());
          server.wss.emit('connection', ws, req);
        });
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'upgrade request refused');
        socket.destroy();
      }
    });
  }

  /**
   * Closes every subscription, so that shutdown never waits for a client to leave. Called before
   * the HTTP server closes (whose close waits for every connection, upgraded ones included), and
   * again, at no cost, as a shutdown hook.
   */
  closeSubscriptions(): Promise<void> {
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
