/**
 * A local PropQ-compatible server for tests: the token endpoint with PropQ's
 * exact answers, the update-by-name route, scripted faults and recordings.
 * Built on `node:http`, so it runs on Deno, Node and Bun.
 *
 * @module
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { BAD_REQUEST_MESSAGE, UPDATE_ROUTE, validateUnit } from "./_http.ts";
import { flatHeaders, randomSecret, readBody, send, unsignedJwt } from "./_http.ts";

/** Options of {@linkcode startTestServer}. */
export interface TestServerOptions {
  /** The client id the server accepts. Default: a random positive integer. */
  clientId?: number;
  /** The secret the server accepts. Default: a random string. */
  clientSecret?: string;
  /**
   * The `expires_in` the server answers, in seconds (PropQ: 2592000, 30 days).
   * `null` leaves the field out, so clients fall back to the JWT's `exp`.
   */
  expiresIn?: number | string | null;
  /** Delay before every token answer, in ms. Default 0. */
  tokenDelayMs?: number;
  /** Delay before every API answer (scripted or not), in ms: lets requests overlap. Default 0. */
  apiDelayMs?: number;
  /** The port on 127.0.0.1. Default 0: any free port. */
  port?: number;
}

/** A scripted answer that replaces the server's next normal one. */
export interface ScriptedResponse {
  /** HTTP status. Default 200. */
  status?: number;
  /** A string is sent as it is; anything else as JSON. Default: no body. */
  body?: unknown;
  /** Extra response headers, e.g. `{ "retry-after": "1" }`. */
  headers?: Record<string, string>;
  /** Wait this long before answering, in ms. */
  delayMs?: number;
  /** Drop the connection without any answer: a network error for the client. */
  destroy?: boolean;
}

/** One request as the server received it. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path and query. */
  path: string;
  /** Headers, names lower-cased. */
  headers: Record<string, string>;
  /** The raw body. */
  body: string;
  /** When the request arrived, in epoch ms. */
  receivedAt: number;
}

/** A running test server, from {@linkcode startTestServer}. */
export interface TestServer {
  /** The API's base URL, e.g. `http://127.0.0.1:41234`. */
  readonly baseUrl: string;
  /** The token endpoint, `${baseUrl}/oauth/token`. */
  readonly tokenUrl: string;
  /** The accepted client id. */
  readonly clientId: number;
  /** The accepted client secret. */
  readonly clientSecret: string;
  /** How many requests reached the token endpoint. */
  readonly tokenRequests: number;
  /** How many requests reached any other route. */
  readonly apiRequests: number;
  /** How many API requests are being answered right now (arrived, not yet answered). */
  readonly apiInFlight: number;
  /** The most API requests that were ever in flight at once: a client's concurrency, seen from the server. */
  readonly maxApiInFlight: number;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Every token issued, in order. */
  readonly issuedTokens: readonly string[];
  /** Queues answers for the next token requests, in order. */
  scriptToken(...responses: ScriptedResponse[]): void;
  /** Queues answers for the next API requests that pass the token check, in order. */
  scriptApi(...responses: ScriptedResponse[]): void;
  /**
   * Queues answers for the next API requests that pass the token check and
   * that `match` accepts, in order; they take precedence over
   * {@linkcode TestServer.scriptApi}'s. Lets a test fail one unit of many
   * sent concurrently, e.g. `(r) => r.body.includes('"A-7"')`.
   */
  scriptApiWhen(match: (request: RecordedRequest) => boolean, ...responses: ScriptedResponse[]): void;
  /** Makes every token issued so far invalid: the API answers 401 to them. */
  revokeTokens(): void;
  /** Stops the server and closes its connections. */
  close(): Promise<void>;
}

