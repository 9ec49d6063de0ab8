export { APP_CONFIG, CLICKHOUSE, CONTROL_PLANE, LOGGER, MESSAGE_BUS } from './tokens.js';
export { type ControlPlane } from './control-plane.js';
export { CurationService } from './curation.service.js';
export { createLogger, type Logger, NestPinoLogger } from './logger.js';
export { Metrics, secondsBehind } from './metrics.js';
export { observeHttpRequests, scoringConsumerGroups } from './instrumentation.js';
export { type ReadinessReport, ReadinessService } from './readiness.js';
export { PipelineHistory, type PipelineSample } from './pipeline-history.js';
export {
  CatchUpProgress,
  RateWindow,
  formatDuration,
  type Progress,
  type ProgressReport,
  silentProgressReport,
  terminalProgress,
  terminalProgressReport,
} from './progress.js';
export { BackfillProgress, type BackfillState } from './backfill-progress.js';
export { PlatformModule } from './platform.module.js';
export { BusStartup } from './bus-startup.js';
