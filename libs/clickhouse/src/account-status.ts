/**
 * The accounts among `dids` (SQL selecting DIDs, for `IN`) whose newest status is inactive, for
 * `did NOT IN (…)`. `dids` may be any superset of the DIDs the caller filters: an account outside
 * it is never looked up.
 *
 * @NOTE The DIDs are a PREWHERE, applied before `FINAL` merges the versions: every version of an
 * account shares its DID, so it keeps or drops all of them, and `FINAL` still picks the newest of
 * those kept. The status stays in WHERE, after `FINAL`: applied before, it would keep an older
 * inactive version of an account reactivated since. Reading every account `FINAL` (tens of
 * millions on the network) merged all their versions on every read; this merges those of `dids`
 * only, and where they are few, reads only their granules (`accounts` is sorted by DID).
 */
export function inactiveAccountsAmong(database: string, dids: string): string {
  return `SELECT did FROM ${database}.accounts FINAL PREWHERE did IN (${dids}) WHERE active = 0`;
}

/**
 * Every account whose newest status is inactive: for reads whose accounts are not known beforehand.
 * Its newest version among those of the accounts that were ever inactive (an account inactive now
 * has such a version): a scan of the status column instead of merging every account's versions.
 */
export function inactiveAccounts(database: string): string {
  return inactiveAccountsAmong(database, `SELECT did FROM ${database}.accounts WHERE active = 0`);
}

/** The accounts among `dids` that asked to be hidden from algorithmic feeds, read as `inactiveAccountsAmong` reads. */
export function hiddenAccountsAmong(database: string, dids: string): string {
  return `SELECT did FROM ${database}.visibility FINAL PREWHERE did IN (${dids}) WHERE hide = 1`;
}
