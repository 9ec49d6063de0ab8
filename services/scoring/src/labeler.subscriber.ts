import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { Subscription } from '@atproto/xrpc-server';
import { LabelRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { LabelerResolver, type LabelerIdentity } from '#lib/identity';
import { parseReceivedLabel, verifyLabel, type Label } from '#lib/labels';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';

/** A `subscribeLabels` frame, as the subscription decodes it. */
interface LabelFrame {
  $type?: string;
  seq?: number;
  labels?: unknown[];
  name?: string;
  message?: string;
}

/** What the console shows of each labeler we follow. */
export interface FollowedLabeler {
  did: string;
  endpoint?: string;
  cursor?: number;
  received: number;
  rejected: number;
  /** Creation time of the newest label received (ISO 8601). */
  lastLabelAt?: string;
  error?: string;
}

const RETRY_MS = 5_000;
/** A labeler's DID document is fetched afresh for a bad signature at most this often: forged labels must not make us hammer its directory. */
const REFRESH_AT_MOST_EVERY_MS = 60_000;

/**
 * Follows the labelers named in `LABELERS_SUBSCRIBE`: resolves each DID's `#atproto_labeler`
 * endpoint and `#atproto_label` key, subscribes to `subscribeLabels` from the cursor stored for it,
 * verifies every label, stores the good ones and then the cursor. A label whose signature fails is
 * checked once more against a freshly fetched DID document (the labeler may have rotated its key),
 * then dropped and counted. Negations and expiry are honoured where the labels are read.
 *
 * @NOTE The cursor moves only after the labels of its frame are stored, and a label re-delivered
 * replaces itself (keyed by labeler, subject and value), so resuming from the stored cursor after
 * a restart or reconnect loses nothing and counts nothing twice: there is no need to rewind.
 */
@Injectable()
export class LabelerSubscriber implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly controller = new AbortController();
  private readonly runs: Promise<void>[] = [];
  private readonly state = new Map<string, FollowedLabeler>();
  private readonly refreshedAtMs = new Map<string, number>();
  private readonly resolver: LabelerResolver;
  private readonly log: Logger;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly labels: LabelRepository,
    private readonly metrics: Metrics,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'labeler-subscriber' });
    this.resolver = new LabelerResolver({
      plcUrl: config.feedGenerator.plcUrl,
      timeoutMs: 5_000,
      allowInsecureFetch: config.feedGenerator.identityAllowInsecure,
    });
  }

  onApplicationBootstrap(): void {
    // The process that computes snapshots follows the labelers: one writer of their cursors.
    if (!this.config.scoring.snapshots) return;
    for (const did of this.config.labeler.subscribe) {
      this.state.set(did, { did, received: 0, rejected: 0 });
      this.runs.push(this.follow(did));
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.controller.abort();
    await Promise.all(this.runs);
  }

  followed(): FollowedLabeler[] {
    return [...this.state.values()].map((entry) => ({ ...entry }));
  }

  /** Follows one labeler until shutdown, starting over (after a pause) when its stream fails. */
  private async follow(did: string): Promise<void> {
    const signal = this.controller.signal;
    const entry = this.state.get(did)!;
    while (!signal.aborted) {
      try {
        await this.stream(did, entry, signal);
      } catch (err) {
        if (signal.aborted) return;
        entry.error = (err as Error).message;
        if ((err as { error?: unknown }).error === 'FutureCursor' && entry.cursor !== 0) {
          // The labeler numbers its labels anew (moved, or restored from a backup): the stored
          // cursor is past all it has. Read it again from its start; a label read twice replaces itself.
          this.log.warn({ labeler: did, cursor: entry.cursor }, 'labeler says our cursor is in its future; reading it again from the start');
          await this.labels.saveCursor(did, 0);
          continue;
        }
        this.log.warn({ labeler: did, err: entry.error }, 'label subscription failed; retrying');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RETRY_MS);
        signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
      });
    }
  }

  private async stream(did: string, entry: FollowedLabeler, signal: AbortSignal): Promise<void> {
    let identity = await this.resolver.resolve(did);
    entry.endpoint = identity.endpoint;
    entry.cursor = (await this.labels.cursorOf(did)) ?? 0;
    entry.error = undefined;
    const subscription = new Subscription<LabelFrame>({
      service: identity.endpoint.replace(/^http/, 'ws'),
      method: 'com.atproto.label.subscribeLabels',
      signal,
      getParams: () => ({ cursor: entry.cursor }),
      validate: (value) => (typeof value === 'object' && value !== null ? (value) : undefined),
      onReconnectError: (err) => this.log.warn({ labeler: did, err: (err as Error).message }, 'label subscription reconnecting'),
    });
    for await (const frame of subscription) {
      if (frame.$type?.endsWith('#info')) {
        this.log.warn({ labeler: did, name: frame.name, message: frame.message }, 'labeler says');
        continue;
      }
      if (typeof frame.seq !== 'number' || !Array.isArray(frame.labels)) continue;
      const accepted: (Label & { sig: Uint8Array })[] = [];
      for (const raw of frame.labels) {
        const label = parseReceivedLabel(raw);
        if (!label) this.reject(entry, 'malformed');
        else if (label.src !== did) this.reject(entry, 'wrong-source');
        else {
          const verified = await this.verify(label, identity, did);
          identity = verified.identity;
          if (verified.ok) accepted.push(label);
          else this.reject(entry, 'bad-signature');
        }
      }
      await this.labels.writeExternal(accepted);
      await this.labels.saveCursor(did, frame.seq);
      entry.cursor = frame.seq;
      entry.received += accepted.length;
      this.metrics.labelsReceived.inc({ src: did }, accepted.length);
      const newest = accepted[accepted.length - 1];
      if (newest) {
        entry.lastLabelAt = newest.cts;
        this.metrics.labelerLag.set({ src: did }, Math.max(0, (Date.now() - Date.parse(newest.cts)) / 1000));
      }
    }
  }

  /** Verifies against the known key, then once against a freshly resolved one. */
  private async verify(label: Label, identity: LabelerIdentity, did: string): Promise<{ ok: boolean; identity: LabelerIdentity }> {
    if (await verifyLabel(label, identity.key)) return { ok: true, identity };
    if (Date.now() - (this.refreshedAtMs.get(did) ?? 0) < REFRESH_AT_MOST_EVERY_MS) return { ok: false, identity };
    this.refreshedAtMs.set(did, Date.now());
    const fresh = await this.resolver.resolve(did, true);
    return { ok: fresh.key !== identity.key && (await verifyLabel(label, fresh.key)), identity: fresh };
  }

  private reject(entry: FollowedLabeler, reason: 'malformed' | 'wrong-source' | 'bad-signature'): void {
    entry.rejected += 1;
    this.metrics.labelsRejected.inc({ src: entry.did, reason });
  }
}
