import { Inject, Injectable } from '@nestjs/common';
import { Secp256k1Keypair, type Keypair } from '@atproto/crypto';
import { LabelRepository } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { READERS_ADDED_CONTEXT } from '#lib/domain';
import { labelChanges, labelValues, provenanceOf, signLabel, type SequencedLabel } from '#lib/labels';
import { APP_CONFIG, LOGGER, Metrics, type Logger } from '#lib/platform';

/** One feed's newest snapshot, as the labels are derived from it. */
export interface LabelledSnapshot {
  communities: readonly string[];
  posts: readonly { uri: string; cid: string; components: Record<string, unknown> }[];
}

/** How often labels superseded (negated, or labelled again) past `LABELS_HISTORY_DAYS` are pruned; negations stay. */
const PRUNE_EVERY_MS = 60 * 60_000;

/**
 * Our labels, from the provenance of every public ranked feed's newest snapshot (never a
 * members-only feed's, see `ScoreSnapshotJob`): after each snapshot run, the labels each post
 * earns (see `labelRules`) are compared with those in force, and the difference is signed and
 * stored, negations included, under the next sequence numbers.
 *
 * @NOTE A label describes the feeds as they are ranked now: a post that leaves every snapshot
 * (it aged out of the windows, was deleted, or its author's account went away) has its labels
 * negated, like one that stopped qualifying. One ranker is the only writer (the holder of the
 * shared work, see `RankerAssignment`), which is what makes "one past the largest stored" a
 * monotonic sequence.
 */
@Injectable()
export class LabelEmitter {
  private readonly key?: Promise<Keypair>;
  private readonly log: Logger;
  private lastPruneMs = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly labels: LabelRepository,
    @Inject(LOGGER) logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.log = logger.child({ component: 'labeler' });
    const { signingKey } = config.labeler;
    if (signingKey !== undefined) {
      this.key = Secp256k1Keypair.import(signingKey);
      // Validated at start (64 hex digits); a refusal still surfaces, at the first emission.
      this.key.catch(() => undefined);
    }
  }

  /** Whether labels are emitted at all (a labeler DID and signing key are configured). */
  get enabled(): boolean {
    return this.key !== undefined && this.config.labeler.did !== undefined;
  }

  /**
   * Emits what changed since the labels in force; returns the labels stored (none when no labeler
   * is configured). A post with a helpful context note carries `readers-added-context`; the note's
   * text and reason are served beside it (`/notes?post=`), as the Open Community Notes proposal's
   * labelers do, since `com.atproto.label.defs#label` has no field for them.
   */
  async emit(
    snapshots: readonly LabelledSnapshot[],
    nowMs: number,
    helpfulNotes: readonly { post: string; postCid: string }[] = [],
    /** Whether the labels from this sequence number may be written (one writer per number); default yes. */
    mayWrite: (firstSeq: number) => Promise<boolean> = () => Promise.resolve(true),
  ): Promise<SequencedLabel[]> {
    const src = this.config.labeler.did;
    if (!this.key || src === undefined) return [];
    const key = await this.key;
    const wanted = new Map<string, { cid: string; values: Set<string> }>();
    for (const snapshot of snapshots) {
      const communities = new Set(snapshot.communities);
      for (const post of snapshot.posts) {
        const provenance = provenanceOf(post.components);
        const values = provenance ? labelValues(provenance, communities) : [];
        if (values.length === 0) continue;
        const entry = wanted.get(post.uri) ?? { cid: post.cid, values: new Set<string>() };
        for (const value of values) entry.values.add(value);
        wanted.set(post.uri, entry);
      }
    }
    for (const note of helpfulNotes) {
      const entry = wanted.get(note.post) ?? { cid: note.postCid, values: new Set<string>() };
      entry.values.add(READERS_ADDED_CONTEXT);
      wanted.set(note.post, entry);
    }
    // What an append stopped halfway (or a writer of the version before) left unfollowed first.
    await this.labels.followHistory();
    const changes = labelChanges(await this.labels.inForce(src), wanted);
    const cts = new Date(nowMs).toISOString();
    let seq = await this.labels.lastSeq();
    const signed: SequencedLabel[] = [];
    for (const change of changes) {
      const label = await signLabel({ ver: 1, src, uri: change.uri, cid: change.cid, val: change.val, neg: change.neg, cts }, key);
      seq += 1;
      signed.push({ ...label, seq });
    }
    if (signed.length > 0 && !(await mayWrite(signed[0]!.seq))) {
      this.log.warn({ fromSeq: signed[0]!.seq, labels: signed.length }, 'labels not written: another ranker does the shared work now, or wrote these numbers');
      return [];
    }
    await this.labels.append(signed);
    const negations = signed.filter((label) => label.neg).length;
    this.metrics.labelsEmitted.inc({ kind: 'label' }, signed.length - negations);
    this.metrics.labelsEmitted.inc({ kind: 'negation' }, negations);
    if (signed.length > 0) this.log.info({ labels: signed.length - negations, negations, lastSeq: seq }, 'labels emitted');
    await this.pruneHistory(nowMs);
    return signed;
  }

  private async pruneHistory(nowMs: number): Promise<void> {
    if (nowMs - this.lastPruneMs < PRUNE_EVERY_MS) return;
    this.lastPruneMs = nowMs;
    const pruned = await this.labels.prune(new Date(nowMs - this.config.labeler.historyDays * 86_400_000).toISOString());
    if (pruned > 0) this.log.info({ pruned }, 'label history pruned');
  }
}
