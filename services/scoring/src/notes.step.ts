import { validateCidString } from '@atproto/lex-data';
import { Inject, Injectable } from '@nestjs/common';
import { NoteRepository, PostRepository, type NoteRatingRecord, type NoteRecord, type NoteStatusChangeRow, type NoteStatusRow } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import {
  admitProposals,
  isMisleading,
  lockstepGroupsSteps,
  ratingValue,
  scoreNotesSteps,
  withRaterWeights,
  youngAccountWeight,
  type NoteRating,
  type NoteStatus,
  type RaterPrior,
} from '#lib/notes';
import { APP_CONFIG, LOGGER, type Logger } from '#lib/platform';
import { runInTurns } from '#lib/steps';

/** A note rated helpful now: what its label and the feeds need. */
export interface HelpfulNote {
  note: string;
  post: string;
  postCid: string;
  reason: string;
  misleading: boolean;
}

export interface NotesRun {
  helpful: HelpfulNote[];
  /** Notes scored (admitted and rated), and notes refused by the per-day limit. */
  scored: number;
  refused: number;
  changes: number;
  /** Raters discounted as young accounts, and raters found rating in lock-step (in groups of two or more). */
  youngRaters: number;
  lockstepRaters: number;
  /** Raters whose factor was seeded by a prior from their Bluesky likes. */
  priors: number;
  /**
   * Share of scored notes whose status is the same without the priors (1 when no prior applied):
   * how much the likes moved the statuses.
   */
  agreementWithoutPriors: number;
  ms: number;
}

export class NotesStats {
  runs = 0;
  /** Runs whose notes step failed (the feeds went on without it). */
  failures = 0;
  last?: NotesRun;
}

const NEEDS_MORE: NoteStatus = 'needs-more-ratings';
const DAY_MS = 86_400_000;

/**
 * The notes step of each ranker run, before the feeds are ranked: reads the live notes and each
 * rater's latest rating, admits notes under the per-day limit, weighs the ratings, scores them
 * with the previous statuses (Community Notes' factorisation and rules, `#lib/notes`), stores
 * every note's status and logs each change. Its helpful notes become labels, and those that say
 * the post misleads act on the feeds as labels do.
 *
 * @NOTE A writer's rating of their own note is left out (Community Notes does the same), and so is
 * a rating of a note that is withdrawn or refused, or of another version of it (`ratesThisVersion`).
 */
