/** Injection tokens for the infrastructure every service shares. */
export const APP_CONFIG = Symbol('APP_CONFIG');
export const LOGGER = Symbol('LOGGER');
export const MESSAGE_BUS = Symbol('MESSAGE_BUS');
export const CLICKHOUSE = Symbol('CLICKHOUSE');
/** The control plane (`ControlPlane`): `@nestjs/microservices` events every process receives. */
export const CONTROL_PLANE = Symbol('CONTROL_PLANE');
