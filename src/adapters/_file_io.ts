/**
 * File primitives of `FileCache`: where the cache lives, brief retries of
 * transient faults, and atomic replacement of a file.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { posix, win32 } from "node:path";
import process from "node:process";
import { backoff, retry } from "../_retry.ts";

const TRANSIENT = new Set(["EBUSY", "EAGAIN", "EMFILE", "ENFILE"]);
// On Windows an antivirus, an indexer or a reader mid-rename holds a file for
// a moment, and the OS reports it as EPERM or EACCES.
const TRANSIENT_ON_WINDOWS = new Set(["EPERM", "EACCES"]);
const RETRIES = 5;

/** The `code` of a Node-style file-system error, if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function isTransient(error: unknown): boolean {
  const code = errorCode(error);
  if (code === undefined) return false;
  return TRANSIENT.has(code) || (process.platform === "win32" && TRANSIENT_ON_WINDOWS.has(code));
}

/** Runs `operation`, retrying it for up to about 300 ms while it fails with a transient fault. */
export function retryTransient<T>(operation: () => Promise<T>): Promise<T> {
  return retry(operation, isTransient, (attempt) => attempt < RETRIES ? backoff(attempt, 20, 160) : undefined);
}

/** The file's text, or `undefined` when it does not exist. */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await retryTransient(() => readFile(path, "utf8"));
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Replaces the file at `path` with `text`: writes a temporary file at mode
 * 0600 next to it, then renames it over `path`, so a reader sees the old file
 * or the new one, never a part.
 */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${randomUUID()}.tmp`;
  try {
    const handle = await retryTransient(() => open(temp, "wx", 0o600));
    try {
      await handle.writeFile(text, "utf8");
      // Without it, a crash right after the rename can leave an empty file on some file systems.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await retryTransient(() => rename(temp, path));
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/**
 * The user's cache directory: `XDG_CACHE_HOME` when set to an absolute path,
 * else `%LOCALAPPDATA%` on Windows, `~/Library/Caches` on macOS and `~/.cache`
 * elsewhere. The home directory is `HOME` (`USERPROFILE` on Windows), else
 * `homedir()`.
 */
export function userCacheDir(
  platform: string,
  env: Record<string, string | undefined>,
  homedir: () => string,
): string {
  const path = platform === "win32" ? win32 : posix;
  // Reading the variable first spares Deno users --allow-sys, which homedir() needs there.
  const home = () => (platform === "win32" ? env.USERPROFILE : env.HOME) || homedir();
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return xdg;
  if (platform === "win32") {
    const local = env.LOCALAPPDATA;
    return local && path.isAbsolute(local) ? local : path.join(home(), "AppData", "Local");
  }
  if (platform === "darwin") return path.join(home(), "Library", "Caches");
  return path.join(home(), ".cache");
}
