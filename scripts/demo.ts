// The main job in one command: `deno task demo`.
// With PROPQ_CLIENT_ID / PROPQ_CLIENT_SECRET set (environment or .env) it gets a real token
// from PropQ; without them it walks through the flow against the bundled local PropQ server.
import { existsSync } from "node:fs";
import process from "node:process";
import { createClient, PropQAuthError, type TokenInfo, UnitStatus, updateUnitByName } from "../mod.ts";
import { startTestServer } from "../src/testing/mod.ts";

function redact(token: string): string {
  return token.length <= 12 ? "****" : `${token.slice(0, 6)}…${token.slice(-4)} (${token.length} chars)`;
}

function expiry(info: TokenInfo): string {
  const days = (info.expiresAt - Date.now()) / 86_400_000;
  const refresh = new Date(info.refreshAt).toISOString();
  return `${new Date(info.expiresAt).toISOString()} (in ${days.toFixed(2)} days; refreshed from ${refresh})`;
}

async function timed<T>(work: () => Promise<T>): Promise<[T, string]> {
  const start = performance.now();
  const result = await work();
  return [result, `${(performance.now() - start).toFixed(2)} ms`];
}

async function real(): Promise<void> {
  console.log("PROPQ_CLIENT_ID is set: asking the real PropQ token endpoint.");
  const client = createClient();
  const [info, took] = await timed(() => client.getTokenInfo());
  const token = info.accessToken;
  console.log(`1. token ${redact(token)} in ${took}, expires ${expiry(info)}`);
  const [again, tookAgain] = await timed(() => client.getToken());
  console.log(`2. again from the cache in ${tookAgain}: ${again === token ? "same token" : "a new token?!"}`);
  // A read-only call: it proves the token is accepted (anything but 401) without changing any unit.
  const [response, tookCall] = await timed(() => client.fetch("/v1/developments"));
  await response.body?.cancel();
  console.log(`3. authed GET /v1/developments: HTTP ${response.status} in ${tookCall}`);
}

async function local(): Promise<void> {
  console.log("No PROPQ_CLIENT_ID/PROPQ_CLIENT_SECRET: using the bundled local PropQ server.");
  const server = await startTestServer();
  try {
    console.log(`   server on ${server.baseUrl}`);
    const client = createClient({
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      tokenUrl: server.tokenUrl,
      baseUrl: server.baseUrl,
    });
    const [info, took] = await timed(() => client.getTokenInfo());
    const token = info.accessToken;
    console.log(`1. getTokenInfo(): ${redact(token)} in ${took}, expires ${expiry(info)}`);
    console.log(`   token requests so far: ${server.tokenRequests}`);
    const [, tookCached] = await timed(() => client.getToken());
    console.log(`2. getToken() again: served from cache in ${tookCached}; token requests: ${server.tokenRequests}`);
    const [answer, tookCall] = await timed(() =>
      updateUnitByName(client, 1234, {
        UntName: "A-101",
        UntStatus: UnitStatus.SOLD,
        UntPrice: 350000,
        UntDirections: ["South", "West"],
      })
    );
    const sent = server.requests.at(-1)!;
    console.log(`3. updateUnitByName(): ${JSON.stringify(answer)} in ${tookCall}`);
    console.log(`   sent ${sent.method} ${sent.path} with Authorization: Bearer ${redact(token)},`);
    console.log(`   Content-Type: ${sent.headers["content-type"]}; token requests: ${server.tokenRequests}`);
  } finally {
    await server.close();
  }
}

if (existsSync(".env")) process.loadEnvFile(".env");
try {
  const env = (name: string) => Deno.env.get(name);
  await (env("PROPQ_CLIENT_ID") || env("PROPQ_CLIENT_SECRET") ? real() : local());
} catch (error) {
  if (!(error instanceof PropQAuthError)) throw error;
  console.error(`${error.name} [${error.code}]: ${error.message}`);
  Deno.exit(1);
}
