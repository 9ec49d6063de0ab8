/**
 * A hashtag as posts and conversations are matched by it: compatibility-normalised (NFKC) and in
 * lower case, so that `#Café` typed with a composed é, with a separate accent mark, or in full-width
 * letters is one tag, as a reader takes it.
 */
export function normaliseTag(tag: string): string {
  return tag.normalize('NFKC').toLowerCase();
}
