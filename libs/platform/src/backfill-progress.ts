import { RateWindow } from './progress.js';

/** Where a backfill stands: for `/metrics`, `/status`, the console and the command line. */
export interface BackfillState {
  running: boolean;
  /** Communities of the current or last run. */
  communities: string[];
  phase: 'idle' | 'membership' | 'history' | 'done' | 'failed';
  accounts: { total: number; done: number; skipped: number; failed: number };
  /** Community sources (a list, a starter pack, a seed's followers, a follower's follows) that could not be read. */
  sourcesFailed: number;
  /** Records written (membership and history). */
  records: number;
  /** Seconds left at the recent rate; undefined when unknown. */
  etaSeconds: number | undefined;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  error: string | undefined;
}

/**
 * The state of the backfill of this process, updated by the runner as it goes. One per process
 * (PlatformModule), so the console shows it where the backfill runs beside it (embedded mode).
 */
export class BackfillProgress {
  private readonly rate = new RateWindow(30_000);
  readonly state: BackfillState = {
    running: false,
    communities: [],
    phase: 'idle',
    accounts: { total: 0, done: 0, skipped: 0, failed: 0 },
    sourcesFailed: 0,
    records: 0,
    etaSeconds: undefined,
    startedAt: undefined,
    finishedAt: undefined,
    error: undefined,
  };

  start(communities: string[]): void {
    Object.assign(this.state, {
      running: true,
      communities,
      phase: 'membership',
      accounts: { total: 0, done: 0, skipped: 0, failed: 0 },
      sourcesFailed: 0,
      records: 0,
      etaSeconds: undefined,
      startedAt: new Date().toISOString(),
      finishedAt: undefined,
      error: undefined,
    } satisfies BackfillState);
  }

  /** Accounts counted as finished: done, skipped or failed. */
  get settled(): number {
    const { done, skipped, failed } = this.state.accounts;
    return done + skipped + failed;
  }

  accountSettled(): void {
    this.rate.add(performance.now(), this.settled);
    const perSecond = this.rate.perSecond();
    const left = this.state.accounts.total - this.settled;
    this.state.etaSeconds = left <= 0 ? 0 : perSecond && perSecond > 0 ? left / perSecond : undefined;
  }

  finish(error?: unknown): void {
    this.state.running = false;
    this.state.phase = error === undefined ? 'done' : 'failed';
    this.state.error = error === undefined ? undefined : error instanceof Error ? error.message : String(error);
    this.state.etaSeconds = error === undefined ? 0 : undefined;
    this.state.finishedAt = new Date().toISOString();
  }
}
