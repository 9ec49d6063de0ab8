export { InProcessBus } from './in-process.bus.js';
export { PrefixedBus } from './prefixed.bus.js';
