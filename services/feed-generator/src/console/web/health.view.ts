import { TimeSeriesChart, type Point } from './chart.js';
import type { BackfillState, ConsoleOverview, PipelineSample } from './api.types.js';
import { formatCount, formatDuration, formatRate, formatTime } from './format.js';
import { html } from './html.js';
import { feedHref } from './links.js';
import { Page, Title, useAutoRefresh, useLoad } from './page.js';
import { api } from './session.js';

const REFRESH_MS = 15_000;

type Counter = 'received' | 'written' | 'feedRequests';
type Level = 'jetstreamLagSeconds' | 'busLag' | 'snapshotAgeSeconds';

/** Per-second rates of a counter between consecutive samples (null where either is unknown). */
function rates(points: PipelineSample[], key: Counter): Point[] {
  return points.slice(1).map((b, index) => {
    const a = points[index]!;
    const before = a[key];
    const after = b[key];
    const seconds = (b.at - a.at) / 1000;
    return { at: b.at, value: before === null || after === null || seconds <= 0 ? null : Math.max(0, (after - before) / seconds) };
  });
}

const levels = (points: PipelineSample[], key: Level): Point[] => points.map((point) => ({ at: point.at, value: point[key] }));
const measures = (points: PipelineSample[], key: keyof PipelineSample) => points.some((point) => point[key] !== null);

/** "measured": whether this process measures the quantity at all (a rate needs two samples before it shows). */
function Chart({ title, series, format, measured }: { title: string; series: Point[]; format: (value: number | null) => string; measured: boolean }) {
  const values = series.flatMap((point) => (point.value === null ? [] : [point.value]));
  const now = values.at(-1) ?? null;
  const low = values.length ? Math.min(...values) : null;
  const high = values.length ? Math.max(...values) : null;
  const description = `${title} over the last hour: ${values.length ? `now ${format(now)}, lowest ${format(low)}, highest ${format(high)}` : 'no data'}`;
  return html`<figure class="chart">
    <figcaption><span>${title}</span><strong>${format(now)}</strong></figcaption>
    <${TimeSeriesChart}
      label=${title}
      series=${series}
      format=${format}
      description=${description}
      empty=${measured || values.length > 0 ? 'collecting samples…' : 'not measured in this process'}
    />
    <p class="range"><span>${values.length ? `low ${format(low)}` : ''}</span><span>${values.length ? `high ${format(high)}` : ''}</span></p>
  </figure>`;
}

function Card({ label, value, tone }: { label: string; value: string; tone: string }) {
  return html`<li class="card"><span class="label">${label}</span><span class=${`value ${tone}`}>${value}</span></li>`;
}

