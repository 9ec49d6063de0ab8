export { BackfillModule } from './backfill.module.js';
export { BackfillService } from './backfill.service.js';
export { type BackfillState } from './backfill.progress.js';
export { type BackfillSummary } from './backfill.runner.js';
