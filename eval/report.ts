import type { RunTimings } from './pipeline-run.js';
import { POLIS_TARGETS, POLIS_VARIANTS, type PolisEvalResult, type PolisTarget, type PolisVariant } from './polis-eval.js';
import type { SyntheticEvalResult } from './synthetic-eval.js';

/** Fixed-width columns; numbers right-aligned. */
function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: readonly string[]) =>
    row.map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const rho = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(3));

export function formatPolisResult(result: PolisEvalResult): string {
  const groups = result.groups.map((g) => `group ${g.id}: ${g.members}`).join(', ');
  const lines = [
    `Polis conversation ${result.conversation}: "${result.topic}"`,
    `  ${result.participants} participants (${groups}, ${result.ungrouped} not clustered), ${result.comments} comments kept` +
      (result.moderatedOut > 0 ? ` (${result.moderatedOut} moderated out: not posted)` : '') +
      (result.generatedAuthors > 0 ? ` (${result.generatedAuthors} by authors who are not participants: posted by generated accounts)` : '') +
      `, votes: ${result.votes.agree} agree → like, ${result.votes.pass} pass → interactionSeen, ${result.votes.disagree} disagree → requestLess`,
  ];
  lines.push(
    result.timing === 'live'
      ? `  replayed live in vote order: every vote sent (Jetstream or sendInteractions) in the order it was cast, on one clock`
      : `  replayed as time-shifted history${result.timeCompression < 1 ? ` (compressed ${(1 / result.timeCompression).toFixed(1)}×)` : ''}: sendInteractions carries no time, so feedback is stamped after every commit`,
  );
  const { every, clustered, all } = result.compared;
  const agreement = result.groupAgreement;
  lines.push(
    `  votes from ${result.voteOrder === 'votes.csv' ? 'votes.csv, in the order they were cast' : 'participants-votes.csv (no votes.csv): final votes, at their comment\'s creation time, participants in file order'}`,
    '  reference: Polis group-informed consensus Π_g (agrees_g + 1)/(votes_g + 2); absent comments rank last (tied)',
    `  compared on the ${every} comments every opinion group voted on ("every"), beside the ${clustered} some clustered participant voted on ("clustered") and all ${all} ("all")`,
    agreement.groups > 0
      ? `  opinion groups found in the votes: ${agreement.groups} (${agreement.groupSizes.join(', ')}); against the published ones: adjusted Rand index ${agreement.ari.toFixed(3)}, ` +
          `${(100 * agreement.matched).toFixed(1)}% of participants in the matched group`
      : '  opinion groups found in the votes: none (too sparse or too few participants)',
    '',
  );
  lines.push(
    table(
      ['variant', 'ranking', 'signals', 'in feed', 'ρ every', 'top-10 every', 'coverage every', 'popularity ρ', 'pop. top-10', 'ρ clustered', 'top-10 clustered', 'ρ all', 'top-10 all'],
      result.variants.map((row) => [
        row.label,
        row.ranking,
        row.signals,
        `${row.inFeed}/${result.comments}`,
        rho(row.spearmanEvery),
        `${row.top10Every}/10`,
        `${(100 * row.coverageEvery).toFixed(1)}%`,
        rho(row.popularitySpearmanEvery),
        `${row.popularityTop10Every}/10`,
        rho(row.spearmanClustered),
        `${row.top10Clustered}/10`,
        rho(row.spearmanAll),
        `${row.top10All}/10`,
      ]),
      new Set([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
    ),
  );
  for (const row of result.variants) {
    if (row.absent.length === 0) continue;
    const outside = row.absent.filter((a) => !a.authorInCommunities).map((a) => a.commentId);
    const ineligible = row.absent.filter((a) => a.authorInCommunities).map((a) => a.commentId);
    const parts = [];
    if (outside.length > 0) parts.push(`author in none of the feed's communities and no member approved it (not a candidate): comments ${outside.join(', ')}`);
    const rule = row.ranking === 'bridging-within' ? 'fewer than two raters on a side of the opinion axis' : 'seen by fewer than two groups';
    if (ineligible.length > 0) parts.push(`${rule}: comments ${ineligible.join(', ')}`);
    lines.push(`  ${row.label} leaves out ${row.absent.length}: ${parts.join('; ')}`);
  }
  lines.push('');
  for (const run of result.runs) lines.push(runLine(run));
  lines.push(`  evaluated in ${seconds(result.elapsedMs)}, CPU ${seconds(result.cpuMs)} (the whole process)`);
  lines.push('', result.attribution);
  return lines.join('\n');
}

/**
 * Several conversations side by side: per variant, ρ / top-10 / coverage on the comments every
 * opinion group voted on, the minimum of each column (the figure that matters), and which
 * conversations fall short of the variant's target.
 */
export function formatPolisSummary(results: readonly PolisEvalResult[]): string {
  const names = [...new Set(results.flatMap((result) => result.variants.map((v) => v.name)))];
  const figures = (result: PolisEvalResult, name: PolisVariant) => result.variants.find((v) => v.name === name);
  const cell = (v: { spearmanEvery: number; top10Every: number; coverageEvery: number } | undefined) =>
    v ? `${rho(v.spearmanEvery)} / ${v.top10Every} / ${(100 * v.coverageEvery).toFixed(1)}%` : '—';
  const rows = results.map((result) => [
    result.conversation,
    `${result.compared.every}/${result.compared.all}`,
    result.groupAgreement.groups > 0 ? `${result.groupAgreement.groups} (${result.groupAgreement.ari.toFixed(2)})` : 'none',
    ...names.map((name) => cell(figures(result, name))),
  ]);
  const minimum = (name: PolisVariant) => {
    const all = results.flatMap((result) => figures(result, name) ?? []);
    if (all.length === 0) return undefined;
    return {
      spearmanEvery: Math.min(...all.map((v) => (Number.isNaN(v.spearmanEvery) ? -1 : v.spearmanEvery))),
      top10Every: Math.min(...all.map((v) => v.top10Every)),
      coverageEvery: Math.min(...all.map((v) => v.coverageEvery)),
    };
  };
  rows.push(['minimum', '', '', ...names.map((name) => cell(minimum(name)))]);
  const lines = [
    `${results.length} conversations: ρ / top-10 / coverage on the comments every opinion group voted on`,
    '',
    table(['conversation', 'every/all', 'groups found (ARI)', ...names.map((name) => POLIS_VARIANTS[name].label)], rows, new Set(names.map((_, i) => i + 3))),
    '',
  ];
  for (const name of names) {
    const target = POLIS_TARGETS[name as keyof typeof POLIS_TARGETS] as PolisTarget | undefined;
    if (!target) continue;
    const short = results.flatMap((result) => {
      const v = figures(result, name);
      if (!v) return [];
      const misses = [
        ...(v.spearmanEvery >= target.rho ? [] : [`ρ ${rho(v.spearmanEvery)}`]),
        ...(v.top10Every >= target.top10 ? [] : [`top-10 ${v.top10Every}`]),
        ...(v.coverageEvery >= target.coverage ? [] : [`coverage ${(100 * v.coverageEvery).toFixed(1)}%`]),
      ];
      return misses.length > 0 ? [`${result.conversation} (${misses.join(', ')})`] : [];
    });
    const goal = `ρ ≥ ${target.rho}, top-10 ≥ ${target.top10}, coverage ≥ ${100 * target.coverage}%`;
    lines.push(`  ${POLIS_VARIANTS[name].label} (${goal}): ${short.length === 0 ? 'met on every conversation' : `not met on ${short.join('; ')}`}`);
  }
  return lines.join('\n');
}

export function formatSyntheticResult(result: SyntheticEvalResult): string {
  const o = result.options;
  const lines = [
    `Planted communities (libs/testing plantedCommunities, seed ${o.seed}): ${o.users} users in ${o.communities} communities, ${o.posts} posts, ` +
      `${result.rows_} interaction rows → ${result.counts.likes} likes, ${result.counts.reposts} reposts, ${result.counts.seen} interactionSeen, ${result.counts.requestLess} requestLess`,
    `  ${result.bridgingPosts} planted bridging posts, ${result.viralPosts} one-sided viral posts; precision@${result.k} = planted bridging posts among the first ${result.k}`,
    '',
    table(
      ['variant', 'ranking', 'signals', 'in feed', `precision@${result.k}`, 'viral in top', `popularity p@${result.k}`, 'pop. viral in top'],
      result.rows.map((row) => [
        row.label,
        row.ranking,
        row.signals,
        `${row.ranked}/${o.posts}`,
        row.precision.toFixed(2),
        String(row.viralInTop),
        row.popularityPrecision.toFixed(2),
        String(row.popularityViralInTop),
      ]),
      new Set([3, 4, 5, 6, 7]),
    ),
    '',
  ];
  for (const run of result.runs) lines.push(runLine(run));
  return lines.join('\n');
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface RunInfo {
  label: string;
  events: number;
  feedback: number;
  timings: RunTimings;
}

function runLine(run: RunInfo): string {
  const t = run.timings;
  return (
    `  run ${run.label}: ${run.events} Jetstream commits, ${run.feedback} interactions via sendInteractions; ` +
    `start ${seconds(t.setupMs)}, replay ${seconds(t.replayMs)}, ClickHouse catching up ${seconds(t.settleMs)}, scoring ${seconds(t.scoringMs)}, ` +
    `reading feeds ${seconds(t.readMs)}, total ${seconds(t.totalMs)} (CPU ${seconds(t.cpu.totalMs)}: replay ${seconds(t.cpu.replayMs)}, scoring ${seconds(t.cpu.scoringMs)})`
  );
}
