/**
 * What a command touches of its process: data out, diagnostics out, the
 * terminal, stdin. Commands get it as one object, so they never reach for
 * `process` themselves.
 *
 * @module
 */

import process from "node:process";

/** The process as the commands see it. */
export interface Io {
  /** Data: a token, an API answer, dry-run rows. */
  out(data: string | Uint8Array): void;
  /** Diagnostics and progress. */
  err(text: string): void;
  /** Whether stderr is a terminal that can redraw a line (a progress bar). */
  readonly errIsTTY: boolean;
  /** Whether stdout is a terminal. */
  readonly outIsTTY: boolean;
  /** The terminal's width, when stderr is one. */
  readonly columns: number | undefined;
  /** All of stdin. */
  readStdin(): Promise<Uint8Array>;
  /**
   * Calls `handler` on the first Ctrl-C (SIGINT) instead of ending the
   * process; a second one ends it as usual. Returns the function that stops
   * listening.
   */
  onInterrupt(handler: () => void): () => void;
}

/** A mistake in the command line: exit 2, with the usage text of the command. */
export class UsageError extends Error {
  /** The usage text printed after the message. */
  readonly usage: string;

  constructor(message: string, usage: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

/** A failure already worded for the user (with its fix): exit 1. */
export class Failure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Failure";
  }
}

/** `error`'s message and its causes' messages, innermost last: "fetch failed: connect ECONNREFUSED …". */
export function causes(error: unknown): string {
  const messages: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (!messages.includes(message)) messages.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return messages.join(": ");
}

/** The real process: stdout, stderr and stdin. */
export function processIo(): Io {
  const dumb = process.env.TERM === "dumb";
  return {
    out: (data) => void process.stdout.write(data),
    err: (text) => void process.stderr.write(text),
    errIsTTY: process.stderr.isTTY === true && !dumb,
    outIsTTY: process.stdout.isTTY === true,
    columns: process.stderr.columns,
    async readStdin() {
      const chunks: Uint8Array[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Uint8Array);
      const all = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.length, 0));
      let at = 0;
      for (const chunk of chunks) all.set(chunk, (at += chunk.length) - chunk.length);
      return all;
    },
    onInterrupt(handler) {
      const listener = () => {
        process.off("SIGINT", listener);
        handler();
      };
      process.on("SIGINT", listener);
      return () => void process.off("SIGINT", listener);
    },
  };
}
