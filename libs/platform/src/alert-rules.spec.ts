import { readFile } from 'node:fs/promises';
import { parser } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';
import { Metrics } from './metrics.js';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const read = (file: string) => readFile(new URL(`../../../${file}`, import.meta.url), 'utf8');

/** What one PromQL expression reads: its metric names and every label name it matches or groups by. */
function selectors(expr: string): { errors: string[]; metrics: Set<string>; labels: Set<string> } {
  const errors: string[] = [];
  const metrics = new Set<string>();
  const labels = new Set<string>();
  parser.parse(expr).iterate({
    enter(node) {
      const text = expr.slice(node.from, node.to);
      if (node.type.isError) errors.push(`at ${node.from}: "${expr.slice(Math.max(0, node.from - 20), node.to + 20)}"`);
      else if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.add(text);
      else if (node.name === 'LabelName') labels.add(text);
    },
  });
  return { errors, metrics, labels };
}

/** GitHub's anchor of a Markdown heading. */
const anchor = (heading: string) => heading.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');

describe('the alerting rules in deploy/prometheus', () => {
  let rules: Rule[];
  /** Every metric this project exports, with its label names; the labels every scrape adds. */
  const exported = new Map<string, Set<string>>([['up', new Set()]]);
  const targetLabels = ['job', 'instance'];

  beforeAll(async () => {
    const file = parse(await read('deploy/prometheus/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] };
    rules = file.groups.flatMap((group) => group.rules);
    const metrics = new Metrics();
    for (const { name } of await metrics.registry.getMetricsAsJSON()) {
      const metric = metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] };
      exported.set(name, new Set(metric.labelNames ?? []));
    }
  });

  it('are alerts, each named once, with a severity, a summary, a description and a wait Prometheus reads', () => {
    expect(rules.length).toBeGreaterThan(15);
    expect(new Set(rules.map((rule) => rule.alert)).size).toBe(rules.length);
    for (const rule of rules) {
      expect({ alert: rule.alert, name: /^CommonGround[A-Z][A-Za-z]+$/.test(rule.alert) }).toEqual({ alert: rule.alert, name: true });
      expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({ alert: rule.alert, severity: expect.stringMatching(/^(critical|warning)$/) });
      expect({ alert: rule.alert, summary: rule.annotations?.summary, description: rule.annotations?.description }).toEqual({
        alert: rule.alert,
        summary: expect.any(String),
        description: expect.any(String),
      });
      if (rule.for !== undefined) expect({ alert: rule.alert, for: rule.for }).toEqual({ alert: rule.alert, for: expect.stringMatching(/^\d+[smh]$/) });
    }
  });

  it('are valid PromQL over metrics the services export, by labels those metrics have', () => {
    for (const rule of rules) {
      const { errors, metrics, labels } = selectors(rule.expr);
      expect({ alert: rule.alert, errors }).toEqual({ alert: rule.alert, errors: [] });
      expect(metrics.size).toBeGreaterThan(0);
      const unknown = [...metrics].filter((name) => !exported.has(name.replace(/_(bucket|count|sum)$/, '')));
      expect({ alert: rule.alert, unknown }).toEqual({ alert: rule.alert, unknown: [] });
      const known = new Set([
        ...targetLabels,
        ...[...metrics].flatMap((name) => [...exported.get(name.replace(/_(bucket|count|sum)$/, ''))!, ...(name.endsWith('_bucket') ? ['le'] : [])]),
      ]);
      const strangers = [...labels].filter((label) => !known.has(label));
      expect({ alert: rule.alert, strangers }).toEqual({ alert: rule.alert, strangers: [] });
    }
  });

  it('catch a misspelt metric or label, and broken PromQL', () => {
    expect(selectors('sum by (feed) (rate(cg_feed_requests_total[5m])').errors).not.toEqual([]);
    expect([...selectors('max by (fed) (cg_snapshot_stale{feed="a"}) == 1').labels]).toEqual(['fed', 'feed']);
    expect([...selectors('cg_jetstream_connected == 0 and on (job) cg_role{role="ingest"}').metrics]).toEqual(['cg_jetstream_connected', 'cg_role']);
  });

  it('each have a section of docs/alerts.md that their runbook annotation points at', async () => {
    const headings = new Set([...(await read('docs/alerts.md')).matchAll(/^### (.+)$/gm)].map((match) => anchor(match[1]!)));
    for (const rule of rules) {
      expect({ alert: rule.alert, runbook: rule.annotations?.runbook }).toEqual({ alert: rule.alert, runbook: `docs/alerts.md#${anchor(rule.alert)}` });
      expect({ alert: rule.alert, documented: headings.has(anchor(rule.alert)) }).toEqual({ alert: rule.alert, documented: true });
    }
  });

  it('read the labels the services export: no scrape job sets a target label a metric of ours carries', async () => {
    // Prometheus keeps the target's label and renames the scraped one (`exported_role`), so
    // `cg_role{role="ranker"}` would read the job's label instead of what the process runs.
    type Job = { job_name: string; static_configs?: { labels?: Record<string, string> }[]; relabel_configs?: { target_label?: string }[]; honor_labels?: boolean };
    const { scrape_configs: jobs } = parse(await read('deploy/prometheus/prometheus.yml')) as { scrape_configs: Job[] };
    const ours = new Set([...exported.values()].flatMap((labels) => [...labels]));
    for (const job of jobs) {
      const set = [...(job.static_configs ?? []).flatMap((config) => Object.keys(config.labels ?? {})), ...(job.relabel_configs ?? []).flatMap((config) => (config.target_label ? [config.target_label] : []))];
      const clashing = job.honor_labels ? [] : set.filter((label) => ours.has(label));
      expect({ job: job.job_name, clashing }).toEqual({ job: job.job_name, clashing: [] });
    }
    expect(ours.has('role')).toBe(true);
  });

  it('are loaded by the Prometheus of docker-compose.yml', async () => {
    const prometheus = parse(await read('deploy/prometheus/prometheus.yml')) as { rule_files?: string[] };
    expect(prometheus.rule_files).toEqual(['alerts.yml']);
    const compose = parse(await read('docker-compose.yml')) as { services: Record<string, { volumes?: string[] }> };
    expect(compose.services.prometheus!.volumes).toEqual(
      expect.arrayContaining(['./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro', './deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro']),
    );
  });
});
