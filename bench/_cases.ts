// The in-process cases of issue 7, runtime-neutral: bench.ts runs them on Deno against the sources,
// node.ts (bundled into bench/.tmp/node/) on Node against the built npm package. The other cases
// live beside this file: _fetch.ts, _fleet.ts, _cold_import.ts, _lifecycle.ts.
// Each case measures a baseline in the same run; ratios are the figures that count.
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, MemoryCache, type PropQClient } from "@propq/auth";
import { FileCache } from "@propq/auth/file";
import { KvCache, type KvLike } from "@propq/auth/kv";
import { startTestServer } from "@propq/auth/testing";
import { compare, type Comparison } from "./_measure.ts";

/** A KV handle that can be closed, as Deno.openKv and @deno/kv's openKv return. */
export interface OpenKv extends KvLike {
  close(): void;
}

/** A scratch directory under the OS temp dir, removed by the caller. */
export function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), "propq-auth-bench-"));
}

let sink = 0;

/** What the loops accumulated: read by the suite at the end, so the optimiser cannot drop their work. */
export function sinkValue(): number {
  return sink;
}
/** Adds to what the loops accumulated. */
export function addToSink(value: number): void {
  sink += value;
}

// ---------------------------------------------------------------------------------------------
// Cached getToken() against the floor: a module-level token returned from an async function.

const FLOOR_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJhdWQiOiIxIiwianRpIjoxfQ.floor";

// deno-lint-ignore require-await -- the floor is exactly this: an async function returning a module-level token
async function floorGetToken(): Promise<string> {
  return FLOOR_TOKEN;
}

// One loop per side, so neither call site sees the other's function.
async function floorBatch(ops: number): Promise<void> {
  for (let i = 0; i < ops; i++) sink += (await floorGetToken()).length;
}

async function getTokenBatch(client: PropQClient, ops: number): Promise<void> {
  for (let i = 0; i < ops; i++) sink += (await client.getToken()).length;
}

/** Cached `client.getToken()` vs the floor, per awaited call. Target <= 1.5x. */
export async function benchGetToken(): Promise<Comparison> {
  const server = await startTestServer();
  try {
    const client = createClient({
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      tokenUrl: server.tokenUrl,
      baseUrl: server.baseUrl,
      cache: new MemoryCache(),
    });
    await client.getToken();
    const ops = 20_000;
    return await compare(() => floorBatch(ops), () => getTokenBatch(client, ops), {
      ops,
      rounds: 150,
      warmup: 20,
      maxMs: 6_000,
    });
  } finally {
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Warm reads of the adapters against the raw storage read they wrap.

const STORED = { accessToken: `${FLOOR_TOKEN}.${"x".repeat(200)}`, expiresAt: Date.now() + 3_600_000 };

async function readsBatch(read: () => Promise<unknown>, ops: number): Promise<void> {
  for (let i = 0; i < ops; i++) if (await read() !== undefined) sink++;
}

/** A cache's warm read against the bare read it is built on, 50 reads a batch. */
function compareReads(bare: () => Promise<unknown>, cached: () => Promise<unknown>): Promise<Comparison> {
  const ops = 50;
  return compare(() => readsBatch(bare, ops), () => readsBatch(cached, ops), {
    ops,
    rounds: 80,
    warmup: 5,
    maxMs: 4_000,
  });
}

/** `FileCache.get` on a warm file vs `readFile` + `JSON.parse` of that file. */
export async function benchFileRead(): Promise<Comparison> {
  const dir = scratchDir();
  try {
    const cache = new FileCache(join(dir, "tokens.json"));
    await cache.set("bench-key", STORED);
    if ((await cache.get("bench-key"))?.accessToken !== STORED.accessToken) throw new Error("FileCache: no hit");
    const raw = () => readFile(cache.path, "utf8").then((text) => JSON.parse(text));
    return await compareReads(raw, () => cache.get("bench-key"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `KvCache.get` on a warm sqlite KV file vs `kv.get` + decode of an entry of the same size. */
export async function benchKvRead(openKv: (path: string) => Promise<OpenKv>): Promise<Comparison> {
  const dir = scratchDir();
  const kv = await openKv(join(dir, "tokens.sqlite3"));
  try {
    const cache = new KvCache(kv);
    await cache.set("bench-key", STORED);
    if ((await cache.get("bench-key"))?.accessToken !== STORED.accessToken) throw new Error("KvCache: no hit");
    const rawKey = ["bench", "raw"];
    await kv.set(rawKey, new TextEncoder().encode(JSON.stringify(STORED)));
    const decoder = new TextDecoder();
    const raw = () => kv.get(rawKey).then((entry) => JSON.parse(decoder.decode(entry.value as Uint8Array)));
    return await compareReads(raw, () => cache.get("bench-key"));
  } finally {
    kv.close();
    await rm(dir, { recursive: true, force: true });
  }
}
