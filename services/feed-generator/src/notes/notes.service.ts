import { Inject, Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { NoteRepository, PostRepository, type NoteRequestRow, type NoteStatusChangeRow } from '#lib/clickhouse';
import type { AppConfig } from '#lib/config';
import { parseAtUri, READERS_ADDED_CONTEXT } from '#lib/domain';
import { isMisleading } from '#lib/notes';
import { APP_CONFIG } from '#lib/platform';

/** One note on a post, as the public page and its JSON show it. */
export interface NoteView {
  uri: string;
  author: string;
  reason: string;
  /** Whether the reason says the post misleads (such a helpful note moves the post in feeds that say so). */
  misleading: boolean;
  text: string;
  createdAtMs: number;
  status: string;
  intercept: number | null;
  factor: number | null;
  raters: number;
  raterSides: { negative: number; positive: number };
}

export interface PostNotes {
  post: string;
  /** The post's text while it is in the store. */
  text: string | null;
  /** The label our labeler serves on the post while a note is helpful: `readers-added-context`. */
  label: { src: string; val: string } | null;
  /** Every helpful note, then at most `MAX_OTHER_NOTES` others, the best first (by status, then intercept). */
  notes: NoteView[];
  /** Notes on the post not listed: past the helpful ones and the best others. */
  omitted: number;
  /** The newest `MAX_CHANGES` status changes of notes on the post. */
  changes: NoteStatusChangeRow[];
  /** Accounts that asked for a note on the post. */
  requests: number;
}

export interface NotesOverview {
  helpful: number;
  needsMoreRatings: number;
  notHelpful: number;
  changes: NoteStatusChangeRow[];
  requested: NoteRequestRow[];
}

/** Whether `value` is the AT-URI of a post (what notes and requests are about). */
export const isPostUri = (value: string): boolean => parseAtUri(value)?.collection === 'app.bsky.feed.post';

/**
 * Notes other than helpful ones a post's page lists at most. Anyone may write a note on any post,
 * each up to 3,000 characters: the page, and what it reads, stays bounded however many there are.
 */
export const MAX_OTHER_NOTES = 50;
const MAX_CHANGES = 50;
/** The longest queue `/api/notes/requests` answers (its `limit`'s bound). */
export const MAX_QUEUE = 500;
/** How long one read of the queue answers every reader. */
const QUEUE_TTL_MS = 5_000;

/** Context notes as people read them: per post (the public page), and the queue for note writers. */
@Injectable()
export class NotesService {
  /**
   * @NOTE The queue is public and reading it aggregates every request and note, which anyone on
   * the network can add to: readers at once share one read for a few seconds, as fund reports do.
   */
  private readonly queue = new LRUCache<'queue', NoteRequestRow[]>({ max: 1, ttl: QUEUE_TTL_MS, fetchMethod: () => this.notes.requested(MAX_QUEUE) });

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly notes: NoteRepository,
    private readonly posts: PostRepository,
  ) {}

  async onPost(post: string): Promise<PostNotes> {
    const [{ notes, omitted }, changes, summaries, requests] = await Promise.all([
      this.notes.onPost(post, MAX_OTHER_NOTES),
      this.notes.changesOnPost(post, MAX_CHANGES),
      this.posts.summaries([post]),
      this.notes.requestCount(post),
    ]);
    const views: NoteView[] = notes.map(({ note, status }) => ({
      uri: note.uri,
      author: note.author,
      reason: note.reason,
      misleading: isMisleading(note.reason),
      text: note.text,
      createdAtMs: Math.floor(note.timeUs / 1000),
      status: status?.status ?? 'needs-more-ratings',
      intercept: status ? status.intercept : null,
      factor: status ? status.factor : null,
      raters: status?.raters ?? 0,
      raterSides: { negative: status?.ratersNegative ?? 0, positive: status?.ratersPositive ?? 0 },
    }));
    const src = this.config.labeler.did;
    return {
      post,
      text: summaries.get(post)?.text ?? null,
      label: src !== undefined && views.some((note) => note.status === 'helpful') ? { src, val: READERS_ADDED_CONTEXT } : null,
      notes: views,
      omitted,
      changes,
      requests,
    };
  }

  async overview(): Promise<NotesOverview> {
    const [statuses, changes, requested] = await Promise.all([this.notes.statuses(), this.notes.changes(50), this.notes.requested(100)]);
    const count = (status: string) => statuses.filter((row) => row.status === status).length;
    return { helpful: count('helpful'), needsMoreRatings: count('needs-more-ratings'), notHelpful: count('not-helpful'), changes, requested };
  }

  /** The first `limit` posts of the queue (at most `MAX_QUEUE`), as read at most a few seconds ago. */
  async requested(limit: number): Promise<NoteRequestRow[]> {
    return (await this.queue.forceFetch('queue')).slice(0, limit);
  }

  request(post: string, nowMs = Date.now()): Promise<void> {
    return this.notes.request(post, nowMs);
  }
}
