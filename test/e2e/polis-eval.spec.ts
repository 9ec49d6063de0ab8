/**
 * The evaluation harness (`npm run eval -- --polis <folder> --json <file>`) on the seven real Polis
 * conversations in test/fixtures/polis. Each conversation goes through the real embedded pipeline
 * twice (every vote; likes only): a local Jetstream replay → ingest → in-process bus → scoring →
 * ClickHouse (chDB in memory) → feed generator, with passes and disagrees sent through
 * `sendInteractions` under service-auth JWTs; the ranked feeds, read through getFeedSkeleton, are
 * compared with Polis's own group-informed consensus on the comments every opinion group voted on.
 *
 * Data was gathered using the Polis software (compdemocracy.org/polis) and is sub-licensed under
 * CC BY 4.0 with Attribution to The Computational Democracy Project. The data and more information
 * about how the data was collected can be found at the following link(s):
 * https://compdemocracy.org/case-studies/2017-brexit-consensus
 * https://compdemocracy.org/case-studies/2014-seattle-15-per-hour
 * https://compdemocracy.org/case-studies/2022-Austria-Klimarat
 * https://compdemocracy.org/case-studies/2017-scoop-hivemind-freshwater
 * https://compdemocracy.org/case-studies/2017-scoop-hivemind-affordable-housing
 * https://compdemocracy.org/case-studies/2022-london-youth-policing
 * https://pol.is/3nemnipcrc (bg2050-volunteers, Bowling Green 2050)
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EvalInputError } from '../../eval/eval.errors.js';
import { POLIS_FIXTURE_CONVERSATIONS } from '../../eval/polis-dataset.js';
import { evaluatePolis, POLIS_TARGETS, type PolisEvalResult, type PolisVariant, type PolisVariantReport } from '../../eval/polis-eval.js';
import { formatPolisResult, formatPolisSummary } from '../../eval/report.js';

const root = path.resolve(import.meta.dirname, '../..');
const DATA = path.resolve(root, 'test/fixtures/polis');
const CONVERSATIONS = POLIS_FIXTURE_CONVERSATIONS;
type Conversation = (typeof CONVERSATIONS)[number];


/**
 * Where the ranking does not reach the target yet: the figure it does reach, held as a floor so that
 * a regression fails. Each is a measured shortfall, not a target.
 * @NOTE found: the silhouette finds groups that differ from the published ones (freshwater: 75/25
 * where Polis published 108/9, adjusted Rand index 0.12). likes: with likes only, exposure is an
 * estimate from each member's activity and an assumed approval rate, and on austria the two groups
 * approve at 0.70 and 0.36 of what they saw: the estimate overcounts the one and undercounts the
 * other, which the likes cannot tell apart.
 */
const SHORTFALL: Partial<Record<`${Conversation} ${'groups' | 'found' | 'likes'}`, { rho?: number; top10?: number }>> = {
  'scoop-hivemind.freshwater found': { rho: 0.79 },
  'austria-climate.5twd2jsnkf.2022-08-08 likes': { top10: 5 },
};

/**
 * How close the groups found come to Polis's published ones (adjusted Rand index), as measured, a
 * little below: the groups are found from seeded starts, so a fall below is a regression of the
 * group finder (docs/ranking.md says why freshwater, affordable-housing and london are far apart).
 */
const GROUP_AGREEMENT_FLOOR: Record<Conversation, number> = {
  'brexit-consensus': 0.6,
  '15-per-hour-seattle': 0.73,
  'austria-climate.5twd2jsnkf.2022-08-08': 0.75,
  'bg2050-volunteers': 0.3,
  'scoop-hivemind.freshwater': 0.08,
  'scoop-hivemind.affordable-housing': 0.05,
  'london.youth.policing': 0.13,
};

