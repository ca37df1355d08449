/**
 * Reads a response body up to a size limit, so a hostile or broken server
 * cannot make the client hold hundreds of megabytes.
 *
 * @module
 */

/** Thrown by {@linkcode readText} when the body is over the limit. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the answer is larger than ${limit} bytes`);
  }
}

/** The body of `response` as UTF-8 text; rejects with {@linkcode BodyTooLarge} past `limit` bytes. */
export async function readText(response: Response, limit: number): Promise<string> {
  const body = response.body;
  if (body === null) return "";
  const declared = Number(response.headers.get("content-length"));
  if (declared > limit) {
    await body.cancel().catch(() => {});
    throw new BodyTooLarge(limit);
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
