/** A configuration fault: the server refuses to start and says which key, on which line. */
export type ConfigErrorCode = 'io' | 'syntax' | 'invalid' | 'unknown-key';

export class ConfigError extends Error {
  constructor(
    readonly code: ConfigErrorCode,
    readonly file: string,
    /** Dotted key path, e.g. "otp.window" or "client[2].secret"; '' for the whole file. */
    readonly key: string,
    /** 1-based line in the file, 0 when unknown. */
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${key ? `${key}: ` : ''}${reason}`);
    this.name = 'ConfigError';
  }
}
