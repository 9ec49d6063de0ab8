import { BridgingInputError } from './errors.js';

/**
 * Which communities (groups) each user belongs to, as CSR arrays: the groups of user u are
 * `groups[offsets[u]] … groups[offsets[u+1]-1]`. Users may belong to several groups or none;
 * users past `offsets.length - 1` belong to none.
 */
export interface GroupMembership {
  readonly groupCount: number;
  readonly offsets: Uint32Array;
  readonly groups: Uint32Array;
  /** Display names (community keys) by group index, used by provenance. */
  readonly names?: readonly string[];
}

function membershipFromCsr(
  offsets: Uint32Array,
  groups: Uint32Array,
  groupCount: number,
  names?: readonly string[],
): GroupMembership {
  if (offsets.length === 0 || offsets[0] !== 0 || offsets[offsets.length - 1]! > groups.length) {
    throw new BridgingInputError('membership offsets must start at 0 and end within groups');
  }
  for (let u = 0; u + 1 < offsets.length; u++) {
    if (offsets[u + 1]! < offsets[u]!) throw new BridgingInputError(`membership offsets decrease at user ${u}`);
  }
  for (let i = 0; i < offsets[offsets.length - 1]!; i++) {
    if (groups[i]! >= groupCount) throw new BridgingInputError(`group ${groups[i]} ≥ groupCount ${groupCount}`);
  }
  if (names && names.length !== groupCount) throw new BridgingInputError('names must have one entry per group');
  return names ? { groupCount, offsets, groups, names } : { groupCount, offsets, groups };
}

/** From one list of groups per user (`Uint32Array[]` or `number[][]`); duplicates within a list are dropped. */
export function membershipFromLists(
  groupsOfUser: readonly (ArrayLike<number> | undefined)[],
  groupCount?: number,
  names?: readonly string[],
): GroupMembership {
  const offsets = new Uint32Array(groupsOfUser.length + 1);
  const flat: number[] = [];
  let maxGroup = -1;
  for (let u = 0; u < groupsOfUser.length; u++) {
    const list = groupsOfUser[u];
    const seen = new Set<number>();
    if (list) {
      for (let i = 0; i < list.length; i++) {
        const g = list[i]!;
        if (!Number.isInteger(g) || g < 0) throw new BridgingInputError(`user ${u}: bad group ${g}`);
        if (seen.has(g)) continue;
        seen.add(g);
        flat.push(g);
        if (g > maxGroup) maxGroup = g;
      }
    }
    offsets[u + 1] = flat.length;
  }
  return membershipFromCsr(offsets, Uint32Array.from(flat), groupCount ?? maxGroup + 1, names);
}

/** From one group per user; a negative value means "in no group" (e.g. Polis's unclustered participants). */
export function membershipFromAssignment(
  groupOfUser: ArrayLike<number>,
  groupCount?: number,
  names?: readonly string[],
): GroupMembership {
  const lists: (number[] | undefined)[] = [];
  for (let u = 0; u < groupOfUser.length; u++) {
    const g = groupOfUser[u]!;
    lists.push(g >= 0 ? [g] : undefined);
  }
  return membershipFromLists(lists, groupCount, names);
}

export function groupName(membership: GroupMembership, group: number): string {
  return membership.names?.[group] ?? String(group);
}