/**
 * Starts a PropQ-compatible server on 127.0.0.1: `POST /oauth/token` answers
 * exactly as PropQ does (200 token, 400 `invalid_request`, 401
 * `invalid_client`), `POST /v1/developments/{id}/units/update-by-name` checks
 * the Bearer token, the JSON Content-Type (else a 302, as PropQ does), the
 * method (else 419) and the body (else 422 with `errors`). `GET /` is the
 * home page those redirects point at; every other path answers 404 once the
 * token checks out.
 *
 * @param options Credentials to accept, token lifetime, delays, port.
 * @returns The running server; close it when done.
 *
 * @example Counting token requests in your own test
 * ```ts
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const server = await startTestServer({ expiresIn: 7200 });
 * const response = await fetch(server.tokenUrl, {
 *   method: "POST",
 *   headers: { "content-type": "application/x-www-form-urlencoded" },
 *   body: new URLSearchParams({
 *     grant_type: "client_credentials",
 *     client_id: String(server.clientId),
 *     client_secret: server.clientSecret,
 *   }),
 * });
 * const body = await response.json();
 * assert.equal(body.expires_in, 7200);
 * assert.equal(server.tokenRequests, 1);
 * await server.close();
 * ```
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const clientId = options.clientId ?? 1000 + Math.floor(Math.random() * 9000);
  const clientSecret = options.clientSecret ?? randomSecret();
  const expiresIn = options.expiresIn === undefined ? 2592000 : options.expiresIn;
  const requests: RecordedRequest[] = [];
  const issuedTokens: string[] = [];
  const valid = new Map<string, number>(); // token → expiry in epoch ms
  const tokenScript: ScriptedResponse[] = [];
  const apiScript: ScriptedResponse[] = [];
  const matchedScripts: { match: (request: RecordedRequest) => boolean; responses: ScriptedResponse[] }[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  // A delayed answer still pending at close() must not keep the process alive.
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => (timers.delete(timer), resolve()), ms);
      timers.add(timer);
    });
  let tokenRequests = 0;
  let apiRequests = 0;
  let apiInFlight = 0;
  let maxApiInFlight = 0;

  function issueToken(): string {
    const lifetime = typeof expiresIn === "number" ? expiresIn : Number(expiresIn ?? 3600) || 3600;
    const issuedAt = Date.now();
    const exp = Math.floor(issuedAt / 1000) + lifetime;
    const token = unsignedJwt({ aud: String(clientId), jti: issuedTokens.length + 1, exp });
    issuedTokens.push(token);
    // Valid for exactly `expires_in` from the answer, as a client counts it (the JWT's exp is whole seconds).
    valid.set(token, issuedAt + lifetime * 1000);
    return token;
  }

  async function play(res: ServerResponse, scripted: ScriptedResponse): Promise<void> {
    if (scripted.delayMs) await delay(scripted.delayMs);
    if (scripted.destroy) {
      res.socket?.destroy();
      return;
    }
    send(res, scripted.status ?? 200, scripted.body, scripted.headers);
  }

  async function token(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    tokenRequests++;
    if (options.tokenDelayMs) await delay(options.tokenDelayMs);
    const scripted = tokenScript.shift();
    if (scripted !== undefined) return play(res, scripted);
    if (req.method !== "POST") return send(res, 405, { message: "The GET method is not supported for this route." });
    const form = new URLSearchParams(body);
    const type = req.headers["content-type"] ?? "";
    const missing = !type.startsWith("application/x-www-form-urlencoded")
      ? "grant_type"
      : form.get("grant_type") !== "client_credentials"
      ? "grant_type"
      : !/^\d+$/.test(form.get("client_id") ?? "")
      ? "client_id"
      : undefined;
    if (missing !== undefined) {
      return send(res, 400, {
        error: "invalid_request",
        message: BAD_REQUEST_MESSAGE,
        hint: `Check the \`${missing}\` parameter`,
      });
    }
    if (form.get("client_id") !== String(clientId) || form.get("client_secret") !== clientSecret) {
      return send(res, 401, { error: "invalid_client", message: "Client authentication failed" });
    }
    const answer: Record<string, unknown> = { token_type: "Bearer", access_token: issueToken() };
    if (expiresIn !== null) answer.expires_in = expiresIn;
    send(res, 200, answer);
  }

  async function api(req: IncomingMessage, res: ServerResponse, request: RecordedRequest): Promise<void> {
    const { path, body } = request;
    apiRequests++;
    if (options.apiDelayMs) await delay(options.apiDelayMs);
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    const expiry = bearer === undefined ? undefined : valid.get(bearer);
    if (expiry === undefined || expiry <= Date.now()) return send(res, 401, { message: "Unauthenticated." });
    if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
      return send(res, 302, undefined, { location: `http://127.0.0.1:${port}/` });
    }
    const scripted = matchedScripts.find((s) => s.responses.length > 0 && s.match(request))?.responses.shift() ??
      apiScript.shift();
    if (scripted !== undefined) return play(res, scripted);
    const route = UPDATE_ROUTE.exec(path.split("?")[0]);
    if (route === null) return send(res, 404, { message: "Not Found" });
    if (req.method !== "POST") return send(res, 419, { message: "Method not allowed." });
    let unit: unknown;
    try {
      unit = JSON.parse(body);
    } catch {
      return send(res, 400, { message: "The request body is not valid JSON." });
    }
    const errors = validateUnit(unit);
    if (Object.keys(errors).length > 0) return send(res, 422, { message: "The given data was invalid.", errors });
    send(res, 200, { success: true, development_id: decodeURIComponent(route[1]), unit });
  }

  const server = createServer(async (req, res) => {
    const receivedAt = Date.now();
    const path = req.url ?? "/";
    const route = path.split("?")[0];
    const isApi = route !== "/oauth/token" && route !== "/";
    // Counted from arrival until the answer is written, so the count never exceeds the client's.
    if (isApi) maxApiInFlight = Math.max(maxApiInFlight, ++apiInFlight);
    try {
      const body = await readBody(req);
      const [method, headers] = [req.method ?? "GET", flatHeaders(req)];
      const request: RecordedRequest = { method, path, headers, body, receivedAt };
      requests.push(request);
      if (route === "/oauth/token") await token(req, res, body);
      else if (route === "/") send(res, 200, "<!doctype html><title>PropQ</title>");
      else await api(req, res, request);
    } catch {
      if (!res.headersSent) send(res, 500, { message: "Server Error" });
    } finally {
      if (isApi) apiInFlight--;
    }
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    baseUrl,
    tokenUrl: `${baseUrl}/oauth/token`,
    clientId,
    clientSecret,
    get tokenRequests() {
      return tokenRequests;
    },
    get apiRequests() {
      return apiRequests;
    },
    get apiInFlight() {
      return apiInFlight;
    },
    get maxApiInFlight() {
      return maxApiInFlight;
    },
    requests,
    issuedTokens,
    scriptToken: (...responses) => void tokenScript.push(...responses),
    scriptApi: (...responses) => void apiScript.push(...responses),
    scriptApiWhen: (match, ...responses) => void matchedScripts.push({ match, responses }),
    revokeTokens: () => valid.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
      }),
  };
}