function Freshness({ snapshot }: { snapshot: ConsoleOverview['readiness']['snapshot'] }) {
  if (snapshot.feeds.length === 0) return html`<p>No ranked feeds: recent feeds read the newest posts directly.</p>`;
  return html`<table>
    <caption>Score snapshots of the ranked feeds (stale after ${formatDuration(snapshot.staleAfterSeconds)})</caption>
    <thead>
      <tr><th scope="col">Feed</th><th scope="col" class="num">Posts ranked</th><th scope="col" class="num">Age</th><th scope="col">Status</th></tr>
    </thead>
    <tbody>
      ${snapshot.feeds.map((feed) => {
        const stale = feed.ageSeconds === null || feed.ageSeconds > snapshot.staleAfterSeconds;
        return html`<tr>
          <th scope="row"><a href=${feedHref(feed.shortname)}>${feed.shortname}</a></th>
          <td class="num">${formatCount(feed.posts)}</td>
          <td class="num">${formatDuration(feed.ageSeconds)}</td>
          <td class=${stale ? 'bad' : 'ok'}>${feed.ageSeconds === null ? 'no snapshot yet' : stale ? 'stale' : 'fresh'}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

const BACKFILL_PHASES: Record<BackfillState['phase'], string> = {
  idle: 'not run in this process',
  membership: 'reading list items, starter packs and followers',
  history: "reading members' recent posts, likes and reposts",
  done: 'done',
  failed: 'stopped before its end',
};

/** Where the backfill of communities stands: accounts read, skipped (already backfilled), failed, and the ETA. */
function Backfill({ state, role }: { state: BackfillState; role: string }) {
  if (state.phase === 'idle') {
    return html`<p>${role === 'feed-generator' ? 'The backfill runs in the ingest process: see cg_backfill_* on its /metrics.' : 'No backfill has run yet.'}</p>`;
  }
  const settled = state.accounts.done + state.accounts.skipped + state.accounts.failed;
  const share = state.accounts.total > 0 ? settled / state.accounts.total : 0;
  return html`<table>
    <caption>Communities ${state.communities.join(', ')}: ${BACKFILL_PHASES[state.phase]}</caption>
    <tbody>
      <tr><th scope="row">Accounts</th><td class="num">${formatCount(settled)} of ${formatCount(state.accounts.total)}</td></tr>
      <tr><th scope="row">Progress</th><td class="num"><progress max="1" value=${share}>${Math.round(share * 100)}%</progress></td></tr>
      <tr><th scope="row">Already backfilled (skipped)</th><td class="num">${formatCount(state.accounts.skipped)}</td></tr>
      <tr><th scope="row">Failed (tried again on the next run)</th><td class=${state.accounts.failed > 0 ? 'num bad' : 'num'}>${formatCount(state.accounts.failed)}</td></tr>
      <tr><th scope="row">Records written</th><td class="num">${formatCount(state.records)}</td></tr>
      <tr><th scope="row">Time left</th><td class="num">${state.running ? formatDuration(state.etaSeconds ?? null) : '—'}</td></tr>
      ${state.error ? html`<tr><th scope="row">Error</th><td class="bad">${state.error}</td></tr>` : null}
    </tbody>
  </table>`;
}

function Health({ overview }: { overview: ConsoleOverview }) {
  const { readiness, current } = overview;
  const { snapshot } = readiness;
  const points = [...overview.history, current];
  const snapshotValue = !snapshot.applies ? 'not checked' : `${snapshot.stale ? 'stale' : 'fresh'} (${formatDuration(snapshot.ageSeconds)})`;
  const totals: [string, string][] = [
    ['Events received from Jetstream', formatCount(current.received)],
    ['Events published to the bus', formatCount(current.published)],
    ['Events written to ClickHouse', formatCount(current.written)],
    ['Messages dead-lettered', formatCount(current.deadLettered)],
    ['Feed requests served', formatCount(current.feedRequests)],
    ['Feed requests that failed (5xx)', formatCount(current.feedServerErrors)],
    ['Jetstream checkpoint lag', current.checkpointLagSeconds === null ? '—' : formatDuration(current.checkpointLagSeconds)],
  ];
  return html`
    <${Title}>Pipeline health<//>
    <p class="lead">Role ${overview.role} · updated ${formatTime(overview.now)} · refreshes every ${REFRESH_MS / 1000} s</p>
    <ul class="cards" aria-label="Readiness">
      <${Card} label="Readiness" value=${readiness.ready ? 'Ready' : 'Not ready'} tone=${readiness.ready ? 'ok' : 'bad'} />
      <${Card} label="Message bus" value=${readiness.checks.bus ? 'Reachable' : 'Unreachable'} tone=${readiness.checks.bus ? 'ok' : 'bad'} />
      <${Card} label="ClickHouse" value=${readiness.checks.clickhouse ? 'Reachable' : 'Unreachable'} tone=${readiness.checks.clickhouse ? 'ok' : 'bad'} />
      <${Card} label="Score snapshots" value=${snapshotValue} tone=${!snapshot.applies ? '' : snapshot.stale ? 'bad' : 'ok'} />
    </ul>
    <h2>Throughput and lag, last hour</h2>
    <div class="charts">
      <${Chart} title="Events received" series=${rates(points, 'received')} format=${formatRate} measured=${measures(points, 'received')} />
      <${Chart} title="Events written to ClickHouse" series=${rates(points, 'written')} format=${formatRate} measured=${measures(points, 'written')} />
      <${Chart} title="Jetstream lag behind real time" series=${levels(points, 'jetstreamLagSeconds')} format=${formatDuration} measured=${false} />
      <${Chart} title="Bus consumer lag (messages)" series=${levels(points, 'busLag')} format=${formatCount} measured=${false} />
      <${Chart} title="Newest snapshot age" series=${levels(points, 'snapshotAgeSeconds')} format=${formatDuration} measured=${false} />
      <${Chart} title="Feed requests" series=${rates(points, 'feedRequests')} format=${formatRate} measured=${measures(points, 'feedRequests')} />
    </div>
    <h2>Freshness</h2>
    <${Freshness} snapshot=${snapshot} />
    <h2>Backfill</h2>
    <${Backfill} state=${overview.backfill} role=${overview.role} />
    <h2>Totals in this process</h2>
    <table>
      <caption class="visually-hidden">Running totals since this process started</caption>
      <tbody>
        ${totals.map(([label, value]) => html`<tr><th scope="row">${label}</th><td class="num">${value}</td></tr>`)}
      </tbody>
    </table>
  `;
}

/** Pipeline health: readiness, throughput and lag over the last hour, snapshot freshness, totals. */
export function HealthView() {
  const overview = useLoad(() => api<ConsoleOverview>('/api/admin/console/overview'));
  useAutoRefresh(overview, REFRESH_MS);
  return html`<${Page} title="Pipeline health" loaded=${overview}>${(data: ConsoleOverview) => html`<${Health} overview=${data} />`}<//>`;
}
