import { CatchUpProgress, etaSeconds, formatDuration, RateWindow, terminalProgress, terminalProgressReport, type CatchUpState } from './progress.js';

/** A sink that records what was written, as a terminal or as a log file. */
function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, columns: 200, write: (text: string) => writes.push(text) };
}

describe('progress', () => {
  it('measures the recent rate and the time left', () => {
    const rate = new RateWindow(10_000);
    rate.add(0, 0);
    expect(rate.perSecond()).toBeUndefined();
    rate.add(5_000, 500);
    rate.add(20_000, 2_000);
    rate.add(30_000, 4_000);
    // Only the last ten seconds (plus one point before) count: 2,000 units in 10 s.
    expect(rate.perSecond()).toBe(200);
    expect(etaSeconds(1_000, 200)).toBe(5);
    expect(etaSeconds(1_000, 0)).toBeUndefined();
    expect(etaSeconds(0, undefined)).toBe(0);
  });

  it('formats durations for people', () => {
    expect(formatDuration(4.25)).toBe('4.3 s');
    expect(formatDuration(38)).toBe('38 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(7_800)).toBe('2 h 10 min');
  });

  it('redraws one line with a bar, rate and ETA on a terminal, and ends it with a summary', () => {
    let now = 0;
    const out = sink(true);
    const progress = terminalProgress({ label: 'replay', total: 1_000, unit: 'events', sink: out, clock: () => now });
    progress.update(0);
    now = 1_000;
    progress.update(250);
    expect(out.writes.at(-1)?.startsWith('\r\x1b[2K')).toBe(true);
    expect(out.writes.at(-1)?.slice(5)).toMatch(/^replay {2}\[######\.+\] {2}25% {2}250\/1,000 events {2}250 events\/s {2}ETA 3\.0 s/);
    now = 1_050;
    progress.update(260);
    expect(out.writes).toHaveLength(2); // at most ten redraws a second
    now = 4_000;
    progress.update(1_000);
    progress.finish('in ClickHouse');
    expect(out.writes.at(-1)).toBe('\r\x1b[2Kreplay  done: 1,000 events in 4.0 s, 250 events/s  in ClickHouse\n');
  });

  it('writes a plain line every few seconds when the output is not a terminal', () => {
    let now = 0;
    const out = sink(false);
    const progress = terminalProgress({ label: 'backfill', total: 10, sink: out, clock: () => now });
    for (let step = 1; step <= 10; step += 1) {
      now = step * 1_000;
      progress.update(step);
    }
    expect(out.writes).toHaveLength(2);
    expect(out.writes.every((line) => line.endsWith('\n') && !line.includes('\r'))).toBe(true);
  });

  it('runs phases one after the other on one sink, with notes that clear the line being redrawn', () => {
    let now = 0;
    const out = sink(true);
    const report = terminalProgressReport(out, () => now);
    report.note('Evaluating brexit-consensus');
    const phase = report.phase('replay', 100, 'signals');
    phase.update(0);
    now = 1_000;
    phase.update(50);
    report.note('warning: slow');
    now = 2_000;
    phase.finish();
    expect(out.writes[0]).toBe('\r\x1b[2KEvaluating brexit-consensus\n');
    expect(out.writes).toContain('\r\x1b[2Kwarning: slow\n');
    expect(out.writes.at(-1)).toBe('\r\x1b[2Kreplay  done: 50 signals in 2.0 s, 25 signals/s\n');
  });

  it('reports a stream catching up with real time, with an ETA, then once when caught up', () => {
    const reports: CatchUpState[] = [];
    const progress = new CatchUpProgress((state) => reports.push(state), { minBehindSeconds: 60, everyMs: 10_000 });
    const start = 1_000_000_000_000;
    // The stream starts an hour behind and advances 3 s of stream per second of wall time.
    for (let second = 0; second <= 1_800; second += 5) progress.observe((start - 3_600_000 + second * 3_000) * 1000, start + second * 1000);
    const first = reports[1]!;
    expect(first.caughtUp).toBe(false);
    expect(first.speed).toBeCloseTo(3, 5);
    expect(first.etaSeconds! + 10).toBeCloseTo(1_800, -1);
    expect(reports.at(-1)).toMatchObject({ caughtUp: true });
    expect(reports.filter((state) => state.caughtUp)).toHaveLength(1);
  });
});
