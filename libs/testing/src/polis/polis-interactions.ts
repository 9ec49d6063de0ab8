import { IdIndex, InteractionTableBuilder, Signal, type InteractionTable } from '#lib/bridging';
import type { PolisConversation } from './polis-conversation.js';

/**
 * How votes become Bluesky-like signals:
 * - `'votes'`: agree → Like, pass → Seen, disagree → RequestLess (the brief's analogy).
 * - `'likes'`: agree → Like only; passes and disagrees are invisible, as on Bluesky without feed feedback.
 */
type PolisSignalMode = 'votes' | 'likes';

interface PolisInteractions {
  readonly table: InteractionTable;
  /** `p<participant id>`; every participant is interned, in file order, even one without a row. */
  readonly users: IdIndex;
  /** `c<comment id>`; post index i is `conversation.comments[i]`. */
  readonly posts: IdIndex;
  /** Polis group per user index, −1 for unclustered participants. */
  readonly groupOfUser: Int32Array;
  readonly postCreatedMs: Float64Array;
}

export function polisInteractions(conversation: PolisConversation, mode: PolisSignalMode): PolisInteractions {
  const users = new IdIndex(conversation.participants.map((p) => `p${p.id}`));
  const posts = new IdIndex(conversation.comments.map((c) => `c${c.id}`));
  const builder = new InteractionTableBuilder({ users, posts });
  const postOf = new Map(conversation.comments.map((c, i) => [c.id, i]));
  const groupOfUser = new Int32Array(users.size).fill(-1);
  conversation.participants.forEach((participant, u) => {
    if (participant.groupId !== null) groupOfUser[u] = conversation.groupIds.indexOf(participant.groupId);
    for (const [comment, vote] of participant.votes) {
      const p = postOf.get(comment);
      if (p === undefined) continue;
      const t = participant.voteTimeMs.get(comment) ?? conversation.comments[p]!.createdMs;
      if (vote === 1) builder.addIndexed(u, p, Signal.Like, t);
      else if (mode === 'votes') builder.addIndexed(u, p, vote === 0 ? Signal.Seen : Signal.RequestLess, t);
    }
  });
  return {
    table: builder.build(),
    users,
    posts,
    groupOfUser,
    postCreatedMs: Float64Array.from(conversation.comments, (c) => c.createdMs),
  };
}
