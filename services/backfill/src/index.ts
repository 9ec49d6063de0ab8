export { BackfillModule } from './backfill.module.js';
export { BackfillService } from './backfill.service.js';
export { type BackfillSummary } from './backfill.runner.js';
