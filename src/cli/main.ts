/**
 * Work in progress (issue 14): replaced by the command line before this lands.
 *
 * @module
 */

/** Placeholder until the CLI lands. */
export const CLI_PENDING = true;
