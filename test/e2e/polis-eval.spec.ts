/**
 * The evaluation harness (`npm run eval -- --polis <folder>`) on the two real Polis conversations in
 * test/fixtures/polis. Each conversation goes through the real embedded pipeline twice (every vote;
 * likes only): a local Jetstream replay → ingest → in-process bus → scoring → ClickHouse (chDB in
 * memory) → feed generator, with passes and disagrees sent through `sendInteractions` under
 * service-auth JWTs; the ranked feeds, read through getFeedSkeleton, are compared with Polis's own
 * group-informed consensus.
 *
 * Data was gathered using the Polis software (compdemocracy.org/polis) and is sub-licensed under
 * CC BY 4.0 with Attribution to The Computational Democracy Project. The data and more information
 * about how the data was collected can be found at the following link(s):
 * https://compdemocracy.org/case-studies/2017-brexit-consensus
 * https://compdemocracy.org/case-studies/2014-seattle-15-per-hour
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EvalInputError } from '../../eval/eval.errors.js';
import { evaluatePolis, type PolisEvalResult, type PolisEvalRow, type PolisVariant } from '../../eval/polis-eval.js';
import { formatPolisResult } from '../../eval/report.js';

const root = path.resolve(import.meta.dirname, '../..');
const DATA = path.resolve(root, 'test/fixtures/polis');
const CONVERSATIONS = ['brexit-consensus', '15-per-hour-seattle'] as const;

/** The targets: with every vote (with the Polis groups, and without groups), and with likes only. */
const TARGET = { groups: { rho: 0.95, top10: 8 }, likes: { rho: 0.85 } };

