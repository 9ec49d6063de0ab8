import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deterministicDidPlc, type PolisConversation } from '#lib/testing';
import { EvalInputError } from './eval.errors.js';
import { planReplay, postText, type EvalDataset } from './eval-dataset.js';
import { loadConversationFolder, polisConversationFolders, polisDataset } from './polis-dataset.js';
import { feedOrderScores } from './polis-eval.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2017, 6, 17);

/** Two participants in two groups, a third not clustered; comment 2 is by someone who never voted. */
function conversation(): PolisConversation {
  return {
    name: 'tiny',
    summary: {},
    comments: [
      { id: 0, authorId: 10, createdMs: T0, agrees: 1, disagrees: 1, moderated: 1, body: 'First' },
      { id: 1, authorId: 11, createdMs: T0 + HOUR, agrees: 2, disagrees: 0, moderated: 0, body: 'Second' },
      { id: 2, authorId: 99, createdMs: T0 + 2 * HOUR, agrees: 0, disagrees: 0, moderated: 1, body: '' },
    ],
    excludedCommentIds: [],
    participants: [
      { id: 10, groupId: 0, votes: new Map([[0, 1], [1, 1]] as const), voteTimeMs: new Map([[0, T0 + 10], [1, T0 + 3 * HOUR]]) },
      { id: 11, groupId: 1, votes: new Map([[0, -1], [1, 1], [2, 0]] as const), voteTimeMs: new Map([[0, T0 + 20], [1, T0 + HOUR + 5], [2, T0 + 4 * HOUR]]) },
      { id: 12, groupId: null, votes: new Map([[0, 0]] as const), voteTimeMs: new Map() },
    ],
    groupIds: [0, 1],
  };
}

describe('Polis conversation → accounts, posts and votes', () => {
  const { dataset, generatedAuthors } = polisDataset(conversation(), 'polis/tiny');

  it('maps agree, pass and disagree to like, seen and requestLess, in the order the votes were cast', () => {
    expect(dataset.votes.map((v) => [dataset.actors[v.actor], v.post, v.kind])).toEqual([
      ['participant-12', 0, 'seen'], // no logged time: the comment's own
      ['participant-10', 0, 'like'],
      ['participant-11', 0, 'requestLess'],
      ['participant-11', 1, 'like'],
      ['participant-10', 1, 'like'],
      ['participant-11', 2, 'seen'],
    ]);
  });

  it('posts each comment as its author, or as a generated account when the author is not a participant', () => {
    expect(dataset.posts.map((p) => dataset.actors[p.author])).toEqual(['participant-10', 'participant-11', 'author-99']);
    expect(generatedAuthors).toEqual([2]);
    expect(dataset.groups).toEqual([
      { id: 'polis-group-0', name: 'Polis opinion group 0', members: [0] },
      { id: 'polis-group-1', name: 'Polis opinion group 1', members: [1] },
    ]);
  });
});

describe('replay plan', () => {
  const { dataset } = polisDataset(conversation(), 'polis/tiny');
  const endMs = Date.UTC(2026, 10, 22, 12);

  it('ends at the given time, keeps the vote order and sends no vote before its post', () => {
    const plan = planReplay(dataset, { signals: 'all', endMs });
    expect(plan.endMs).toBe(endMs);
    expect(plan.startMs).toBe(endMs - 4 * HOUR);
    const times = plan.events.map((e) => e.time_us);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(new Set(times).size).toBe(times.length);
    const postedAt = new Map<string, number>();
    for (const step of plan.steps) {
      if (step.kind === 'commit' && step.event.commit.collection === 'app.bsky.feed.post') {
        postedAt.set(`at://${step.event.did}/app.bsky.feed.post/${step.event.commit.rkey}`, step.event.time_us);
        continue;
      }
      const subject = step.kind === 'commit' ? (step.event.commit.record!.subject as { uri: string }).uri : step.feedback.item;
      expect(postedAt.has(subject)).toBe(true);
    }
    expect(plan.steps.map((s) => (s.kind === 'commit' ? s.event.commit.collection.split('.').pop() : s.feedback.event.split('#')[1]))).toEqual([
      'post',
      'interactionSeen',
      'like',
      'requestLess',
      'post',
      'like',
      'post',
      'like',
      'interactionSeen',
    ]);
    expect(plan.counts).toEqual({ posts: 3, likes: 3, reposts: 0, seen: 2, requestLess: 1 });
    expect(plan.expected).toEqual({ events: 6, interactions: 6, feedback: 3 });
    expect(plan.feedbackActors.map((a) => dataset.actors[a])).toEqual(['participant-12', 'participant-11']);
  });

  it('sends nothing through sendInteractions for likes only', () => {
    const plan = planReplay(dataset, { signals: 'likes', endMs });
    expect(plan.feedback).toEqual([]);
    expect(plan.expected).toEqual({ events: 6, interactions: 3, feedback: 0 });
  });

  it('uses real record shapes and the same accounts for the same dataset', () => {
    const a = planReplay(dataset, { signals: 'all', endMs });
    const b = planReplay(dataset, { signals: 'all', endMs: endMs + 1000 });
    expect(a.dids).toEqual(b.dids);
    for (const did of a.dids) expect(did).toMatch(/^did:plc:[a-z2-7]{24}$/);
    const like = a.events.find((e) => e.kind === 'commit' && e.commit.collection === 'app.bsky.feed.like')!;
    expect(like).toMatchObject({
      kind: 'commit',
      commit: {
        operation: 'create',
        rkey: expect.stringMatching(/^[2-7a-z]{13}$/),
        cid: expect.stringMatching(/^bafyrei[a-z2-7]{52}$/),
        record: { $type: 'app.bsky.feed.like', subject: { uri: a.postUris[0], cid: expect.any(String) }, createdAt: expect.any(String) },
      },
    });
  });

  it('compresses a timeline longer than the longest span, keeping the order', () => {
    const long: EvalDataset = {
      ...dataset,
      votes: [...dataset.votes, { actor: 0, post: 2, kind: 'like', timeMs: T0 + 400 * 24 * HOUR }],
    };
    const plan = planReplay(long, { signals: 'all', endMs, maxSpanMs: 10 * 24 * HOUR });
    expect(plan.compression).toBeCloseTo(10 / 400, 6);
    expect(plan.endMs - plan.startMs).toBeCloseTo(10 * 24 * HOUR, -1);
  });

  it('cuts post text to 300 graphemes', () => {
    expect(postText('  short  ')).toBe('short');
    const long = postText('👍🏽'.repeat(400));
    expect(Array.from(new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(long))).toHaveLength(300);
    expect(long.endsWith('…')).toBe(true);
  });

  it('derives did:plc identifiers from a seed', () => {
    expect(deterministicDidPlc('a')).toBe(deterministicDidPlc('a'));
    expect(deterministicDidPlc('a')).not.toBe(deterministicDidPlc('b'));
  });
});