@Injectable()
export class NotesStep {
  readonly stats = new NotesStats();
  private readonly log: Logger;
  /** The oldest event in the store (unix µs), read once: it only moves when history is pruned. */
  private storeStartUs?: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly notes: NoteRepository,
    private readonly posts: PostRepository,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ component: 'notes' });
  }

  async run(nowMs: number, priors: readonly RaterPrior[]): Promise<NotesRun> {
    const started = performance.now();
    const settings = this.config.notes;
    const live = await this.notes.notes();
    // A note withdrawn still counts toward its writer's limit on the day it was written: deleting
    // the day's first notes does not let the ones refused after them in.
    const oldestUs = live[0]?.timeUs;
    const withdrawn = oldestUs === undefined ? [] : await this.notes.withdrawnSince(oldestUs - (oldestUs % (DAY_MS * 1000)));
    const within = new Set(admitProposals([...live, ...withdrawn], settings.proposalsPerDay).admitted.map((note) => note.uri));
    const admitted = live.filter((note) => within.has(note.uri));
    const refused = live.filter((note) => !within.has(note.uri));
    const byUri = new Map(admitted.map((note) => [note.uri, note]));
    const rated: NoteRating[] = [];
    for (const rating of await this.notes.ratings()) {
      const note = byUri.get(rating.note);
      const value = ratingValue(rating.helpfulness);
      if (note && ratesThisVersion(rating, note) && value !== undefined && rating.rater !== note.author) rated.push({ rater: rating.rater, note: rating.note, value });
    }
    const young = await this.youngWeights(rated, nowMs);
    // In turns: at a million ratings this is seconds of work, and in one process the feeds and ingest share the event loop.
    const lockstep = await runInTurns(lockstepGroupsSteps(rated));
    const ratings = withRaterWeights(withRaterWeights(rated, young), lockstep.weights);
    const stored = await this.notes.statuses();
    const previous = new Map(stored.map((row) => [row.note, row.status as NoteStatus]));
    const raters = new Set(ratings.map((rating) => rating.rater));
    const usedPriors = settings.raterPriors ? priors.filter((prior) => raters.has(prior.rater)) : [];
    const scoring = await runInTurns(scoreNotesSteps(ratings, previous, { priors: usedPriors }));
    const agreementWithoutPriors = usedPriors.length > 0 ? agreement(scoring.notes, (await runInTurns(scoreNotesSteps(ratings, previous))).notes) : 1;

    const atMs = nowMs;
    const statuses: NoteStatusRow[] = scoring.notes.map((score) => ({
      note: score.note,
      noteCid: byUri.get(score.note)!.cid,
      post: byUri.get(score.note)!.post,
      status: score.status,
      intercept: score.intercept,
      factor: score.factor,
      raters: score.raters,
      ratersNegative: Math.round(score.raterSides.negative),
      ratersPositive: Math.round(score.raterSides.positive),
      updatedAtMs: atMs,
    }));
    // The scorer reports notes it no longer sees (withdrawn, refused, or without ratings) as back to
    // needs more ratings; their stored rows follow, and a withdrawn note keeps the post it was on.
    const storedRows = new Map(stored.map((row) => [row.note, row]));
    const changes: NoteStatusChangeRow[] = scoring.changes.map((change) => ({
      atMs,
      ...change,
      post: byUri.get(change.note)?.post ?? storedRows.get(change.note)?.post ?? '',
      reason: byUri.has(change.note) ? change.reason : 'the note was withdrawn or is over its writer\'s daily limit',
    }));
    const changed = new Set(changes.map((change) => change.note));
    const scored = new Set(scoring.notes.map((score) => score.note));
    for (const row of stored) {
      if (scored.has(row.note) || row.status === NEEDS_MORE) continue;
      statuses.push({ ...row, status: NEEDS_MORE, raters: 0, ratersNegative: 0, ratersPositive: 0, updatedAtMs: atMs });
      if (!changed.has(row.note)) changes.push({ atMs, note: row.note, post: row.post, from: row.status, to: NEEDS_MORE, reason: 'no rating of the note is left' });
    }
    await this.notes.writeStatuses(statuses);
    await this.notes.logChanges(changes);

    const helpful = await this.helpfulOf(scoring.notes.filter((score) => score.status === 'helpful').map((score) => byUri.get(score.note)!));
    const run: NotesRun = {
      helpful,
      scored: scoring.notes.length,
      refused: refused.length,
      changes: changes.length,
      youngRaters: [...young.values()].filter((weight) => weight < 1).length,
      lockstepRaters: lockstep.weights.size,
      priors: usedPriors.length,
      agreementWithoutPriors,
      ms: Math.round(performance.now() - started),
    };
    this.stats.runs += 1;
    this.stats.last = run;
    for (const change of changes) this.log.info(change, 'note status changed');
    this.log.info({ ...run, helpful: helpful.length }, 'notes scored');
    return run;
  }

  /**
   * The helpful notes as the ranker holding the shared work last stored them, for a ranker that
   * does not score notes itself: its feeds act on the same notes, and nothing is written.
   */
  async stored(): Promise<NotesRun> {
    const started = performance.now();
    const rows = (await this.notes.statuses()).filter((row) => row.status === 'helpful');
    const records = new Map((await this.notes.notes([...new Set(rows.map((row) => row.post))])).map((note) => [note.uri, note]));
    const helpful = await this.helpfulOf(
      rows.flatMap((row) => {
        const note = records.get(row.note);
        // A status of another version of the note (deleted and written again since) is not this one's.
        return note && (row.noteCid === '' || row.noteCid === note.cid) ? [note] : [];
      }),
    );
    const ms = Math.round(performance.now() - started);
    return { helpful, scored: 0, refused: 0, changes: 0, youngRaters: 0, lockstepRaters: 0, priors: 0, agreementWithoutPriors: 1, ms };
  }

  /**
   * Helpful notes as labels and feeds need them; a label names the post's version in the store, or
   * the one the note names. A note on a post the store knows is gone (deleted, or its author's
   * account inactive) gives none: its label is negated, and comes back with the post.
   */
  private async helpfulOf(notes: readonly NoteRecord[]): Promise<HelpfulNote[]> {
    const states = await this.posts.states([...new Set(notes.map((note) => note.post))]);
    return notes.flatMap((note) => {
      const state = states.get(note.post);
      return state === null ? [] : [helpfulNote(note, state ?? (validateCidString(note.postCid) ? note.postCid : ''))];
    });
  }

  /**
   * The young-account weight of each rater, by when the account was created where its PLC
   * directory said so (a backfill asks it of every member), else by when the store first saw it.
   *
   * @NOTE Jetstream does not say when an account was created, so without its directory's word an
   * account's age is how long the store has known it. Accounts the store met in its first
   * `youngAccountDays` may be old accounts seen for the first time: they count as established, so
   * that discount applies to accounts that appear once the store has been running longer than that.
   */
  private async youngWeights(ratings: readonly NoteRating[], nowMs: number): Promise<Map<string, number>> {
    const days = this.config.notes.youngAccountDays;
    const weights = new Map<string, number>();
    if (days === 0 || ratings.length === 0) return weights;
    this.storeStartUs ??= await this.notes.storeStartUs();
    const minAgeMs = days * DAY_MS;
    const knownSinceMs = (this.storeStartUs ?? nowMs * 1000) / 1000 + minAgeMs;
    const raters = [...new Set(ratings.map((rating) => rating.rater))];
    const [firstSeen, created] = await Promise.all([this.notes.firstSeen(raters), this.notes.createdAt(raters)]);
    for (const [rater, firstUs] of firstSeen) {
      const firstMs = firstUs / 1000;
      weights.set(rater, youngAccountWeight(firstMs < knownSinceMs ? 0 : firstMs, nowMs, { minAgeMs }));
    }
    for (const [rater, createdUs] of created) weights.set(rater, youngAccountWeight(createdUs / 1000, nowMs, { minAgeMs }));
    return weights;
  }
}

/**
 * Whether a rating is of the note as it is now. A note deleted and written again at the same
 * record key has the same URI, and ratings of the one deleted name its CID. A rating stored before
 * ratings kept the CID counts when it came after the note as it is now: one that came before
 * cannot be of it.
 */
function ratesThisVersion(rating: NoteRatingRecord, note: NoteRecord): boolean {
  return rating.noteCid === '' ? rating.timeUs >= note.timeUs : rating.noteCid === note.cid;
}

function helpfulNote(note: NoteRecord, postCid: string): HelpfulNote {
  return { note: note.uri, post: note.post, postCid, reason: note.reason, misleading: isMisleading(note.reason) };
}

/** Share of notes with the same status in both scorings (1 for none). */
function agreement(a: readonly { note: string; status: string }[], b: readonly { note: string; status: string }[]): number {
  if (a.length === 0) return 1;
  const other = new Map(b.map((score) => [score.note, score.status]));
  return a.filter((score) => other.get(score.note) === score.status).length / a.length;
}
