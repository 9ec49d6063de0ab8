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

/**
 * The problems found so far. A variable is reported once: a rule that involves a variable already
 * refused for its own value adds nothing (the operator fixes the value first).
 */
export class ConfigProblems {
  constructor(readonly issues: ConfigIssue[] = []) {}

  add(variable: string, message: string): void {
    if (!this.has(variable)) this.issues.push({ variable, message });
  }

  has(variable: string): boolean {
    return this.issues.some((issue) => issue.variable === variable);
  }
}
