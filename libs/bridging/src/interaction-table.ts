import { BridgingInputError } from './errors.js';
import { SIGNAL_COUNT, type Signal } from './signal.js';

/**
 * The input of all scoring: one row per (user, post, signal, time), as parallel typed arrays.
 * Users and posts are dense indices (`0 … userCount-1`, `0 … postCount-1`); `IdIndex` maps them
 * back to DIDs and post URIs. Rows may repeat (a like and a repost by the same user): scoring
 * aggregates them per (user, post).
 */
export interface InteractionTable {
  readonly user: Uint32Array;
  readonly post: Uint32Array;
  readonly signal: Uint8Array;
  readonly timeMs: Float64Array;
  readonly rowCount: number;
  readonly userCount: number;
  readonly postCount: number;
}

/**
 * Interns string ids as dense indices in order of first appearance.
 * @NOTE indices are append-only, so a model fitted on an earlier table stays aligned with a
 * later one built by the same index: this is what makes warm starts possible.
 */
export class IdIndex {
  private readonly byId = new Map<string, number>();
  private readonly ids: string[] = [];

  constructor(ids: Iterable<string> = []) {
    for (const id of ids) this.intern(id);
  }

  get size(): number {
    return this.ids.length;
  }

  /** The index of `id`, adding it if new. */
  intern(id: string): number {
    let index = this.byId.get(id);
    if (index === undefined) {
      index = this.ids.length;
      this.byId.set(id, index);
      this.ids.push(id);
    }
    return index;
  }

  indexOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  idAt(index: number): string {
    const id = this.ids[index];
    if (id === undefined) throw new BridgingInputError(`no id at index ${index}`);
    return id;
  }

  toArray(): readonly string[] {
    return this.ids;
  }
}

/** Accumulates rows into growable typed arrays and interns ids. */
export class InteractionTableBuilder {
  readonly users: IdIndex;
  readonly posts: IdIndex;
  private user: Uint32Array;
  private post: Uint32Array;
  private signal: Uint8Array;
  private timeMs: Float64Array;
  private rows = 0;

  constructor(options: { users?: IdIndex; posts?: IdIndex; capacity?: number } = {}) {
    this.users = options.users ?? new IdIndex();
    this.posts = options.posts ?? new IdIndex();
    const capacity = Math.max(16, options.capacity ?? 1024);
    this.user = new Uint32Array(capacity);
    this.post = new Uint32Array(capacity);
    this.signal = new Uint8Array(capacity);
    this.timeMs = new Float64Array(capacity);
  }

  get rowCount(): number {
    return this.rows;
  }

  add(userId: string, postId: string, signal: Signal, timeMs: number): this {
    return this.addIndexed(this.users.intern(userId), this.posts.intern(postId), signal, timeMs);
  }

  /** Adds a row by dense indices (the caller interned them through `users` / `posts`). */
  addIndexed(user: number, post: number, signal: Signal, timeMs: number): this {
    if (this.rows === this.user.length) this.grow();
    const i = this.rows++;
    this.user[i] = user;
    this.post[i] = post;
    this.signal[i] = signal;
    this.timeMs[i] = timeMs;
    return this;
  }

  /** A snapshot of the rows so far (copies, so the builder can keep growing). */
  build(): InteractionTable {
    const n = this.rows;
    return validateTable({
      user: this.user.slice(0, n),
      post: this.post.slice(0, n),
      signal: this.signal.slice(0, n),
      timeMs: this.timeMs.slice(0, n),
      rowCount: n,
      userCount: this.users.size,
      postCount: this.posts.size,
    });
  }

  private grow(): void {
    const capacity = this.user.length * 2;
    const user = new Uint32Array(capacity);
    user.set(this.user);
    const post = new Uint32Array(capacity);
    post.set(this.post);
    const signal = new Uint8Array(capacity);
    signal.set(this.signal);
    const timeMs = new Float64Array(capacity);
    timeMs.set(this.timeMs);
    this.user = user;
    this.post = post;
    this.signal = signal;
    this.timeMs = timeMs;
  }
}

/** Checks lengths and index ranges once (O(rows)), so the kernels can index without checks. */
export function validateTable(table: InteractionTable): InteractionTable {
  const { rowCount: n, userCount, postCount } = table;
  if (table.user.length < n || table.post.length < n || table.signal.length < n || table.timeMs.length < n) {
    throw new BridgingInputError(`interaction table columns are shorter than rowCount ${n}`);
  }
  for (let i = 0; i < n; i++) {
    if (table.user[i]! >= userCount) throw new BridgingInputError(`row ${i}: user ${table.user[i]} ≥ userCount ${userCount}`);
    if (table.post[i]! >= postCount) throw new BridgingInputError(`row ${i}: post ${table.post[i]} ≥ postCount ${postCount}`);
    if (table.signal[i]! >= SIGNAL_COUNT) throw new BridgingInputError(`row ${i}: unknown signal ${table.signal[i]}`);
  }
  return table;
}

/** Rows whose time lies in `[fromMs, toMs)`: the scoring window. */
export function sliceTableByTime(table: InteractionTable, fromMs: number, toMs: number): InteractionTable {
  let count = 0;
  for (let i = 0; i < table.rowCount; i++) {
    const t = table.timeMs[i]!;
    if (t >= fromMs && t < toMs) count++;
  }
  const user = new Uint32Array(count);
  const post = new Uint32Array(count);
  const signal = new Uint8Array(count);
  const timeMs = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < table.rowCount; i++) {
    const t = table.timeMs[i]!;
    if (t >= fromMs && t < toMs) {
      user[j] = table.user[i]!;
      post[j] = table.post[i]!;
      signal[j] = table.signal[i]!;
      timeMs[j] = t;
      j++;
    }
  }
  return { user, post, signal, timeMs, rowCount: count, userCount: table.userCount, postCount: table.postCount };
}
