/**
 * Values one query names in its parameters at most. A server takes a query's parameters in its
 * URL, which it caps at 1 MiB (`http_max_uri_size`): 2,000 AT-URIs or DIDs are about 200 KB. A
 * list past the cap fails the query whatever is tried again, so every list of keys that grows with
 * the network (raters, posts, edits in a batch) is asked about a share at a time.
 */
export const VALUES_PER_QUERY = 2_000;

/** What `read` finds for each share of `values` (`size` at a time), in the order of the shares. */
export async function inShares<Value, Found>(
  values: readonly Value[],
  read: (share: readonly Value[]) => Promise<readonly Found[]>,
  size = VALUES_PER_QUERY,
): Promise<Found[]> {
  const found: Found[] = [];
  for (let from = 0; from < values.length; from += size) {
    for (const item of await read(values.slice(from, from + size))) found.push(item);
  }
  return found;
}
