// The measurements of issue 7, runtime-neutral: bench.ts runs them on Deno against the sources,
// node.ts (bundled into bench/.tmp/node/) on Node against the built npm package.
// Each case measures a baseline in the same run; ratios are the figures that count.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, MemoryCache, type PropQClient } from "@propq/auth";
import { FileCache } from "@propq/auth/file";
import { KvCache, type KvLike } from "@propq/auth/kv";
import { startTestServer } from "@propq/auth/testing";
import { compare, type Comparison, median, turn } from "./_measure.ts";

/** Every figure of one runtime's run, as written to RESULTS.md. */
export interface RuntimeResults {
  runtime: string;
  getToken?: Comparison;
  fetch?: FetchResults;
  stampede?: StampedeResult[];
  fleet?: FleetResult[];
  fileRead?: Comparison;
  kvRead?: Comparison;
  coldImport?: ColdImportResult;
  errors: string[];
}

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
// client.fetch against plain fetch with hard-coded headers, one local node:http server for both.

interface LocalApi {
  baseUrl: string;
  close(): Promise<void>;
}

const API_TOKEN = "bench-token-0123456789abcdef";
const API_BODY = '{"success":true}';

/** The smallest server that plays PropQ: a token at /oauth/token, a tiny JSON answer elsewhere. */
async function startLocalApi(): Promise<LocalApi> {
  const tokenBody = JSON.stringify({ token_type: "Bearer", expires_in: 2592000, access_token: API_TOKEN });
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const body = req.url === "/oauth/token" ? tokenBody : API_BODY;
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

type Send = () => Promise<Response>;

async function sequentialBatch(send: Send, ops: number): Promise<void> {
  for (let i = 0; i < ops; i++) sink += (await (await send()).text()).length;
}

async function concurrentBatch(send: Send, ops: number, inFlight: number): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started++ < ops) sink += (await (await send()).text()).length;
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

/** The figures of {@linkcode benchFetch}. */
export interface FetchResults {
  /** client.fetch vs plain fetch, one request at a time. Target <= 1.03x. */
  sequential: Comparison;
  /** The same with 50 requests in flight. Target <= 1.05x. */
  concurrent: Comparison;
  /** Reference: plain fetch with `redirect: "manual"`, which keeping the token home requires. */
  manualRedirect: Comparison;
  /** Reference: the least any such wrapper does: an async function, a held token, that init. */
  minimalWrapper: Comparison;
  /**
   * The wrappers' own work without the network: client.fetch and the least wrapper over a transport
   * that answers at once, `minimalWrapper`'s per-call time as the baseline.
   */
  ownWork: Comparison;
}

