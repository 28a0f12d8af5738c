import { envSchema, type Env, SECRET_VARIABLES } from './app-config';

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      'Invalid configuration:\n' +
        problems.map((p) => `  ${p.variable} ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; the error names each offending variable and what is wrong. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Env {
  const result = envSchema.safeParse(source);
  if (result.success) return Object.freeze(result.data);
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? 'environment');
      const received = source[variable];
      // A JSON variable (THUMBNAIL_PRESETS) says where inside it the problem is.
      const inside = issue.path.length > 1 ? `${issue.path.slice(1).map(String).join('.')}: ` : '';
      const shown = received === undefined || SECRET_VARIABLES.has(variable) ? '' : ` (got "${received.slice(0, 80)}")`;
      return { variable, message: `${inside}${issue.message}${shown}` };
    }),
  );
}

/**
 * For main.ts: a bad value must stop the process with a readable message rather than a stack
 * trace, before anything connects anywhere.
 */
export function loadConfigOrExit(source: NodeJS.ProcessEnv = process.env): Env {
  return exitOnConfigError(() => loadConfig(source));
}

/** Runs a start-up step that may throw ConfigError; on one, prints it as JSON and exits 78. */
export function exitOnConfigError<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(
      JSON.stringify({ level: 'fatal', time: Date.now(), msg: error.message, problems: error.problems }) + '\n',
    );
    process.exit(78); // EX_CONFIG
  }
}
