// The token lifecycle under load (issue 12), runtime-neutral like _cases.ts: the worst request
// latency of a steady stream of authed requests across many background refreshes, against the same
// stream with a long-lived token; and what callers see while the token endpoint is down.
import { createClient, MemoryCache, type PropQAuthEvent, type PropQClient } from "@propq/auth";
import { startTestServer, type TestServer } from "@propq/auth/testing";
import { median, quantile } from "./_measure.ts";

// Any path other than the token endpoint and `/` is checked for the token, then answered 404: a
// 404 is an authed request served, a 401 a token the server refused.
const PATH = "/v1/ping";
/** Token lifetime of the refresh runs: refresh window 2 s (half the life), min validity 1 s. */
export const BOUNDARY_LIFETIME_S = 4;
/** Token lifetime of the outage run: refresh window 3 s, min validity 1.5 s. */
export const OUTAGE_LIFETIME_S = 6;
// Every stream is bounded by its duration and this count; a server that stops answering is closed
// after the duration plus this margin, which ends the stream.
const MAX_REQUESTS = 500_000;
const WATCHDOG_MARGIN_MS = 30_000;
// More 503s than the outage can ask for (the refresh is retried with backoff, not per call).
const OUTAGE_SCRIPT = 500;

/** Which client a stream uses. */
export type ArmName = "long-lived token" | "refresh ahead" | "no refresh ahead";

/** One arm of {@linkcode benchRefreshBoundary}, over all its rounds. */
export interface BoundaryArm {
  name: ArmName;
  /** Median over the rounds of the worst request latency, ms. */
  maxMs: number;
  /** The worst request latency of all rounds, ms. */
  worstMs: number;
  /** The worst request latency of each round, ms. */
  roundMaxMs: number[];
  /** Median over the rounds of the 99th percentile latency, ms. */
  p99Ms: number;
  /** Median over the rounds of (this arm's max / the long-lived arm's max in the same round). */
  ratio?: number;
  q1?: number;
  q3?: number;
  /** The same for the 99th percentiles. */
  p99Ratio?: number;
  /** Requests sent, all rounds. */
  requests: number;
  /** Token requests during each round's stream (the first token, fetched before it, excluded). */
  tokenRequests: number[];
  /** Of those, made while a caller waited (`token` events with `background: false`), all rounds. */
  foreground: number;
  /** Requests that took at least the token endpoint's delay, all rounds: they waited for it. */
  slow: number;
  /** 401 answers (`unauthorized` events), all rounds: the server refused a token the client sent. */
  unauthorized: number;
  /** Requests that threw or were answered 401, all rounds. */
  failed: number;
}

/** What {@linkcode benchRefreshBoundary} measured. */
export interface BoundaryResult {
  tokenDelayMs: number;
  lifetimeS: number;
  /** Length of each stream, ms. */
  streamMs: number;
  rounds: number;
  /** The long-lived arm first: the baseline of the others. */
  arms: BoundaryArm[];
}

interface StreamRun {
  latencies: number[];
  failed: number;
  tokenRequests: number;
  foreground: number;
  unauthorized: number;
}

function clientFor(server: TestServer, onEvent: (event: PropQAuthEvent) => void, extra: object): PropQClient {
  return createClient({
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    tokenUrl: server.tokenUrl,
    baseUrl: server.baseUrl,
    cache: new MemoryCache(),
    onEvent,
    ...extra,
  });
}

/** One authed request, answered and read; `false` when it threw or the token was refused. */
async function authed(client: PropQClient): Promise<boolean> {
  try {
    const response = await client.fetch(PATH);
    await response.arrayBuffer();
    return response.status !== 401;
  } catch {
    return false;
  }
}

