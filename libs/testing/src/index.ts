export { RawLine, writeJsonl } from './jsonl.js';
export { generateCid, generateJetstreamEvents, mulberry32, tid } from './synthetic-events.js';
export { type JetstreamReplayServer, type ReplayItem, startJetstreamReplayServer } from './jetstream-replay.server.js';
export { parseCsv } from './polis/csv.js';
export {
  loadPolisConversation,
  polisAgreeCounts,
  polisCommentsEveryGroupVotedOn,
  polisCommentsWithGroupVotes,
  type PolisConversation,
  PolisFormatError,
  polisGroupConsensus,
} from './polis/polis-conversation.js';
export { polisInteractions } from './polis/polis-interactions.js';
export { plantedCommunities, type PlantedCommunities, type PlantedCommunitiesOptions, PlantedPostKind } from './polis/planted-communities.js';
export { type ChdbHttpServer, startChdbHttpServer } from './chdb-http.server.js';
export { metricTotal, type MetricSample, parseMetrics, rolesOf } from './metrics-scrape.js';
export { appEntry, AppProcess, chdbHttpEntry, evalEntry, freePort, jetstreamReplayEntry, type ServingAppProcess, startAppProcess } from './app-process.js';
export { waitFor } from './wait-for.js';
export { kafkaTestEnv, testAppEnv } from './test-app.env.js';
export { startTestApp, type TestApp } from './test-app.js';
export { deterministicDidPlc, type PlcDirectoryServer, startPlcDirectory } from './plc-directory.server.js';
export { type HandleDirectoryServer, startHandleDirectory } from './handle-directory.server.js';
export { type CampaignSource, prepareCampaignSource } from './fault-campaign/campaign-source.js';
export { campaignPassed, type CampaignReport, formatCampaign, runEmbeddedCampaign, runScaledCampaign } from './fault-campaign/fault-campaign.js';
export { type FuzzAccount } from './fuzz/forged-tokens.js';
export { type FuzzReport, runFuzzCampaign } from './fuzz/fuzz-campaign.js';
export { capturedLogger } from './captured-logger.js';
export { type EmbeddedStore, openEmbeddedStore } from './embedded-store.js';
export { accessibilityViolations, launchBrowser } from './browser.js';
export { likeEvent, noteEvent, noteRequestEvent, pledgeEvent, ratingEvent, recordEvent } from './record-events.js';
export { started } from './started.js';
export { feedsWrittenBy, type RankerFeeds, rankerFeeds, type RankerProcess, type RankerShareStatus, startRanker } from './ranker-feeds.js';
