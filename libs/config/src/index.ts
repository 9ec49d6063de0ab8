export { type AppConfig, type ClickHouseConfig, loadConfig, type Part, partsOf } from './app.config.js';
export { InvalidConfigError } from './config.errors.js';
