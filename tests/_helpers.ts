// Shared set-up for the core tests: a local PropQ server and a client wired to it.
import { type ClientOptions, createClient, MemoryCache, type PropQClient, type TokenCache } from "@propq/auth";
import { startTestServer, type TestServer, type TestServerOptions } from "@propq/auth/testing";

/** A local PropQ server and a client of its own (a fresh MemoryCache, fast retries). */
export interface Setup {
  server: TestServer;
  client: PropQClient;
  options: ClientOptions;
}

export async function setup(
  clientOptions: ClientOptions = {},
  serverOptions: TestServerOptions = {},
): Promise<Setup> {
  const server = await startTestServer(serverOptions);
  const options: ClientOptions = {
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    tokenUrl: server.tokenUrl,
    baseUrl: server.baseUrl,
    cache: new MemoryCache(),
    retryDelayMs: 10,
    ...clientOptions,
  };
  return { server, client: createClient(options), options };
}

/** A client of `server` on `cache`, with fast retries. */
export function clientOn(server: TestServer, cache: TokenCache, options: ClientOptions = {}): PropQClient {
  return createClient({
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    tokenUrl: server.tokenUrl,
    cache,
    retryDelayMs: 10,
    ...options,
  });
}

/** Runs `body` with a fresh setup and always closes the server. */
export async function withSetup(
  body: (setup: Setup) => Promise<void>,
  clientOptions: ClientOptions = {},
  serverOptions: TestServerOptions = {},
): Promise<void> {
  const s = await setup(clientOptions, serverOptions);
  try {
    await body(s);
  } finally {
    await s.server.close();
  }
}

/** A clock tests move by hand. */
export function manualClock(start = Date.now()): { now: () => number; advance(ms: number): void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

/** Rejection of `promise`, or a failure when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** Waits until `condition()` holds, polling every 5 ms for at most `timeoutMs` (then fails). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