describe('Polis conversations through the real pipeline (npm run eval)', () => {
  const results = new Map<string, PolisEvalResult>();
  const row = (conversation: (typeof CONVERSATIONS)[number], variant: PolisVariant): PolisEvalRow =>
    results.get(conversation)!.rows.find((r) => r.variant === variant)!;

  beforeAll(async () => {
    for (const conversation of CONVERSATIONS) {
      const result = await evaluatePolis(path.join(DATA, conversation));
      results.set(conversation, result);
      console.log(formatPolisResult(result));
    }
  }, 170_000);

  it('ranks every variant of both conversations from feeds read through getFeedSkeleton, and carries the attribution', () => {
    for (const conversation of CONVERSATIONS) {
      const result = results.get(conversation)!;
      expect(result.rows.map((r) => r.variant)).toEqual(['groups', 'found', 'within', 'likes']);
      expect(result.runs.map((run) => run.feedback)).toEqual([
        result.votes.pass + result.votes.disagree,
        0,
      ]);
      for (const r of result.rows) expect(r.ranked).toBeGreaterThan(r.comments / 2);
      expect(result.attribution).toContain('CC BY 4.0 with Attribution to The Computational Democracy Project');
    }
  });

  describe('brexit-consensus', () => {
    it(`(1) Polis groups meets the target: ρ ≥ ${TARGET.groups.rho}, top-10 ≥ ${TARGET.groups.top10}`, () => {
      expect(row('brexit-consensus', 'groups').spearman).toBeGreaterThanOrEqual(TARGET.groups.rho);
      expect(row('brexit-consensus', 'groups').top10).toBeGreaterThanOrEqual(TARGET.groups.top10);
    });

    it(`(2) without groups, across the opinion groups found, meets the target: ρ ≥ ${TARGET.groups.rho}, top-10 ≥ ${TARGET.groups.top10}`, () => {
      expect(row('brexit-consensus', 'found').spearman).toBeGreaterThanOrEqual(TARGET.groups.rho);
      expect(row('brexit-consensus', 'found').top10).toBeGreaterThanOrEqual(TARGET.groups.top10);
    });

    it(`(3) likes only meets the target: ρ ≥ ${TARGET.likes.rho}`, () => {
      expect(row('brexit-consensus', 'likes').spearman).toBeGreaterThanOrEqual(TARGET.likes.rho);
    });

    // @NOTE The maths alone reach ρ 0.978 (libs/bridging polis-conversations.spec.ts). The feed loses
    // the order of the 19 comments whose side-balanced intercept is negative: composeScore clamps
    // them to 0, so they tie and are served in URI order.
    it("(2') without groups, by the factorisation's intercept, meets ρ ≥ 0.95 and top-10 ≥ 9", () => {
      expect(row('brexit-consensus', 'within').spearman).toBeGreaterThanOrEqual(0.95);
      expect(row('brexit-consensus', 'within').top10).toBeGreaterThanOrEqual(9);
    });
  });

  describe('15-per-hour-seattle', () => {
    it('compares on the 30 comments a clustered participant voted on, and reports all 31 beside them', () => {
      const result = results.get('15-per-hour-seattle')!;
      expect(result.comments).toBe(31);
      for (const r of result.rows) expect(r.compared).toBe(30);
      // Comment 53 has no vote from a clustered participant: Polis ranks it 10th on its prior alone.
      expect(row('15-per-hour-seattle', 'groups').spearmanAll).toBeLessThan(row('15-per-hour-seattle', 'groups').spearman);
      expect(formatPolisResult(result)).toContain("1 no clustered participant voted on score Polis's prior alone (0.250)");
    });

    it(`(1) Polis groups meets the target: ρ ≥ ${TARGET.groups.rho}, top-10 ≥ ${TARGET.groups.top10}`, () => {
      expect(row('15-per-hour-seattle', 'groups').spearman).toBeGreaterThanOrEqual(TARGET.groups.rho);
      expect(row('15-per-hour-seattle', 'groups').top10).toBeGreaterThanOrEqual(TARGET.groups.top10);
    });

    it(`(3) likes only meets the target: ρ ≥ ${TARGET.likes.rho}`, () => {
      expect(row('15-per-hour-seattle', 'likes').spearman).toBeGreaterThanOrEqual(TARGET.likes.rho);
    });

    it(`(2) without groups, across the opinion groups found, meets the target: ρ ≥ ${TARGET.groups.rho}, top-10 ≥ ${TARGET.groups.top10}`, () => {
      expect(row('15-per-hour-seattle', 'found').spearman).toBeGreaterThanOrEqual(TARGET.groups.rho);
      expect(row('15-per-hour-seattle', 'found').top10).toBeGreaterThanOrEqual(TARGET.groups.top10);
    });

    // @NOTE The factorisation's intercept stays below the target here: the conversation is lopsided (99
    // against 39 clustered participants, 201 unclustered) and its 2-means sides put about 83% of the
    // clustered participants on their Polis side. Finding the groups first, as (2) does, meets it.
    it("(2') without groups, by the factorisation's intercept, reaches ρ ≥ 0.87 and top-10 ≥ 8", () => {
      expect(row('15-per-hour-seattle', 'within').spearman).toBeGreaterThanOrEqual(0.87);
      expect(row('15-per-hour-seattle', 'within').top10).toBeGreaterThanOrEqual(8);
    });
  });

  it('beats raw popularity with every variant on both conversations', () => {
    for (const conversation of CONVERSATIONS) {
      for (const r of results.get(conversation)!.rows) {
        expect({ variant: `${conversation} ${r.variant}`, beats: r.spearman > r.popularitySpearman }).toEqual({
          variant: `${conversation} ${r.variant}`,
          beats: true,
        });
      }
    }
  });

  it('refuses a folder that is not a Polis export, naming what is missing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cg-polis-bad-'));
    try {
      for (const file of ['participants-votes.csv', 'comments.csv']) {
        await copyFile(path.join(DATA, 'brexit-consensus', file), path.join(dir, file));
      }
      const rejection = evaluatePolis(dir);
      await expect(rejection).rejects.toBeInstanceOf(EvalInputError);
      await expect(rejection).rejects.toThrow('votes.csv is missing');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
