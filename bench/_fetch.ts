// client.fetch against plain fetch with hard-coded headers (issue 7), one local node:http server
// for both; with references for what any wrapper that keeps the token home costs.
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createClient, MemoryCache } from "@propq/auth";
import { addToSink } from "./_cases.ts";
import { compare, type Comparison } from "./_measure.ts";

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
  for (let i = 0; i < ops; i++) addToSink((await (await send()).text()).length);
}

async function concurrentBatch(send: Send, ops: number, inFlight: number): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started++ < ops) addToSink((await (await send()).text()).length);
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
