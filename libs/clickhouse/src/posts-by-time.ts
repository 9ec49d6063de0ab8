import type { ClickHouseSettings } from '@clickhouse/client';

/**
 * Settings of a `posts FINAL` read bounded by time (`time_us >= …`): the minmax index on `time_us`
 * (migration 27) skips the parts older than the bound.
 *
 * @NOTE ClickHouse's exact mode for skip indexes under FINAL adds back every granule whose key range
 * overlaps one the index kept, in case it holds a newer version of a row kept. Recent parts span
 * every DID, so that is every granule of the history again. It is not needed here: a post's versions
 * are versioned by their `time_us` (an edit or a delete comes later), so a granule the index skips
 * holds no version newer than one that is read.
 */
export const POSTS_BY_TIME: ClickHouseSettings = Object.freeze({ use_skip_indexes_if_final: 1, use_skip_indexes_if_final_exact_mode: 0 });
