import { READERS_ADDED_CONTEXT } from '#lib/domain';
import { boostedByValue, COMMON_GROUND, divisiveInValue, supportedByValue } from './label-values.js';

/** `com.atproto.label.defs#labelValueDefinition`, as our labels use it. */
export interface LabelValueDefinition {
  identifier: string;
  severity: 'inform';
  blurs: 'none';
  defaultSetting: 'warn';
  adultOnly: false;
  locales: { lang: string; name: string; description: string }[];
}

/** `app.bsky.labeler.service#policies`. */
export interface LabelerPolicies {
  labelValues: string[];
  labelValueDefinitions: LabelValueDefinition[];
}

export interface CommunityNaming {
  id: string;
  name: string;
}

const definition = (identifier: string, name: string, description: string): LabelValueDefinition => ({
  identifier,
  severity: 'inform',
  blurs: 'none',
  defaultSetting: 'warn',
  adultOnly: false,
  // A name holds 64 graphemes and 640 bytes: 64 code points are within both. A description holds
  // 10,000 graphemes and 100,000 bytes; a community's name (at most 640 bytes) keeps ours far below.
  locales: [{ lang: 'en', name: [...name].slice(0, 64).join(''), description }],
});

/**
 * Every value our labels can take, for the `app.bsky.labeler.service` record: `common-ground`,
 * `readers-added-context` (helpful context notes) and,
 * per community, `supported-by-…`, `divisive-in-…` and `boosted-by-…`, with a name and description in English.
 * The curation gives each community a token of its own (see `communityToken`): it refuses two ids
 * that would share one.
 */
export function labelerPolicies(communities: readonly CommunityNaming[]): LabelerPolicies {
  const definitions = [
    definition(COMMON_GROUND, 'Common ground', 'Approved across communities that usually disagree (Common Ground bridging).'),
    definition(
      READERS_ADDED_CONTEXT,
      'Readers added context',
      'A context note that raters who usually disagree both found helpful (Open Community Notes). Its text is on the labeler\'s /notes page for the post.',
    ),
  ];
  for (const community of communities) {
    definitions.push(
      definition(supportedByValue(community.id), `Supported by ${community.name}`, `Members of the community "${community.name}" approve this post.`),
      definition(divisiveInValue(community.id), `Divisive in ${community.name}`, `Members of "${community.name}" on the two sides of its main divide approve this post at clearly different rates.`),
      definition(boostedByValue(community.id), `Boosted by ${community.name}`, `The Bridge Fund of "${community.name}" paid, visibly, to raise this post in its feeds.`),
    );
  }
  return { labelValues: definitions.map((d) => d.identifier), labelValueDefinitions: definitions };
}