/** A fresh server and client; the first token is fetched, then requests run back to back for `ms`. */
async function streamRun(arm: ArmName, tokenDelayMs: number, lifetimeS: number, ms: number): Promise<StreamRun> {
  const server = await startTestServer({
    tokenDelayMs,
    ...(arm === "long-lived token" ? {} : { expiresIn: lifetimeS }),
  });
  const watchdog = setTimeout(() => void server.close(), ms + WATCHDOG_MARGIN_MS);
  let foreground = 0;
  let unauthorized = 0;
  const onEvent = (event: PropQAuthEvent) => {
    if (event.type === "token" && !event.background) foreground++;
    if (event.type === "unauthorized") unauthorized++;
  };
  try {
    const client = clientFor(server, onEvent, arm === "no refresh ahead" ? { refreshWindowSeconds: 0 } : {});
    await client.getToken();
    const before = server.tokenRequests;
    foreground = 0;
    const latencies: number[] = [];
    let failed = 0;
    const end = performance.now() + ms;
    while (performance.now() < end && latencies.length < MAX_REQUESTS) {
      const started = performance.now();
      if (!await authed(client)) failed++;
      latencies.push(performance.now() - started);
    }
    return { latencies, failed, tokenRequests: server.tokenRequests - before, foreground, unauthorized };
  } finally {
    clearTimeout(watchdog);
    await server.close();
  }
}

/**
 * Sequential `client.fetch` for `streamMs` against the bundled server with a `tokenDelayMs` token
 * endpoint: tokens living `lifetimeS` with the default refresh ahead, the same without it
 * (`refreshWindowSeconds: 0`), and a 30-day token (the baseline: no refresh at all). The three
 * arms run in turn in every round, the order reversed every other round, each on a fresh server
 * and client; per-round ratios of the worst latencies, and their median, are the figures.
 */
export async function benchRefreshBoundary(
  rounds = 4,
  streamMs = 4_600,
  tokenDelayMs = 200,
  lifetimeS = BOUNDARY_LIFETIME_S,
): Promise<BoundaryResult> {
  const names: ArmName[] = ["long-lived token", "refresh ahead", "no refresh ahead"];
  for (const name of names) await streamRun(name, 0, lifetimeS, 500); // warm-up: code paths and JIT
  const runs = new Map<ArmName, StreamRun[]>(names.map((name) => [name, []]));
  for (let i = 0; i < rounds; i++) {
    for (const name of i % 2 === 0 ? names : [...names].reverse()) {
      runs.get(name)!.push(await streamRun(name, tokenDelayMs, lifetimeS, streamMs));
    }
  }
  const maxOf = (run: StreamRun) => Math.max(...run.latencies);
  const p99Of = (run: StreamRun) => quantile(run.latencies, 0.99);
  const base = runs.get("long-lived token")!;
  const arms = names.map((name): BoundaryArm => {
    const list = runs.get(name)!;
    const sum = (pick: (run: StreamRun) => number) => list.reduce((total, run) => total + pick(run), 0);
    const arm: BoundaryArm = {
      name,
      maxMs: median(list.map(maxOf)),
      worstMs: Math.max(...list.map(maxOf)),
      roundMaxMs: list.map(maxOf),
      p99Ms: median(list.map(p99Of)),
      requests: sum((run) => run.latencies.length),
      tokenRequests: list.map((run) => run.tokenRequests),
      foreground: sum((run) => run.foreground),
      slow: sum((run) => run.latencies.filter((ms) => ms >= tokenDelayMs).length),
      unauthorized: sum((run) => run.unauthorized),
      failed: sum((run) => run.failed),
    };
    if (name !== "long-lived token") {
      const ratios = list.map((run, round) => maxOf(run) / maxOf(base[round]));
      arm.ratio = median(ratios);
      arm.q1 = quantile(ratios, 0.25);
      arm.q3 = quantile(ratios, 0.75);
      arm.p99Ratio = median(list.map((run, round) => p99Of(run) / p99Of(base[round])));
    }
    return arm;
  });
  return { tokenDelayMs, lifetimeS, streamMs, rounds, arms };
}

// ---------------------------------------------------------------------------------------------
// Outage: the token endpoint answers 503 to every request after the first token.

