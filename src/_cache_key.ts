const encoder = new TextEncoder();
// Stores limit key sizes (Deno KV: 2 KiB): a longer token URL goes in as a digest.
const MAX_URL_IN_KEY = 256;

async function sha256Hex(text: string, bytes = 32): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return Array.from(new Uint8Array(digest, 0, bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The cache key of a client: token URL, client id and a SHA-256 fingerprint of
 * the secret, so a rotated secret misses and the raw secret is never stored.
 */
export async function cacheKey(tokenUrl: string, clientId: string, clientSecret: string): Promise<string> {
  const url = tokenUrl.length > MAX_URL_IN_KEY ? `sha256-${await sha256Hex(tokenUrl)}` : tokenUrl;
  return `propq-auth:v1:${url}:${clientId}:${await sha256Hex(clientSecret, 16)}`;
}
