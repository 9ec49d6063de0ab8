// Types for scripts/postgres.mjs (plain ESM, so the TypeScript tests can import it).
export declare class PostgresError extends Error {}

export interface StartedPostgres {
  /** `postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres` */
  url: string;
  port: number;
  /** Temp folder holding the cluster; removed by stop(). */
  dir: string;
  /** Fast shutdown, then removes `dir`. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  baseDir?: string;
  /** Default true: also stop the cluster when this process exits without calling stop(). */
  stopOnExit?: boolean;
  log?: (message: string) => void;
}

export declare function startPostgres(options?: StartPostgresOptions): Promise<StartedPostgres>;
