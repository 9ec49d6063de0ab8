/** A post as a feed held in memory keeps it: its place in the feed's order (a rank or a time) and what a page needs. */
export interface ColumnPost {
  uri: string;
  cid: string;
  /** Rank in a snapshot, or `time_us` in a timeline. */
  key: number;
  feedContext?: string;
  side?: 'positive' | 'negative';
}

const SIDES = [undefined, 'positive', 'negative'] as const;
/** Per post: four typed-array slots (prefix, context, key, side) and two array slots. */
const FIXED_BYTES = 4 + 4 + 8 + 1 + 8 + 8;
/** A V8 string's header, beside its characters (one byte each: URIs and CIDs are ASCII). */
const STRING_BYTES = 16;

/**
 * Posts held column-wise, in ascending `(key, cid)` order, so that a feed is served from memory at
 * any depth: a cursor is found by binary search, and a page costs the same at post 50 or post
 * 500 000.
 *
 * @NOTE Compact on purpose: a post costs about 130 bytes (its record key and CID strings and a few
 * numbers) rather than the ~300 of an object holding its URI. A URI is split at its last `/`: the
 * part before it (`at://<author>/<collection>`, shared by all of an author's posts) is interned
 * once, like the few distinct `feedContext` texts of a snapshot; the URI is joined again only for
 * the posts of a page.
 */
export class PostColumns {
  private readonly prefixes: string[] = [];
  private readonly prefixIds = new Map<string, number>();
  private readonly contexts: (string | undefined)[] = [undefined];
  private readonly contextIds = new Map<string, number>();
  private prefix: Uint32Array;
  private context: Uint32Array;
  private keys: Float64Array;
  private sides: Uint8Array;
  private readonly rkeys: string[] = [];
  private readonly cids: string[] = [];
  private stringBytes = 0;
  length = 0;

  constructor(capacity = 1_024) {
    this.prefix = new Uint32Array(capacity);
    this.context = new Uint32Array(capacity);
    this.keys = new Float64Array(capacity);
    this.sides = new Uint8Array(capacity);
  }

  /** Appends a post; it must not come before the last one in `(key, cid)` order (or, for `reverse`, after it). */
  push(post: ColumnPost): void {
    const cut = post.uri.lastIndexOf('/');
    // A copy of its own: a slice would keep the whole URI alive beside it.
    const rkey = Buffer.from(post.uri.slice(cut + 1), 'latin1').toString('latin1');
    this.pushParts(post.uri.slice(0, cut), rkey, post.cid, post.key, post.feedContext, post.side);
  }

  /** Appends a post given as the parts of its URI (`<prefix>/<rkey>`), as a bulk read returns them. */
  pushParts(prefix: string, rkey: string, cid: string, key: number, feedContext?: string, side?: 'positive' | 'negative'): void {
    if (this.length === this.keys.length) this.grow(this.length * 2);
    const index = this.length;
    this.prefix[index] = this.intern(this.prefixes, this.prefixIds, prefix);
    this.context[index] = feedContext ? this.intern(this.contexts, this.contextIds, feedContext) : 0;
    this.keys[index] = key;
    this.sides[index] = side === 'positive' ? 1 : side === 'negative' ? 2 : 0;
    this.rkeys[index] = rkey;
    this.cids[index] = cid;
    this.stringBytes += 2 * STRING_BYTES + rkey.length + cid.length;
    this.length += 1;
  }

  /**
   * Reverses the posts' order in place: a bulk read that gave them newest first, pushed as they
   * came, is then in the columns' order.
   */
  reverse(): void {
    for (const column of [this.prefix, this.context, this.keys, this.sides]) column.subarray(0, this.length).reverse();
    this.rkeys.reverse();
    this.cids.reverse();
  }

  /** Keeps the first `length` posts. */
  truncate(length: number): void {
    for (let index = length; index < this.length; index += 1) this.stringBytes -= 2 * STRING_BYTES + this.rkeys[index]!.length + this.cids[index]!.length;
    this.length = Math.min(this.length, Math.max(0, length));
    this.rkeys.length = this.length;
    this.cids.length = this.length;
  }

  /** Drops the first `count` posts (the oldest of a timeline). */
  dropFirst(count: number): void {
    const n = Math.min(count, this.length);
    if (n <= 0) return;
    for (let index = 0; index < n; index += 1) this.stringBytes -= 2 * STRING_BYTES + this.rkeys[index]!.length + this.cids[index]!.length;
    for (const column of [this.prefix, this.context, this.keys, this.sides]) column.copyWithin(0, n, this.length);
    this.rkeys.splice(0, n);
    this.cids.splice(0, n);
    this.length -= n;
  }

  at(index: number): ColumnPost {
    const feedContext = this.contexts[this.context[index]!];
    const side = SIDES[this.sides[index]!];
    return {
      uri: `${this.prefixes[this.prefix[index]!]!}/${this.rkeys[index]!}`,
      cid: this.cids[index]!,
      key: this.keys[index]!,
      ...(feedContext !== undefined && { feedContext }),
      ...(side !== undefined && { side }),
    };
  }

  keyAt(index: number): number {
    return this.keys[index]!;
  }

  /** The index of the first post at or after `(key, cid)` in the columns' order, or `length`. */
  firstNotBelow(key: number, cid = ''): number {
    let low = 0;
    let high = this.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const midKey = this.keys[mid]!;
      if (midKey < key || (midKey === key && this.cids[mid]! < cid)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Bytes the posts take, interned strings included: what the memory bounds are stated in. */
  get bytes(): number {
    const interned = [...this.prefixes, ...this.contexts].reduce((sum, text) => sum + STRING_BYTES + 8 + (text?.length ?? 0), 0);
    return this.length * FIXED_BYTES + this.stringBytes + interned;
  }

  private intern(values: (string | undefined)[], ids: Map<string, number>, value: string): number {
    let id = ids.get(value);
    if (id === undefined) {
      id = values.length;
      values.push(value);
      ids.set(value, id);
    }
    return id;
  }

  private grow(capacity: number): void {
    const grown = <T extends Uint32Array | Float64Array | Uint8Array>(column: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(column.subarray(0, this.length));
      return next;
    };
    this.prefix = grown(this.prefix, (n) => new Uint32Array(n));
    this.context = grown(this.context, (n) => new Uint32Array(n));
    this.keys = grown(this.keys, (n) => new Float64Array(n));
    this.sides = grown(this.sides, (n) => new Uint8Array(n));
  }
}
