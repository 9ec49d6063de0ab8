/** One group's measured support of a post, as the bridging ranking reports it in a post's components. */
export interface GroupSupport {
  group: string;
  /** Smoothed approval rate `(A + 1) / (S + 2)` of the group's members who saw the post. */
  rate: number;
  exposure: number;
}

/** How a feed's ranking measured a post: per group support, and the groups it divides. */
export interface BridgingMeasure {
  groups: readonly GroupSupport[];
  divisiveIn: readonly string[];
}

export type Eligibility = { eligible: true } | { eligible: false; reason: string };

/** Exposure a group needs before its approval counts for or against a boost (as provenance judges support). */
const MIN_EXPOSURE = 5;

/**
 * The groups a ranking reports for a community: the community itself (a feed across communities),
 * its opinion groups `<community>/<n>` (one community's feed), or a joined population `a+b`.
 */
function groupsOf(community: string, groups: readonly GroupSupport[]): GroupSupport[] {
  return groups.filter(({ group }) => group === community || group.startsWith(`${community}/`) || group.split('+').includes(community));
}

/**
 * A post may be boosted only when its measured bridging across the communities that fund it passes
 * their threshold: each funding community was measured (enough of its members saw the post), every
 * group of it measured approves at `minBridging` or more, and the post divides none of them.
 * Nothing pledged changes this: no budget buys reach for a post that divides its funders.
 */
export function eligibility(measure: BridgingMeasure | undefined, funders: readonly { community: string; minBridging: number }[]): Eligibility {
  if (!measure) return { eligible: false, reason: 'not ranked in this feed' };
  for (const { community, minBridging } of funders) {
    const groups = groupsOf(community, measure.groups);
    if (groups.some(({ group }) => measure.divisiveIn.includes(group))) return { eligible: false, reason: `divisive in ${community}` };
    const measured = groups.filter((group) => group.exposure >= MIN_EXPOSURE);
    if (measured.length === 0) return { eligible: false, reason: `too few members of ${community} saw it` };
    const low = measured.find((group) => group.rate < minBridging);
    if (low) return { eligible: false, reason: `approval in ${low.group} ${low.rate.toFixed(2)} is below ${minBridging}` };
  }
  return { eligible: true };
}

/** The measure a ranked post's components carry (`groups`, `divisiveIn`), or undefined when they carry none. */
export function measureOf(components: Readonly<Record<string, unknown>>): BridgingMeasure | undefined {
  const { groups, divisiveIn } = components;
  if (!Array.isArray(groups)) return undefined;
  const parsed: GroupSupport[] = [];
  for (const entry of groups as unknown[]) {
    const { group, rate, exposure } = (entry ?? {}) as Partial<GroupSupport>;
    if (typeof group === 'string' && typeof rate === 'number' && typeof exposure === 'number') parsed.push({ group, rate, exposure });
  }
  return { groups: parsed, divisiveIn: Array.isArray(divisiveIn) ? divisiveIn.filter((name): name is string => typeof name === 'string') : [] };
}