describe('Polis conversations through the real pipeline (npm run eval)', () => {
  const results = new Map<Conversation, PolisEvalResult>();
  const variant = (conversation: Conversation, name: PolisVariant): PolisVariantReport =>
    results.get(conversation)!.variants.find((v) => v.name === name)!;

  beforeAll(async () => {
    for (const conversation of CONVERSATIONS) {
      const result = await evaluatePolis(path.join(DATA, conversation));
      results.set(conversation, result);
      console.log(formatPolisResult(result));
    }
  }, 1_200_000);

  it('reports every variant of every conversation in the machine-readable shape, with the attribution', () => {
    for (const conversation of CONVERSATIONS) {
      const result = results.get(conversation)!;
      const json = JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
      expect(Object.keys(json)).toEqual(expect.arrayContaining(['conversation', 'groups', 'compared', 'groupAgreement', 'variants']));
      expect(Object.keys(result.compared)).toEqual(['every', 'clustered', 'all']);
      expect(result.compared.every).toBeLessThanOrEqual(result.compared.clustered);
      expect(result.compared.all).toBe(result.comments);
      expect(result.groupAgreement.ari).toBeGreaterThanOrEqual(GROUP_AGREEMENT_FLOOR[conversation]);
      expect(result.groupAgreement.matched).toBeGreaterThan(0.4);
      expect(result.variants.map((v) => v.name)).toEqual(['groups', 'found', 'intercept', 'likes']);
      for (const v of result.variants) {
        for (const key of ['spearmanEvery', 'top10Every', 'coverageEvery', 'spearmanClustered', 'top10Clustered', 'spearmanAll', 'top10All'] as const) {
          expect(Number.isFinite(v[key])).toBe(true);
        }
      }
      expect(result.runs.map((run) => run.feedback)).toEqual([result.votes.pass + result.votes.disagree, 0]);
      expect(result.voteOrder).toBe('votes.csv');
      expect(result.attribution).toContain('CC BY 4.0 with Attribution to The Computational Democracy Project');
    }
  });

  describe.each(CONVERSATIONS)('%s', (conversation) => {
    it.each(['groups', 'found', 'likes'] as const)('%s: ρ, top-10 and coverage on the comments every group voted on, and beats popularity', (name) => {
      const v = variant(conversation, name);
      const floor = { ...POLIS_TARGETS[name], ...SHORTFALL[`${conversation} ${name}`] };
      expect({ conversation, name, spearmanEvery: v.spearmanEvery >= floor.rho ? 'meets' : v.spearmanEvery }).toEqual({ conversation, name, spearmanEvery: 'meets' });
      expect({ conversation, name, top10Every: v.top10Every >= floor.top10 ? 'meets' : v.top10Every }).toEqual({ conversation, name, top10Every: 'meets' });
      expect({ conversation, name, coverageEvery: v.coverageEvery >= floor.coverage ? 'meets' : v.coverageEvery }).toEqual({ conversation, name, coverageEvery: 'meets' });
      expect({ conversation, name, beatsPopularity: v.spearmanEvery > v.popularitySpearmanEvery || v.spearmanEvery }).toEqual({
        conversation,
        name,
        beatsPopularity: true,
      });
    });
  });

  it('compares 15-per-hour-seattle on the 30 comments every group voted on and reports all 31 beside them', () => {
    const result = results.get('15-per-hour-seattle')!;
    expect(result.compared).toEqual({ every: 30, clustered: 30, all: 31 });
    expect(formatPolisResult(result)).toContain('compared on the 30 comments every opinion group voted on');
  });

  it('sums up the seven side by side: the minimum of each figure, and where each variant falls short of its target', () => {
    const all = CONVERSATIONS.map((conversation) => results.get(conversation)!);
    const summary = formatPolisSummary(all);
    const minimumRow = summary.split('\n').find((line) => line.startsWith('minimum'))!;
    const lowest = Math.min(...all.map((result) => result.variants.find((v) => v.name === 'found')!.spearmanEvery));
    expect(minimumRow).toContain(`${lowest.toFixed(3)} / `);
    // Every measured shortfall is named under its variant, and only those.
    for (const key of Object.keys(SHORTFALL)) {
      const [conversation, name] = key.split(' ') as [Conversation, 'groups' | 'found' | 'likes'];
      const line = summary.split('\n').find((l) => l.startsWith(`  ${variant(conversation, name).label} (`))!;
      expect(line).toContain(`not met on`);
      expect(line).toContain(conversation);
    }
    expect(summary).toContain(`  ${variant(CONVERSATIONS[0], 'groups').label} (ρ ≥ 0.95, top-10 ≥ 8, coverage ≥ 95%): met on every conversation`);
  });

  it('evaluates an export without votes.csv, replaying the final votes in a deterministic order, and says so', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-polis-no-log-'));
    try {
      for (const file of ['participants-votes.csv', 'comments.csv', 'summary.csv']) {
        await copyFile(path.join(DATA, 'london.youth.policing', file), path.join(dir, file));
      }
      const result = await evaluatePolis(dir, { variants: ['groups'] });
      expect(result.voteOrder).toBe('participants-votes.csv');
      expect(formatPolisResult(result)).toContain('participants-votes.csv (no votes.csv)');
      expect(result.variants[0]!.coverageEvery).toBeGreaterThanOrEqual(POLIS_TARGETS.groups.coverage);
      expect(result.variants[0]!.spearmanEvery).toBeGreaterThanOrEqual(POLIS_TARGETS.groups.rho);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('refuses a folder that is not a Polis export, naming what is missing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-polis-bad-'));
    try {
      await copyFile(path.join(DATA, 'brexit-consensus', 'participants-votes.csv'), path.join(dir, 'participants-votes.csv'));
      const rejection = evaluatePolis(dir);
      await expect(rejection).rejects.toBeInstanceOf(EvalInputError);
      await expect(rejection).rejects.toThrow('comments.csv is missing');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
