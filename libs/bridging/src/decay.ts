/**
 * Exponential time decay: 1 for a post of age 0, ½ after one half-life. A negative age (a
 * client-set `createdAt` in the future) counts as 0, so a post cannot buy freshness.
 */
export function decay(ageMs: number, halfLifeMs: number): number {
  if (!(halfLifeMs > 0)) return 1;
  return Math.pow(2, -Math.max(0, ageMs) / halfLifeMs);
}

interface ScoreComposition {
  /** Half-life of the decay; `Infinity` disables it. Default 12 h. */
  halfLifeMs: number;
  /** Scores below this are clamped before the decay (default 0). */
  floor: number;
}

const DEFAULT_SCORE_COMPOSITION: Readonly<ScoreComposition> = Object.freeze({
  halfLifeMs: 12 * 3_600_000,
  floor: 0,
});

/**
 * The feed score: bridging score × decay(age).
 * @NOTE the bridging score is clamped at `floor` (0) first: multiplying a negative score (an
 * intercept below the mean) by a decay would make old bad posts look better than new bad ones.
 */
export function composeScore(bridging: number, ageMs: number, options: Partial<ScoreComposition> = {}): number {
  const o = { ...DEFAULT_SCORE_COMPOSITION, ...options };
  return Math.max(bridging, o.floor) * decay(ageMs, o.halfLifeMs);
}
