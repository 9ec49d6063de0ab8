import type { ClickHouseClient } from '@clickhouse/client';

/** A backup's name: a file or folder under the store's backup folder, never a path out of it. */
const BACKUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const MAX_NAME_LENGTH = 100;
/** Backups and restores listed, newest first. */
const LISTED = 100;
/** How often a restore under way is looked at. */
const POLL_MS = 250;

/** A backup name that is not one: empty, too long, or with characters a path could escape by. */
export class BackupNameError extends Error {
  override name = 'BackupNameError';
  constructor(value: string) {
    super(`"${value.slice(0, MAX_NAME_LENGTH)}" is not a backup name: letters, digits, "_" and "-", in parts separated by single dots (for example common_ground-20261205.tar.gz), at most ${MAX_NAME_LENGTH} characters`);
  }
}

/** A restore was asked into a database that holds tables, without leave to replace them. */
export class StoreNotEmptyError extends Error {
  override name = 'StoreNotEmptyError';
  constructor(database: string, tables: number) {
    super(`the database ${database} holds ${tables} tables: restoring replaces all of them (stop every process using it, then pass --replace)`);
  }
}

/** A restore was stopped halfway: the database as it was before is still set aside. */
export class InterruptedRestoreError extends Error {
  override name = 'InterruptedRestoreError';
  constructor(database: string, aside: string) {
    super(`a restore of ${database} was interrupted: ${aside} holds the database as it was before. Stop every process using it, then run npm run restore -- --put-back to put it back (and restore again if you want to)`);
  }
}

/** The names a restore sets the database aside under: `<database>_before_restore_<ms>`. */
export const setAsidePrefix = (database: string): string => `${database}_before_restore_`;

/** The databases an interrupted restore left set aside, oldest first. */
export async function setAsideDatabases(client: ClickHouseClient, database: string): Promise<string[]> {
  const result = await client.query({
    query: `SELECT name FROM system.databases WHERE startsWith(name, {prefix:String}) ORDER BY name`,
    query_params: { prefix: setAsidePrefix(database) },
    format: 'JSONCompactEachRow',
  });
  return (await result.json<[string]>()).map(([name]) => name);
}

/** A backup or restore that ClickHouse ended with an error. */
export class BackupFailedError extends Error {
  override name = 'BackupFailedError';
}

export interface StoreBackup {
  /** ClickHouse's id of the operation. */
  id: string;
  /** The backup's name under the backup folder. */
  name: string;
  /** `backup` or `restore`. */
  kind: 'backup' | 'restore';
  /** `running`, `done` or `failed`. */
  state: 'running' | 'done' | 'failed';
  /** ClickHouse's own status (`CREATING_BACKUP`, `BACKUP_CREATED`, `RESTORED`, …). */
  status: string;
  error: string | null;
  startedAt: string | null;
  endedAt: string | null;
  bytes: number;
  files: number;
}

/**
 * Backups of the whole store with ClickHouse's own `BACKUP` and `RESTORE`: the same statements on
 * the embedded engine and on a server. A backup is a file or folder under the folder the engine
 * allows (`CLICKHOUSE_BACKUP_PATH` when embedded, `backups.allowed_path` in a server's
 * configuration); a name ending `.tar`, `.tar.gz` or `.tar.zst` is one archive, any other a folder.
 * A backup may name an earlier one as its base and then holds only what changed since.
 */
export class StoreBackups {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** Starts a backup of the database (ClickHouse runs it in the background); `list` says when it ends. */
  async start({ name, base }: { name?: string; base?: string } = {}): Promise<StoreBackup> {
    const target = checkedName(name ?? `${this.database}-${compactTime(new Date())}`);
    const settings = base === undefined ? '' : ` SETTINGS base_backup = ${destination(checkedName(base))}`;
    const [started] = await this.rows<{ id: string; status: string }>(`BACKUP DATABASE ${this.database} TO ${destination(target)}${settings} ASYNC`);
    return (await this.find(started!.id)) ?? { ...blank(started!.id, target, 'backup'), status: started!.status, state: stateOf(started!.status) };
  }

  /** The backups and restores this engine or server ran since it started, newest first. */
  async list(): Promise<StoreBackup[]> {
    return this.read('1');
  }

