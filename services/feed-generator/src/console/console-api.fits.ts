import type { AdminController } from '../admin.controller.js';
import type { ConversationView } from '../conversations.controller.js';
import type { EditionsView } from '../editions.controller.js';
import type { Explanation } from '../explanation.service.js';
import type { ConsoleOverview } from './console-api.controller.js';
import type * as Browser from './web/api.types.js';

/**
 * The console's API answers in the shapes its browser modules read: this compiles (in
 * `npm run typecheck`, which `npm test` runs first) only when each server type fits what the
 * console expects of it. Types only: nothing of it runs.
 */
type Fits<Server extends Browser, Browser> = [Server, Browser];

export type ConsoleApiFits = [
  Fits<ConsoleOverview, Browser.ConsoleOverview>,
  Fits<ReturnType<AdminController['curation']>, Browser.Curation>,
  Fits<Awaited<ReturnType<AdminController['communityMembers']>>, Browser.CommunityMembers>,
  Fits<Explanation, Browser.Explanation>,
  Fits<EditionsView, Browser.Editions>,
  Fits<ConversationView, Browser.ConversationView>,
];