describe('feed order as scores', () => {
  it('gives the first post the highest score and every absent post the same lowest one', () => {
    const { values, ranked, absent } = feedOrderScores(['c', 'a'], ['a', 'b', 'c', 'd']);
    expect(Array.from(values)).toEqual([1, 0, 2, 0]);
    expect(ranked).toBe(2);
    expect(absent).toEqual([1, 3]);
  });
});

describe('conversation folder checks', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cg-polis-folder-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names a missing column and a file it cannot parse', async () => {
    await writeFile(path.join(dir, 'participants-votes.csv'), 'participant,n-votes\n0,1\n');
    await writeFile(path.join(dir, 'comments.csv'), 'timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n');
    await writeFile(path.join(dir, 'votes.csv'), 'timestamp,datetime,comment-id,voter-id,vote\n');
    expect(() => loadConversationFolder(dir)).toThrow(EvalInputError);
    expect(() => loadConversationFolder(dir)).toThrow('participants-votes.csv: missing column group-id');
    await writeFile(path.join(dir, 'participants-votes.csv'), 'participant,group-id,0\n0,0,1\n1,1,x\n');
    await writeFile(path.join(dir, 'comments.csv'), 'timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n1,d,0,0,1,0,1,Hi\n');
    expect(() => loadConversationFolder(dir)).toThrow('not a readable Polis export: bad vote of 1 on 0: x');
  });

  it('needs two opinion groups', async () => {
    await writeFile(path.join(dir, 'participants-votes.csv'), 'participant,group-id,0\n0,0,1\n1,,1\n');
    await writeFile(path.join(dir, 'comments.csv'), 'timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n1,d,0,0,1,0,1,Hi\n');
    await writeFile(path.join(dir, 'votes.csv'), 'timestamp,datetime,comment-id,voter-id,vote\n2,d,0,0,1\n');
    expect(() => loadConversationFolder(dir)).toThrow('bridging across groups needs at least two');
  });
});

describe('polisConversationFolders', () => {
  it('reads an export folder as the conversations in it, in name order, and keeps anything else as given', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'cg-polis-export-'));
    try {
      for (const name of ['b-conversation', 'a-conversation']) {
        await mkdir(path.join(root, name));
        await writeFile(path.join(root, name, 'comments.csv'), '');
      }
      await mkdir(path.join(root, 'notes'));
      // A conversation kept elsewhere and linked in.
      await mkdir(path.join(root, 'notes', 'c-conversation'));
      await writeFile(path.join(root, 'notes', 'c-conversation', 'comments.csv'), '');
      await symlink(path.join(root, 'notes', 'c-conversation'), path.join(root, 'c-linked'));
      const missing = path.join(root, 'nowhere');
      expect(polisConversationFolders([root])).toEqual(['a-conversation', 'b-conversation', 'c-linked'].map((name) => path.join(root, name)));
      expect(polisConversationFolders([path.join(root, 'b-conversation'), missing])).toEqual([path.join(root, 'b-conversation'), missing]);
      // A folder holding no conversation stays itself, so that the evaluation says what it lacks.
      await mkdir(path.join(root, 'empty'));
      expect(polisConversationFolders([path.join(root, 'empty')])).toEqual([path.join(root, 'empty')]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
