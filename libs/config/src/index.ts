export { type AppConfig, type ClickHouseConfig, loadConfig } from './app.config.js';
export { InvalidConfigError } from './config.errors.js';
