/**
 * One Redis command through the caller's command function: a time limit on
 * each, errors that never carry what was sent, and replies of any client
 * read the same way.
 *
 * @module
 */

/**
 * Sends one Redis command and resolves with its reply: the one function every
 * Redis client offers in some form, e.g. `["GET", "key"]` → the value or `null`.
 *
 * - node-redis: `(args) => client.sendCommand(args)`
 * - ioredis: `(args) => redis.call(args[0], ...args.slice(1))`
 * - Bun: `(args) => redis.send(args[0], args.slice(1))`
 *
 * @example The shape every client fits (a Map standing in for Redis)
 * ```ts
 * import type { RedisCommand } from "@propq/auth/redis";
 * import assert from "node:assert/strict";
 *
 * // node-redis: const command: RedisCommand = (args) => client.sendCommand(args);
 * const data = new Map([["greeting", "hello"]]);
 * const command: RedisCommand = ([name, key]) => Promise.resolve(name === "GET" ? data.get(key) ?? null : null);
 * assert.equal(await command(["GET", "greeting"]), "hello");
 * ```
 */
export type RedisCommand = (args: string[]) => Promise<unknown>;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A bulk-string reply as text: clients answer strings, Buffers or Uint8Arrays; `undefined` for anything else. */
export function replyText(reply: unknown): string | undefined {
  if (typeof reply === "string") return reply;
  if (!(reply instanceof Uint8Array)) return undefined;
  try {
    return decoder.decode(reply);
  } catch {
    return undefined;
  }
}

/** An integer reply (a script's answer): a number, or its text; `NaN` for anything else. */
export function replyNumber(reply: unknown): number {
  if (typeof reply === "number") return reply;
  if (typeof reply === "bigint") return Number(reply);
  const text = replyText(reply);
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Our own error for a failed command: clients attach the command's arguments
 * to their errors (ioredis' `command.args`), and a SET's arguments hold a
 * token, so the client's error is not passed on as `cause`; its message is,
 * with every argument and `secret` blotted out, and so is a string `code`.
 */
function commandError(args: readonly string[], error: unknown, secret?: string): Error {
  let message = describe(error);
  for (const value of [...args.slice(1), secret]) {
    if (value !== undefined && value.length >= 8) message = message.replaceAll(value, "[redacted]");
  }
  const code = (error as { code?: unknown } | null)?.code;
  const failure = new Error(`RedisCache: ${args[0]} failed: ${message}`);
  return typeof code === "string" ? Object.assign(failure, { code }) : failure;
}

/** How often overdue commands are failed: every time limit is this much coarser. */
const SWEEP_MS = 50;

interface Waiting {
  deadline: number;
  fail(): void;
}

// One timer for every command in flight, instead of one each: a timer per command cost a
// warm get() a tenth of its time. It runs only while commands wait, so it never keeps an
// idle process alive.
const waiting = new Set<Waiting>();
let sweeper: ReturnType<typeof setInterval> | undefined;

function sweep(): void {
  const now = Date.now();
  for (const entry of waiting) {
    if (entry.deadline > now) continue;
    waiting.delete(entry);
    entry.fail();
  }
  if (waiting.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * Runs `command(args)`, rejecting once `timeoutMs` passed without an answer:
 * a dead or unreachable Redis must not hang a caller. A late answer, or a
 * late failure, is dropped.
 */
export function send(command: RedisCommand, args: string[], timeoutMs: number, secret?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const entry: Waiting = {
      deadline: Date.now() + timeoutMs,
      fail: () => {
        const error = new Error(`RedisCache: ${args[0]} got no answer within ${timeoutMs} ms`);
        reject(Object.assign(error, { code: "ETIMEDOUT" }));
      },
    };
    waiting.add(entry);
    sweeper ??= setInterval(sweep, SWEEP_MS);
    let reply: Promise<unknown>;
    try {
      reply = Promise.resolve(command(args));
    } catch (error) {
      reply = Promise.reject(error);
    }
    reply.then((value) => {
      waiting.delete(entry);
      resolve(value);
    }, (error) => {
      waiting.delete(entry);
      reject(commandError(args, error, secret));
    });
  });
}

/** Lets the process exit while `timer` is pending, where the runtime allows (Node, Bun, Deno). */
export function unref(timer: unknown): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer && typeof timer.unref === "function") {
    timer.unref();
  } else if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(timer);
  }
}
