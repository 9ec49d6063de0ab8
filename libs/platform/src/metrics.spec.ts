import { readFile } from 'node:fs/promises';
import { Metrics } from './metrics.js';

describe('Metrics', () => {
  it('serves counters advanced from running totals, never backwards, with the collectors run first', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const stats = { published: new Map([['post', 3]]) };
    metrics.collect('ingest', () => {
      for (const [type, count] of stats.published) metrics.setTotal(metrics.ingestPublished, { type }, count);
    });
    expect(await metrics.scrape()).toContain('cg_ingest_events_published_total{type="post"} 3');
    stats.published.set('post', 10).set('like', 0);
    const text = await metrics.scrape();
    expect(text).toContain('cg_ingest_events_published_total{type="post"} 10');
    expect(text).toContain('cg_ingest_events_published_total{type="like"} 0');
    stats.published.set('post', 4);
    expect(await metrics.scrape()).toContain('cg_ingest_events_published_total{type="post"} 10');
  });

  it('keeps serving when a collector fails or hangs, and counts it', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.collect('broken', () => {
      throw new Error('no');
    });
    metrics.collect('slow', () => new Promise(() => undefined));
    metrics.collect('fine', () => metrics.jetstreamConnected.set(1));
    const text = await metrics.scrape();
    expect(text).toContain('cg_jetstream_connected 1');
    expect(text).toContain('cg_metrics_collector_errors_total{collector="broken"} 1');
    expect(text).toContain('cg_metrics_collector_errors_total{collector="slow"} 1');
  });

  it('keeps the metrics of each application apart', async () => {
    const [a, b] = [new Metrics({ processMetrics: false }), new Metrics({ processMetrics: false })];
    a.authFailures.inc({ reason: 'expired' });
    expect(await b.scrape()).not.toContain('reason="expired"');
    expect(await a.sum(a.authFailures)).toBe(1);
  });

  it('exports every metric the Grafana dashboard in deploy/ charts', async () => {
    const dashboard = await readFile(new URL('../../../deploy/grafana/common-ground.dashboard.json', import.meta.url), 'utf8');
    const charted = new Set([...dashboard.matchAll(/\b((?:cg|process|nodejs)_[a-z0-9_]+)/g)].map((match) => match[1]!.replace(/_(bucket|count|sum)$/, '')));
    const exported = new Set((await new Metrics().registry.getMetricsAsJSON()).map((metric) => metric.name));
    expect([...charted].filter((name) => !exported.has(name))).toEqual([]);
  });
});
