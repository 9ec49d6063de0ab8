// Types for scripts/postgres.mjs (plain ESM, so the TypeScript tests can import it).
export declare class PostgresError extends Error {}

export interface StartedPostgres {
  /** `postgresql://postgres@127.0.0.1:PORT/postgres` */
  url: string;
  port: number;
  /** Temp folder holding the cluster, its socket and its log; removed by stop(). */
  dir: string;
  /** `pg_ctl stop -m fast`, then removes `dir`. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  baseDir?: string;
  /** Default true: also stop the cluster when this process exits without calling stop(). */
  stopOnExit?: boolean;
  log?: (message: string) => void;
}

export declare function findPostgresBin(): string | undefined;
export declare function ensurePostgres(): string;
export declare function startPostgres(options?: StartPostgresOptions): Promise<StartedPostgres>;
