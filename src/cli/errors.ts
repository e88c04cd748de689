/**
 * A problem the user can fix. The CLI prints its message alone, without a
 * stack trace (unless --verbose), and exits with `exitCode`.
 */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An inspection found that a proposal is not what it claims; exit code 3, so scripts can tell. */
export class InspectionFailedError extends CliError {
  override name = 'InspectionFailedError';
  constructor(message: string) {
    super(message, 3);
  }
}
