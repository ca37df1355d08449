/**
 * File primitives of `FileCache`: where the cache lives, brief retries of
 * transient faults, reading only what is safe to read, atomic replacement of
 * a file, and removal of what a killed writer left behind.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, lstat, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, posix, win32 } from "node:path";
import process from "node:process";
import { backoff, retry } from "../_retry.ts";

const TRANSIENT = new Set(["EBUSY", "EAGAIN", "EMFILE", "ENFILE"]);
// On Windows an antivirus, an indexer or a reader mid-rename holds a file for
// a moment, and the OS reports it as EPERM or EACCES.
const TRANSIENT_ON_WINDOWS = new Set(["EPERM", "EACCES"]);
const RETRIES = 5;

// Windows has neither flag: there a symlink is refused after an lstat, and FIFOs do not live at file paths.
const { O_RDONLY = 0, O_NOFOLLOW, O_NONBLOCK = 0 } = constants;
const SAFE_READ = O_RDONLY | (O_NOFOLLOW ?? 0) | O_NONBLOCK;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The `code` of a Node-style file-system error, if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function fault(code: string, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
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

/** A file's text and when it was last modified. */
export interface FileText {
  text: string;
  mtimeMs: number;
}

async function openForReading(path: string): Promise<FileHandle> {
  if (O_NOFOLLOW === undefined && (await lstat(path)).isSymbolicLink()) {
    throw fault("ELOOP", `${path} is a symbolic link`);
  }
  try {
    return await open(path, SAFE_READ);
  } catch (error) {
    // O_NOFOLLOW on a symlink: ELOOP on Linux and macOS, EMLINK on FreeBSD.
    const code = errorCode(error);
    if (code === "ELOOP" || code === "EMLINK") throw fault("ELOOP", `${path} is a symbolic link`, error);
    throw error;
  }
}

/**
 * The text of the regular file at `path` and its mtime, or `undefined` when
 * nothing is there. Never follows a symlink, never blocks on a FIFO or a
 * device, never reads more than `maxBytes`: anything else rejects, with code
 * `ELOOP` (a symlink), `EFTYPE` (not a regular file) or `EFBIG` (too large).
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<FileText | undefined> {
  let handle: FileHandle;
  try {
    handle = await retryTransient(() => openForReading(path));
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw fault("EFTYPE", `${path} is not a regular file`);
    if (info.size > maxBytes) throw fault("EFBIG", `${path} holds ${info.size} bytes, more than ${maxBytes}`);
    // One byte more than allowed tells a file that grew since fstat.
    const buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) throw fault("EFBIG", `${path} holds more than ${maxBytes} bytes`);
      if (length === buffer.length) break;
    }
    return { text: new TextDecoder().decode(buffer.subarray(0, length)), mtimeMs: info.mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * Replaces the file at `path` with `text`: writes a temporary file at mode
 * 0600 next to it (`<name>.<uuid>.tmp`), then renames it over `path`, so a
 * reader sees the old file or the new one, never a part.
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
 * Removes the temporary files of {@linkcode writeAtomic} for `path` that are
 * older than `ageMs`: a writer killed mid-write leaves one behind, holding a
 * live token. Only names of that exact form (`<name>.<uuid>.tmp`, a regular
 * file) are touched. Call it under the lock that serialises writes.
 */
export async function removeStaleTemps(path: string, ageMs: number): Promise<void> {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch (error) {
    if (errorCode(error) === "ENOENT") return;
    throw error;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(".tmp") || !UUID.test(name.slice(prefix.length, -4))) continue;
    const temp = join(dirname(path), name);
    try {
      const info = await lstat(temp);
      // abs: after the clock was set back, an old orphan's mtime lies in the future.
      if (info.isFile() && Math.abs(Date.now() - info.mtimeMs) >= ageMs) await unlink(temp);
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw error;
    }
  }
}

/** The permission bits of directory `dir`, or `undefined` when it does not exist. */
export async function directoryMode(dir: string): Promise<number | undefined> {
  try {
    return (await stat(dir)).mode & 0o7777;
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
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