  /**
   * Restores the database from a backup and waits until it is restored. A database that holds
   * tables is replaced only with `replace` (stop every process that uses it before): it is set
   * aside while the backup is restored, dropped once the restore is done, and put back as it was
   * when the restore fails.
   *
   * @NOTE Set aside by renaming the database, not by restoring into another name and renaming that:
   * a materialized view names its tables by database, and a renamed view would read the old name.
   * Renamed back, the set-aside database's views name their own tables again.
   */
  async restore(name: string, { replace = false }: { replace?: boolean } = {}): Promise<StoreBackup> {
    const source = destination(checkedName(name));
    const [interrupted] = await setAsideDatabases(this.client, this.database);
    if (interrupted) throw new InterruptedRestoreError(this.database, interrupted);
    const [held] = await this.rows<{ tables: string }>(`SELECT count() AS tables FROM system.tables WHERE database = {database:String}`, { database: this.database });
    const tables = Number(held?.tables ?? 0);
    if (tables > 0 && !replace) throw new StoreNotEmptyError(this.database, tables);
    const [exists] = await this.rows<{ n: string }>(`SELECT count() AS n FROM system.databases WHERE name = {database:String}`, { database: this.database });
    const aside = Number(exists?.n ?? 0) > 0 ? `${setAsidePrefix(this.database)}${Date.now()}` : undefined;
    if (aside) await this.client.command({ query: `RENAME DATABASE ${this.database} TO ${aside}` });
    try {
      const restored = await this.restored(name, source);
      if (aside) await this.client.command({ query: `DROP DATABASE ${aside} SYNC` });
      return restored;
    } catch (error) {
      if (aside) {
        await this.client.command({ query: `DROP DATABASE IF EXISTS ${this.database} SYNC` });
        await this.client.command({ query: `RENAME DATABASE ${aside} TO ${this.database}` });
      }
      throw error;
    }
  }

  /**
   * Puts back the database an interrupted restore set aside (the newest, when there are several),
   * in place of what the restore left; the name it had set aside, or undefined when none is.
   */
  async putBack(): Promise<string | undefined> {
    const aside = (await setAsideDatabases(this.client, this.database)).at(-1);
    if (!aside) return undefined;
    await this.client.command({ query: `DROP DATABASE IF EXISTS ${this.database} SYNC` });
    await this.client.command({ query: `RENAME DATABASE ${aside} TO ${this.database}` });
    return aside;
  }

  /** Runs a restore of the database from `source` to its end: the restore, or BackupFailedError. */
  private async restored(name: string, source: string): Promise<StoreBackup> {
    let id: string;
    try {
      [{ id }] = (await this.rows<{ id: string }>(`RESTORE DATABASE ${this.database} FROM ${source} ASYNC`)) as [{ id: string }];
    } catch (error) {
      throw new BackupFailedError(`restoring ${name} failed: ${(error as Error).message}`);
    }
    for (;;) {
      const restore = await this.find(id);
      if (restore?.state === 'failed') throw new BackupFailedError(`restoring ${name} failed: ${restore.error ?? restore.status}`);
      if (restore?.state === 'done') return restore;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** The time of the newest event the store holds (µs), or undefined when it holds none. */
  async newestEventUs(): Promise<number | undefined> {
    const [row] = await this.rows<{ newest: string }>(`SELECT toString(max(time_us)) AS newest FROM ${this.database}.event_log`);
    const newest = Number(row?.newest ?? 0);
    return newest > 0 ? newest : undefined;
  }

  private async find(id: string): Promise<StoreBackup | undefined> {
    return (await this.read('id = {id:String}', { id }))[0];
  }

  private async read(where: string, params: Record<string, unknown> = {}): Promise<StoreBackup[]> {
    const rows = await this.rows<Record<string, string>>(
      `SELECT id, name, status, error, formatDateTime(start_time, '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS started, formatDateTime(end_time, '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS ended, toString(total_size) AS bytes, toString(num_files) AS files
        FROM system.backups WHERE startsWith(name, 'File(') AND ${where} ORDER BY start_time DESC LIMIT ${LISTED}`,
      params,
    );
    return rows.map((row) => ({
      id: row.id!,
      name: /^File\('(.*)'\)$/.exec(row.name!)?.[1] ?? row.name!,
      kind: row.status!.includes('RESTOR') ? 'restore' : 'backup',
      state: stateOf(row.status!),
      status: row.status!,
      error: row.error ? row.error : null,
      startedAt: timeOf(row.started),
      endedAt: timeOf(row.ended),
      bytes: Number(row.bytes ?? 0),
      files: Number(row.files ?? 0),
    }));
  }

  private async rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
    const result = await this.client.query({ query, query_params: params, format: 'JSONEachRow' });
    return result.json<T>();
  }
}

function checkedName(name: string): string {
  if (name.length > MAX_NAME_LENGTH || !BACKUP_NAME.test(name)) throw new BackupNameError(name);
  return name;
}

/** `File('<name>')`: the name is checked, so it holds no quote or path separator. */
const destination = (name: string) => `File('${name}')`;

const compactTime = (date: Date) => date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

function stateOf(status: string): StoreBackup['state'] {
  if (status.endsWith('_FAILED') || status.endsWith('_CANCELLED')) return 'failed';
  return status === 'BACKUP_CREATED' || status === 'RESTORED' ? 'done' : 'running';
}

/** A time as ISO 8601 in UTC; ClickHouse's zero (not ended yet) as null. */
const timeOf = (value: string | undefined): string | null => (!value || value.startsWith('1970-01-01') ? null : value);

const blank = (id: string, name: string, kind: StoreBackup['kind']): StoreBackup => ({
  id,
  name,
  kind,
  state: 'running',
  status: '',
  error: null,
  startedAt: null,
  endedAt: null,
  bytes: 0,
  files: 0,
});
