/**
 * A name in the location hash (`#/feeds/<name>`), decoded; undefined for one that is not a name: a
 * bad escape, or `.`, `..` or a `/`, which the fetch of `/api/feeds/<name>` would resolve as a path.
 */
export function decodedParam(encoded: string): string | undefined {
  try {
    const param = decodeURIComponent(encoded);
    return param === '.' || param === '..' || param.includes('/') ? undefined : param;
  } catch {
    return undefined;
  }
}
