import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadPolisConversation, parseCsv, PolisFormatError, type PolisConversation } from '#lib/testing';
import { EvalInputError } from './eval.errors.js';
import type { EvalDataset, EvalVote } from './eval-dataset.js';

/** The files and columns of a compdemocracy/openData conversation export that the evaluation reads. */
const REQUIRED_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  'participants-votes.csv': ['participant', 'group-id'],
  'comments.csv': ['timestamp', 'comment-id', 'author-id', 'moderated', 'comment-body'],
};
/** The vote log: optional (some exports leave it out); without it the final votes are replayed. */
const OPTIONAL_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  'votes.csv': ['timestamp', 'comment-id', 'voter-id', 'vote'],
};

/** Where the replayed votes and their order come from (see `PolisEvalResult.voteOrder`). */
export type PolisVoteOrder = 'votes.csv' | 'participants-votes.csv';

export const POLIS_ATTRIBUTION =
  'Data was gathered using the Polis software (compdemocracy.org/polis) and is sub-licensed under CC BY 4.0 with Attribution to The Computational Democracy Project.';

/** The conversations shipped in test/fixtures/polis (their folders), as the tests and `bench:polis-eval` run them. */
export const POLIS_FIXTURE_CONVERSATIONS = [
  'brexit-consensus',
  '15-per-hour-seattle',
  'austria-climate.5twd2jsnkf.2022-08-08',
  'bg2050-volunteers',
  'scoop-hivemind.freshwater',
  'scoop-hivemind.affordable-housing',
  'london.youth.policing',
] as const;

/** Case-study pages of the conversations shipped in test/fixtures/polis (named in their README). */
const CASE_STUDIES: Readonly<Record<string, string>> = {
  'brexit-consensus': 'https://compdemocracy.org/case-studies/2017-brexit-consensus',
  '15-per-hour-seattle': 'https://compdemocracy.org/case-studies/2014-seattle-15-per-hour',
};

/** The licence statement for one conversation, with where it came from. */
export function polisAttribution(conversationName: string, summaryUrl: string | undefined): string {
  const links = [CASE_STUDIES[conversationName], summaryUrl].filter((link): link is string => Boolean(link));
  return links.length > 0
    ? `${POLIS_ATTRIBUTION} The data and more information about how the data was collected can be found at: ${links.join(', ')}`
    : POLIS_ATTRIBUTION;
}

/**
 * The conversation folders `paths` name: a folder holding comments.csv is a conversation; a folder
 * that does not but whose subfolders do (an export such as compdemocracy/openData) stands for those
 * subfolders, in name order; anything else is kept as given, for `loadConversationFolder` to say
 * what is wrong with it.
 */
export function polisConversationFolders(paths: readonly string[]): string[] {
  const isConversation = (dir: string) => existsSync(path.join(dir, 'comments.csv'));
  return paths.flatMap((folder) => {
    if (!existsSync(folder) || !statSync(folder).isDirectory() || isConversation(folder)) return [folder];
    // By name, not by directory entry: a conversation linked into the folder counts too.
    const inside = readdirSync(folder)
      .map((name) => path.join(folder, name))
      .filter((dir) => statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true && isConversation(dir))
      .sort();
    return inside.length > 0 ? inside : [folder];
  });
}

/**
 * Loads a Polis conversation folder, checking first that it is one: participants-votes.csv and
 * comments.csv (and votes.csv when present) with the columns the evaluation reads, at least one comment kept by moderation, and at least two opinion
 * groups (variants (1) and (3) rank across them). Every problem is an `EvalInputError` naming the file.
 */
