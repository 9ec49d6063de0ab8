export { InProcessBus } from './in-process.bus.js';
export { PrefixedBus } from './prefixed.bus.js';
export { InProcessControlClient, InProcessControlContext, InProcessControlServer } from './in-process-control.transport.js';