/** `client.fetch` vs `fetch` with the same three headers, sequential and 50 in flight. */
export async function benchFetch(): Promise<FetchResults> {
  const api = await startLocalApi();
  try {
    const client = createClient({
      clientId: 42,
      clientSecret: "bench-secret",
      tokenUrl: `${api.baseUrl}/oauth/token`,
      baseUrl: api.baseUrl,
      cache: new MemoryCache(),
    });
    const url = `${api.baseUrl}/v1/ping`;
    // Like for like: the three headers client.fetch adds, hard-coded.
    const plain: Send = () =>
      fetch(url, {
        headers: {
          authorization: `Bearer ${API_TOKEN}`,
          "content-type": "application/json",
          accept: "application/json",
        },
      });
    const authed: Send = () => client.fetch("/v1/ping");
    const manual: Send = () =>
      fetch(url, {
        headers: {
          authorization: `Bearer ${API_TOKEN}`,
          "content-type": "application/json",
          accept: "application/json",
        },
        redirect: "manual",
      });
    const held = Promise.resolve(API_TOKEN);
    const minimal: Send = async () => {
      const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
      headers.authorization = `Bearer ${await held}`;
      const response = await fetch(url, { method: "GET", headers, redirect: "manual" });
      if (response.status === 401) throw new Error("unexpected 401");
      return response;
    };
    if ((await (await authed()).text()) !== API_BODY) throw new Error("client.fetch: unexpected answer");

    // Small batches, many rounds: each round's pair runs within a few ms of each other.
    const seqOps = 20;
    const seq = (send: Send) => () => sequentialBatch(send, seqOps);
    const seqOptions = { ops: seqOps, rounds: 400, warmup: 10, maxMs: 10_000, yieldBetween: false };
    const sequential = await compare(seq(plain), seq(authed), seqOptions);
    const manualRedirect = await compare(seq(plain), seq(manual), { ...seqOptions, rounds: 200, maxMs: 4_000 });
    const minimalWrapper = await compare(seq(plain), seq(minimal), { ...seqOptions, rounds: 200, maxMs: 4_000 });
    const answer = new Response(API_BODY);
    const instant = (() => Promise.resolve(answer)) as unknown as typeof fetch;
    const offlineFetch = createClient({
      clientId: 42,
      clientSecret: "bench-secret",
      tokenUrl: `${api.baseUrl}/oauth/token`,
      baseUrl: api.baseUrl,
      cache: new MemoryCache(),
      fetch: ((input: string | URL | Request, init?: RequestInit) =>
        String(input).endsWith("/oauth/token") ? fetch(input, init) : instant(input, init)) as typeof fetch,
    });
    await offlineFetch.getToken(); // over the network, once
    const minimalOffline: Send = async () => {
      const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
      headers.authorization = `Bearer ${await held}`;
      const response = await instant(url, { method: "GET", headers, redirect: "manual" });
      if (response.status === 401) throw new Error("unexpected 401");
      return response;
    };
    const batch = (send: () => Promise<unknown>) => async () => {
      for (let i = 0; i < 1_000; i++) await send();
    };
    const ownWork = await compare(batch(minimalOffline), batch(() => offlineFetch.fetch("/v1/ping")), {
      ops: 1_000,
      rounds: 60,
      warmup: 5,
      maxMs: 3_000,
      yieldBetween: false,
    });
    const conOps = 200;
    const concurrent = await compare(
      () => concurrentBatch(plain, conOps, 50),
      () => concurrentBatch(authed, conOps, 50),
      { ops: conOps, rounds: 100, warmup: 5, maxMs: 8_000, yieldBetween: false },
    );
    return { sequential, concurrent, manualRedirect, minimalWrapper, ownWork };
  } finally {
    await api.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Stampede: many concurrent callers on a cold cache, in one process.

/** One stampede setting: token requests made, and its time against one cold call's. */
export interface StampedeResult {
  label: string;
  tokenDelayMs: number;
  calls: number;
  clients: number;
  /** Token requests of each repetition (target: all 1). */
  tokenRequests: number[];
  /** Median ms until every caller has its token. */
  ms: number;
  /** Median ms of a single cold call on the same endpoint: the baseline. */
  singleMs: number;
  ratio: number;
  /** Distinct tokens handed out, summed over repetitions (target: the number of repetitions). */
  distinct: number;
}

async function coldCalls(calls: number, clients: number, tokenDelayMs: number) {
  const server = await startTestServer({ tokenDelayMs });
  try {
    const options = {
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      tokenUrl: server.tokenUrl,
      baseUrl: server.baseUrl,
      cache: new MemoryCache(),
    };
    const pool = Array.from({ length: clients }, () => createClient(options));
    const started = performance.now();
    const tokens = await Promise.all(Array.from({ length: calls }, (_, i) => pool[i % clients].getToken()));
    const ms = performance.now() - started;
    return { ms, tokenRequests: server.tokenRequests, distinct: new Set(tokens).size };
  } finally {
    await server.close();
  }
}

/** 1000 concurrent `getToken()` calls on a cold cache against one cold call, interleaved. */
export async function benchStampede(
  label: string,
  calls: number,
  clients: number,
  tokenDelayMs: number,
  repetitions: number,
): Promise<StampedeResult> {
  await coldCalls(1, 1, 0); // warm-up: code paths, not caches (each run has its own)
  const many: number[] = [];
  const single: number[] = [];
  const tokenRequests: number[] = [];
  let distinct = 0;
  for (let i = 0; i < repetitions; i++) {
    single.push((await coldCalls(1, 1, tokenDelayMs)).ms);
    const run = await coldCalls(calls, clients, tokenDelayMs);
    many.push(run.ms);
    tokenRequests.push(run.tokenRequests);
    distinct += run.distinct;
  }
  const ms = median(many);
  const singleMs = median(single);
  return { label, tokenDelayMs, calls, clients, tokenRequests, ms, singleMs, ratio: ms / singleMs, distinct };
}

// ---------------------------------------------------------------------------------------------
// Fleet stampede: separate OS processes starting cold on one shared cache.

/** Which cache the processes of a fleet share. */
export type FleetKind = "memory" | "file" | "kv";

/** Starts one fleet member: `_fleet_member.ts KIND PATH TOKEN_URL` with the credentials in `env`. */
export type SpawnMember = (args: string[], env: Record<string, string>) => ChildProcess;

/** One fleet setting. */
export interface FleetResult {
  kind: FleetKind;
  tokenDelayMs: number;
  processes: number;
  /** Token requests of each repetition: 1 is the target for file and kv; memory is the uncoordinated baseline. */
  tokenRequests: number[];
  /** Median ms from spawning the fleet to the last process holding a token. */
  allMs: number;
  /** Median of the same for the uncoordinated baseline (memory caches), set by benchFleet. */
  baselineMs?: number;
  ratio?: number;
  /** Processes that did not print a token, summed over repetitions. */
  failures: number;
  /** Distinct tokens per repetition (target 1 for file and kv). */
  distinct: number[];
}

interface FleetRun {
  tokenRequests: number;
  allMs: number;
  failures: number;
  distinct: number;
}

function runMember(child: ChildProcess, started: number, timeoutMs: number) {
  return new Promise<{ at?: number; token?: string; stderr: string }>((resolve) => {
    let out = "";
    let stderr = "";
    let at: number | undefined;
    let token: string | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const line = out.split("\n").find((text) => text.startsWith("{"));
      if (at === undefined && line !== undefined && out.includes("\n")) {
        at = performance.now() - started;
        try {
          token = JSON.parse(line).token;
        } catch {
          token = undefined;
        }
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
    child.on("close", () => {
      clearTimeout(timer);
      resolve({ at, token, stderr });
    });
  });
}

async function fleetRun(kind: FleetKind, tokenDelayMs: number, size: number, spawn: SpawnMember): Promise<FleetRun> {
  const server = await startTestServer({ tokenDelayMs });
  const dir = scratchDir();
  try {
    const path = kind === "kv" ? join(dir, "tokens.sqlite3") : join(dir, "cache", "tokens.json");
    const env = { PROPQ_CLIENT_ID: String(server.clientId), PROPQ_CLIENT_SECRET: server.clientSecret };
    const started = performance.now();
    const members = Array.from({ length: size }, () => spawn([kind, path, server.tokenUrl], env));
    const results = await Promise.all(members.map((child) => runMember(child, started, 30_000)));
    const failed = results.filter((result) => result.token === undefined);
    if (failed.length > 0 && failed[0].stderr) {
      console.error(`fleet ${kind}: ${failed.length} failed; first stderr: ${failed[0].stderr.slice(0, 500)}`);
    }
    const times = results.map((result) => result.at ?? Infinity);
    return {
      tokenRequests: server.tokenRequests,
      allMs: Math.max(...times),
      failures: failed.length,
      distinct: new Set(results.map((result) => result.token).filter(Boolean)).size,
    };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * 8 processes start at once on a cold cache: memory (each its own: the uncoordinated baseline),
 * FileCache and KvCache. Kinds alternate within each repetition.
 */
export async function benchFleet(
  kinds: FleetKind[],
  tokenDelayMs: number,
  repetitions: number,
  spawn: SpawnMember,
  size = 8,
): Promise<FleetResult[]> {
  const runs = new Map<FleetKind, FleetRun[]>(kinds.map((kind) => [kind, []]));
  for (let i = 0; i < repetitions; i++) {
    const order = i % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) runs.get(kind)!.push(await fleetRun(kind, tokenDelayMs, size, spawn));
  }
  const results = kinds.map((kind): FleetResult => {
    const list = runs.get(kind)!;
    return {
      kind,
      tokenDelayMs,
      processes: size,
      tokenRequests: list.map((run) => run.tokenRequests),
      allMs: median(list.map((run) => run.allMs)),
      failures: list.reduce((sum, run) => sum + run.failures, 0),
      distinct: list.map((run) => run.distinct),
    };
  });
  const baseline = results.find((result) => result.kind === "memory");
  for (const result of results) {
    if (baseline === undefined) continue;
    result.baselineMs = baseline.allMs;
    result.ratio = result.allMs / baseline.allMs;
  }
  return results;
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

// ---------------------------------------------------------------------------------------------
// Cold import: a fresh process that imports the package against one that imports nothing.

/** Cold import figures. */
export interface ColdImportResult {
  /** Median wall ms of a process that imports the module, from spawn to exit. */
  withMs: number;
  /** Median wall ms of the same process importing nothing. */
  withoutMs: number;
  ratio: number;
  /** Median ms the `import()` itself took inside the process. */
  importMs: number;
  rounds: number;
}

/** Starts the import probe: with `true`, it imports the package; else it imports nothing. */
export type SpawnProbe = (load: boolean) => ChildProcess;

function runProbe(child: ChildProcess): Promise<{ ms: number; importMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let out = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => out += chunk);
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`import probe exited ${code}: ${stderr.slice(0, 500)}`));
      resolve({ ms, importMs: Number(JSON.parse(out.trim()).importMs) });
    });
  });
}

/** Alternates probe processes with and without the import, `rounds` of each after one warm-up each. */
export async function benchColdImport(spawn: SpawnProbe, rounds = 16): Promise<ColdImportResult> {
  await runProbe(spawn(false));
  await runProbe(spawn(true));
  const withMs: number[] = [];
  const withoutMs: number[] = [];
  const ratios: number[] = [];
  const importMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const first = i % 2 === 0;
    const a = await runProbe(spawn(first));
    const b = await runProbe(spawn(!first));
    const loaded = first ? a : b;
    const bare = first ? b : a;
    withMs.push(loaded.ms);
    withoutMs.push(bare.ms);
    ratios.push(loaded.ms / bare.ms);
    importMs.push(loaded.importMs);
    await turn();
  }
  return {
    withMs: median(withMs),
    withoutMs: median(withoutMs),
    ratio: median(ratios),
    importMs: median(importMs),
    rounds,
  };
}