export function loadConversationFolder(folder: string): PolisConversation {
  const dir = path.resolve(folder);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new EvalInputError(`${folder}: not a folder (expected a Polis conversation export with ${Object.keys(REQUIRED_COLUMNS).join(', ')})`);
  }
  for (const [file, columns] of [...Object.entries(REQUIRED_COLUMNS), ...Object.entries(OPTIONAL_COLUMNS)]) {
    const file_ = path.join(dir, file);
    if (!existsSync(file_) && file in OPTIONAL_COLUMNS) continue;
    if (!existsSync(file_)) {
      throw new EvalInputError(`${folder}: ${file} is missing (a Polis conversation export has ${Object.keys(REQUIRED_COLUMNS).join(', ')})`);
    }
    const [header] = parseCsv(readFileSync(file_, 'utf8').split(/\r?\n/, 1)[0] ?? '');
    const missing = columns.filter((column) => !(header ?? []).includes(column));
    if (missing.length > 0) {
      throw new EvalInputError(`${path.join(folder, file)}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in the header row`);
    }
  }
  let conversation: PolisConversation;
  try {
    conversation = loadPolisConversation(dir);
  } catch (error) {
    if (error instanceof PolisFormatError) {
      const detail = error.message.startsWith(`${dir}: `) ? error.message.slice(dir.length + 2) : error.message;
      throw new EvalInputError(`${folder}: not a readable Polis export: ${detail}`, { cause: error });
    }
    throw error;
  }
  if (conversation.comments.length === 0) throw new EvalInputError(`${folder}: comments.csv has no comment that moderation kept`);
  if (conversation.participants.length === 0) throw new EvalInputError(`${folder}: participants-votes.csv has no participant`);
  if (conversation.groupIds.length < 2) {
    throw new EvalInputError(
      `${folder}: participants-votes.csv assigns ${conversation.groupIds.length} opinion group(s) in group-id; bridging across groups needs at least two`,
    );
  }
  if (!conversation.participants.some((p) => p.votes.size > 0)) {
    throw new EvalInputError(`${folder}: participants-votes.csv holds no vote on a kept comment`);
  }
  return conversation;
}

export interface PolisDataset {
  dataset: EvalDataset;
  /** Comment ids whose author is not a participant: they were given a generated author. */
  generatedAuthors: readonly number[];
  voteOrder: PolisVoteOrder;
}

/**
 * A Polis conversation as accounts, posts and votes: participants become accounts, each kept comment
 * a post by its author's account (or by a generated account when the author is not a participant),
 * agree → like, pass → seen, disagree → requestLess, at the time of the participant's last logged
 * vote on that comment (votes.csv; without a vote log, at the comment's creation time, participants
 * in file order, so the replay order is the same on every run). The vote counted is the final one (participants-votes.csv), the
 * same one Polis's group-informed consensus counts.
 */
export function polisDataset(conversation: PolisConversation, key: string): PolisDataset {
  const actors: string[] = conversation.participants.map((p) => `participant-${p.id}`);
  const actorOfParticipant = new Map(conversation.participants.map((p, i) => [p.id, i]));
  const generatedAuthors: number[] = [];
  const authorActor = (authorId: number, commentId: number): number => {
    const participant = actorOfParticipant.get(authorId);
    if (participant !== undefined) return participant;
    generatedAuthors.push(commentId);
    const label = `author-${authorId}`;
    const known = actors.indexOf(label);
    if (known >= 0) return known;
    actors.push(label);
    return actors.length - 1;
  };
  const posts = conversation.comments.map((comment) => ({
    author: authorActor(comment.authorId, comment.id),
    createdMs: comment.createdMs,
    text: comment.body || `Comment ${comment.id}`,
  }));
  const postOfComment = new Map(conversation.comments.map((comment, i) => [comment.id, i]));
  const votes: (EvalVote & { order: number })[] = [];
  conversation.participants.forEach((participant, actor) => {
    for (const [commentId, vote] of participant.votes) {
      const post = postOfComment.get(commentId);
      if (post === undefined) continue;
      votes.push({
        actor,
        post,
        kind: vote === 1 ? 'like' : vote === 0 ? 'seen' : 'requestLess',
        timeMs: participant.voteTimeMs.get(commentId) ?? conversation.comments[post]!.createdMs,
        order: votes.length,
      });
    }
  });
  votes.sort((a, b) => a.timeMs - b.timeMs || a.order - b.order);
  const groups = conversation.groupIds.map((groupId) => ({
    id: `polis-group-${groupId}`,
    name: `Polis opinion group ${groupId}`,
    members: conversation.participants.flatMap((p, actor) => (p.groupId === groupId ? [actor] : [])),
  }));
  return {
    dataset: { key, actors, posts, votes: votes.map(({ order: _order, ...vote }) => vote), groups },
    generatedAuthors,
    voteOrder: conversation.participants.some((p) => p.voteTimeMs.size > 0) ? 'votes.csv' : 'participants-votes.csv',
  };
}
