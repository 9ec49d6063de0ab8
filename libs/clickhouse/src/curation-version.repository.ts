import type { ClickHouseClient } from '@clickhouse/client';

/** Where a version of the curation came from. */
export type CurationSource = 'file' | 'admin' | 'console';

/** One version of the curator document, as written; every version is kept. */
export interface CurationVersion {
  /** Microseconds since the epoch when written, above every earlier version. */
  version: number;
  /** SHA-256 of `yaml`, 16 hex digits. */
  hash: string;
  source: CurationSource;
  /** The curator document, comments and layout as written. */
  yaml: string;
  createdAt: string;
}

interface VersionRow {
  version: string;
  hash: string;
  source: CurationSource;
  yaml: string;
  created_at: string;
}

const toVersion = (row: VersionRow): CurationVersion => ({
  version: Number(row.version),
  hash: row.hash,
  source: row.source,
  yaml: row.yaml,
  createdAt: row.created_at,
});

/**
 * The versions of the curation in ClickHouse, the store every role and replica shares. A version
 * is appended, never changed; the newest is in force.
 */
export class CurationVersionRepository {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** The newest version, or the newest from one source. */
  async latest(source?: CurationSource): Promise<CurationVersion | undefined> {
    const result = await this.client.query({
      query: `SELECT toString(version) AS version, hash, source, yaml, toString(created_at) AS created_at
        FROM ${this.database}.curation_versions
        ${source ? 'WHERE source = {source:String}' : ''}
        ORDER BY version DESC, hash DESC LIMIT 1`,
      query_params: { source },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<VersionRow>();
    return row && toVersion(row);
  }

  /** Versions newest first, without their text. */
  async history(limit: number): Promise<Omit<CurationVersion, 'yaml'>[]> {
    const result = await this.client.query({
      query: `SELECT toString(version) AS version, hash, source, '' AS yaml, toString(created_at) AS created_at
        FROM ${this.database}.curation_versions ORDER BY version DESC, hash DESC LIMIT {limit:UInt32}`,
      query_params: { limit },
      format: 'JSONEachRow',
    });
    return (await result.json<VersionRow>()).map((row) => {
      const { yaml: _yaml, ...version } = toVersion(row);
      return version;
    });
  }

  /** Writes `yaml` as the newest version: numbered after the current newest and at least now. */
  async append(yaml: string, hash: string, source: CurationSource, nowUs = Date.now() * 1000): Promise<CurationVersion> {
    const newest = await this.latest();
    const version = Math.max(nowUs, (newest?.version ?? 0) + 1);
    await this.client.insert({
      table: `${this.database}.curation_versions`,
      values: [{ version, hash, source, yaml }],
      format: 'JSONEachRow',
    });
    return { version, hash, source, yaml, createdAt: new Date().toISOString() };
  }
}
