const encoder = new TextEncoder();

/**
 * The cache key of a client: token URL, client id and a SHA-256 fingerprint of
 * the secret, so a rotated secret misses and the raw secret is never stored.
 */
export async function cacheKey(tokenUrl: string, clientId: string, clientSecret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(clientSecret));
  const hex = Array.from(new Uint8Array(digest, 0, 16), (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `propq-auth:v1:${tokenUrl}:${clientId}:${hex}`;
}
