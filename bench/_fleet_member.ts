// One process of a fleet: gets a token through the cache it is told to share, prints it, exits.
// Args: KIND (memory | file | kv), PATH (the token file or the KV sqlite file), TOKEN_URL.
// Credentials come from PROPQ_CLIENT_ID and PROPQ_CLIENT_SECRET, as in production.
import process from "node:process";
import { createClient, type TokenCache } from "@propq/auth";
import { FileCache } from "@propq/auth/file";
import { KvCache, type KvLike } from "@propq/auth/kv";

interface OpenKv extends KvLike {
  close(): void;
}

const deno = (globalThis as { Deno?: { openKv(path: string): Promise<OpenKv> } }).Deno;

/** Opens the shared KV file, waiting while another member is creating it. */
async function openKv(path: string): Promise<OpenKv> {
  for (let attempt = 0;; attempt++) {
    try {
      if (deno !== undefined) return await deno.openKv(path);
      const name = "@deno/kv"; // not a literal: Deno must not resolve it for its own runs
      const { openKv } = await import(name);
      return await openKv(path);
    } catch (error) {
      if (attempt >= 40 || !/locked|busy/i.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
}

const [kind, path, tokenUrl] = process.argv.slice(2);
const kv = kind === "kv" ? await openKv(path) : undefined;
const cache: TokenCache | undefined = kind === "file" ? new FileCache(path) : kv && new KvCache(kv);
const client = createClient({ tokenUrl, cache, maxRetries: 0 });
try {
  const token = await client.getToken();
  console.log(JSON.stringify({ token }));
} finally {
  // The token is written and the lease released after getToken() answers: let that finish before closing.
  await client.settled();
  kv?.close();
}
