// A real redis-server for tests: on a free 127.0.0.1 port, in a temp dir, without persistence; stopped by its
// PID and restartable on the same port (a Redis restart, as clients see it). Clients: tests/fixtures/redis_*.ts.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const BINARY = process.env.REDIS_SERVER ?? "redis-server";

/** Why the Redis tests cannot run here (no redis-server), or `undefined` when they can. */
export function redisServerMissing(): string | undefined {
  const result = spawnSync(BINARY, ["--version"], { encoding: "utf8" });
  if (result.error === undefined && result.status === 0) return undefined;
  return `${BINARY} is not installed (Debian: apt-get install -y redis-server); the Redis tests need a real server`;
}

/** A running redis-server. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** The server process' PID while it runs. */
  readonly pid: number | undefined;
  /** Stops the server by its PID (SIGTERM: a shutdown; SIGKILL: a crash) and waits for it to exit. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same port, empty (no persistence), and waits until it answers PING. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Whether a server on `port` answers PING with PONG, within a second. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let seen = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      seen += chunk;
      if (seen.includes("\r\n")) done(seen.startsWith("+PONG"));
    });
    socket.on("error", () => done(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
  });
}

/** Starts redis-server on a free loopback port. */
export async function startRedisServer(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), "propq-redis-"));
  let port = 0;
  let child: ChildProcess | undefined;
  let log = "";

  const launch = async (): Promise<boolean> => {
    log = "";
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    const started = spawn(BINARY, [...args, "--dir", dir, "--daemonize", "no"], { stdio: ["ignore", "pipe", "pipe"] });
    child = started;
    started.stdout?.setEncoding("utf8").on("data", (chunk: string) => log = (log + chunk).slice(-4_000));
    started.stderr?.setEncoding("utf8").on("data", (chunk: string) => log = (log + chunk).slice(-4_000));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null || started.signalCode !== null) return false;
      if (await ping(port)) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    started.kill("SIGKILL");
    throw new Error(`redis-server did not answer on port ${port} within 15 s:\n${log}`);
  };

  const stop = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    const running = child;
    if (running?.pid === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const done = exited(running);
    process.kill(running.pid, signal);
    const timer = setTimeout(() => running.pid !== undefined && process.kill(running.pid, "SIGKILL"), 10_000);
    await done;
    clearTimeout(timer);
  };

  // A port found free may be taken before redis-server binds it: try another.
  for (let attempt = 0;; attempt++) {
    port = await freePort();
    if (await launch()) break;
    if (attempt >= 4) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server would not start:\n${log}`);
    }
  }

  const pid = () => child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return pid();
    },
    stop,
    async start() {
      if (pid() !== undefined) return;
      if (!await launch()) throw new Error(`redis-server would not start again on port ${port}:\n${log}`);
    },
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
