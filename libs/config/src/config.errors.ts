export interface ConfigIssue {
  variable: string;
  message: string;
}

/** Thrown once at start-up with every bad variable, so an operator fixes them all in one go. */
export class InvalidConfigError extends Error {
  override name = 'InvalidConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    super(`Invalid environment variables:\n${issues.map((i) => `  - ${i.variable}: ${i.message}`).join('\n')}`);
  }
}