/** The calls that started in one phase of the token's life. */
export interface PhaseCalls {
  calls: number;
  failed: number;
  /** The slowest call of the phase, ms. */
  maxMs: number;
}

/** What {@linkcode benchOutage} measured. */
export interface OutageResult {
  lifetimeS: number;
  /** Seconds before expiry at which the refresh window opens and the token stops being served. */
  windowS: number;
  minValidityS: number;
  /** Before the refresh window: the held token, no refresh due. */
  held: PhaseCalls;
  /** In the refresh window, before the min validity: every background refresh fails. */
  window: PhaseCalls;
  /** The last `minValidityS` before expiry: the token is not served by design, callers ask the endpoint. */
  minValidity: PhaseCalls;
  /** Token requests after the first token (all answered 503). */
  tokenRequests: number;
  /** Of those, sent in the refresh window (background refreshes and their retries). */
  windowTokenRequests: number;
  /** `refresh_failed` events in the refresh window. */
  refreshFailed: number;
  /** Seconds before expiry at which the first call failed. */
  firstFailureBeforeExpiryS?: number;
}

function phase(): PhaseCalls {
  return { calls: 0, failed: 0, maxMs: 0 };
}

/**
 * A token living `lifetimeS` with the default refresh window and min validity; once it is held,
 * the token endpoint answers 503 to every request. Sequential `client.fetch` calls run until the
 * token expires, counted by the phase of the token's life they started in.
 */
export async function benchOutage(lifetimeS = OUTAGE_LIFETIME_S): Promise<OutageResult> {
  const server = await startTestServer({ expiresIn: lifetimeS });
  const watchdog = setTimeout(() => void server.close(), lifetimeS * 1000 + WATCHDOG_MARGIN_MS);
  let refreshFailed = 0;
  try {
    const onEvent = (event: PropQAuthEvent) => {
      if (event.type === "refresh_failed") refreshFailed++;
    };
    const client = clientFor(server, onEvent, {});
    const { refreshAt, expiresAt } = await client.getTokenInfo();
    // src/_token_timing.ts with the default minValiditySeconds (30): at most half the window.
    const windowMs = expiresAt - refreshAt;
    const usableUntil = expiresAt - Math.min(30_000, windowMs / 2);
    server.scriptToken(...Array.from({ length: OUTAGE_SCRIPT }, () => ({ status: 503, body: { message: "down" } })));
    const before = server.tokenRequests;
    const result: OutageResult = {
      lifetimeS,
      windowS: windowMs / 1000,
      minValidityS: (expiresAt - usableUntil) / 1000,
      held: phase(),
      window: phase(),
      minValidity: phase(),
      tokenRequests: 0,
      windowTokenRequests: 0,
      refreshFailed: 0,
    };
    // Token requests and refresh_failed events up to the end of the window: all background refreshes.
    let windowEnd: { tokenRequests: number; refreshFailed: number } | undefined;
    for (let n = 0; Date.now() < expiresAt && n < MAX_REQUESTS; n++) {
      const at = Date.now();
      const bucket = at < refreshAt ? result.held : at < usableUntil ? result.window : result.minValidity;
      if (bucket === result.minValidity) windowEnd ??= { tokenRequests: server.tokenRequests, refreshFailed };
      const started = performance.now();
      const ok = await authed(client);
      const ms = performance.now() - started;
      bucket.calls++;
      bucket.maxMs = Math.max(bucket.maxMs, ms);
      if (!ok) {
        bucket.failed++;
        result.firstFailureBeforeExpiryS ??= (expiresAt - at) / 1000;
      }
    }
    result.tokenRequests = server.tokenRequests - before;
    result.windowTokenRequests = (windowEnd?.tokenRequests ?? server.tokenRequests) - before;
    result.refreshFailed = windowEnd?.refreshFailed ?? refreshFailed;
    if (result.tokenRequests >= OUTAGE_SCRIPT) throw new Error("outage: the scripted 503s ran out");
    return result;
  } finally {
    clearTimeout(watchdog);
    await server.close();
  }
}
