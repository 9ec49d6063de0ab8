export { LABEL_VALUE, type Label, type SequencedLabel } from './label.js';
export { BOT, COMMON_GROUND, communityToken, labelRules, labelValues, provenanceOf, type LabelRule, type PostProvenance } from './label-values.js';
export { labelChanges, type LabelChange, type PostLabels } from './label-changes.js';
export { signLabel, verifyLabel } from './label-signing.js';
export { labelerPolicies, type CommunityNaming, type LabelerPolicies, type LabelValueDefinition } from './labeler-policies.js';
export { parseReceivedLabel, receivedLabelSchema } from './label.schema.js';
