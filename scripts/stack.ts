import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_CAPACITY_FILE, loadMockCapacity } from '../mock-services/capacity.ts';
import { DEFAULT_PORTS, LOOPBACK } from '../mock-services/ports.ts';
import { redact } from '../mock-services/registration/mask.ts';
import { nodeArgsFor } from './node-ts.ts';
import { ROOT } from './paths.ts';

export type ServiceName = 'ministry' | 'email' | 'upload' | 'registration';
/** Start order: dependencies first, the registration service last. */
export const SERVICE_NAMES: readonly ServiceName[] = ['ministry', 'email', 'upload', 'registration'];

export interface StackPorts {
  registration: number;
  ministry: number;
  emailHttp: number;
  emailSmtp: number;
  upload: number;
}

export interface StackOptions {
  /** fixed ports (defaults from mock-services/ports.ts), or 'auto' for free ephemeral ports (tests) */
  ports?: Partial<StackPorts> | 'auto';
  /** the capacity file (stations of every dependency); the mocks' built-in defaults when absent */
  capacityFile?: string;
  /** token that guards the mocks' admin endpoints */
  adminToken?: string;
  /** directory for the SQLite database and stored objects; a fresh temp dir when absent */
  dataDir?: string;
  /** extra environment per service, e.g. { registration: { WORKERS: '2' } } */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** receives every line the services print, prefixed with the service name */
  log?: (service: ServiceName, line: string) => void;
  /** how long each service may take to answer /healthz */
  readyTimeoutMs?: number;
  /** told of every service that exits once the stack is up (see RunningStack.onExit) */
  onExit?: (exit: ServiceExit) => void;
}

/** A service that exited after the stack was up: which, how, and what it said last. */
export interface ServiceExit {
  service: ServiceName;
  pid: number | undefined;
  /** exit code, or null when a signal ended it */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the stack stopped it itself (stop, kill, restart); false: it died on its own, or something else killed it */
  expected: boolean;
  /** its last lines on stderr, stack frames left out, NIKs and emails masked */
  lastLines: string[];
  at: Date;
  /** the above in one line for a person, e.g. "ministry (pid 12) died: killed by SIGKILL; its last lines: ..." */
  message: string;
}

export interface StackUrls {
  registration: string;
  ministry: string;
  email: string;
  upload: string;
  /** smtp://127.0.0.1:port, where the registration service sends its mail */
  smtp: string;
}

export interface RunningStack {
  ports: StackPorts;
  urls: StackUrls;
  adminToken: string;
  dataDir: string;
  /** the live child process of a service (replaced by restart) */
  process(name: ServiceName): ChildProcess;
  /** sends a signal (SIGKILL to simulate a crash) and waits for the process to exit */
  kill(name: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  /** starts a service again with the same configuration and waits until it is ready */
  restart(name: ServiceName): Promise<void>;
  /** stops every service (SIGTERM, then SIGKILL after a grace period) */
  stop(): Promise<void>;
  /** every exit since the stack was up, in order (the expected ones too) */
  readonly exits: readonly ServiceExit[];
  /** calls `listener` at each exit of a service from now on; returns the function that unsubscribes */
  onExit(listener: (exit: ServiceExit) => void): () => void;
  /** resolves with the first service that dies unexpectedly (never, while none does) */
  readonly died: Promise<ServiceExit>;
}

/**
 * Why the stack did not start, in words for the user: which service, and what it said (a port in
 * use, a bad capacity file, an invalid environment), never a trace of the parent's frames.
 */
export class StackStartError extends Error {
  constructor(
    message: string,
    /** the port a service could not listen on, when that was the problem */
    readonly port?: { service: keyof StackPorts; port: number },
  ) {
    super(message);
  }
}

/** Which service listens on each port of StackPorts, in words. */
const PORT_OWNER: Record<keyof StackPorts, string> = {
  registration: 'the registration service',
  ministry: 'the ministry mock',
  emailHttp: "the email mock's HTTP",
  emailSmtp: "the email mock's SMTP",
  upload: 'the upload mock',
};

/** Refuses two services on one port, and a port something else already listens on. */
async function checkPorts(ports: StackPorts): Promise<void> {
  const taken = new Map<number, keyof StackPorts>();
  for (const [service, port] of Object.entries(ports) as Array<[keyof StackPorts, number]>) {
    if (port === 0) continue;
    const other = taken.get(port);
    if (other)
      throw new StackStartError(
        `port ${port} is given to both ${PORT_OWNER[other]} and ${PORT_OWNER[service]}`,
        {
          service,
          port,
        },
      );
    taken.set(port, service);
    const problem = await new Promise<string | undefined>((resolveProbe) => {
      const probe = createServer();
      probe.once('error', (err: NodeJS.ErrnoException) =>
        resolveProbe(
          err.code === 'EADDRINUSE'
            ? 'is in use by another process'
            : err.code === 'EACCES'
              ? 'needs privileges (ports below 1024)'
              : `cannot be listened on (${err.code ?? err.message})`,
        ),
      );
      probe.listen(port, LOOPBACK, () => probe.close(() => resolveProbe(undefined)));
    });
    if (problem)
      throw new StackStartError(`port ${port} on ${LOOPBACK} (${PORT_OWNER[service]}) ${problem}`, {
        service,
        port,
      });
  }
}

function resolvePorts(ports: StackOptions['ports']): StackPorts {
  const defaults: StackPorts = {
    registration: DEFAULT_PORTS.registration,
    ministry: DEFAULT_PORTS.ministry,
    emailHttp: DEFAULT_PORTS.emailHttp,
    emailSmtp: DEFAULT_PORTS.emailSmtp,
    upload: DEFAULT_PORTS.upload,
  };
  // 'auto': every service binds port 0 and reports the port it got, so no two can race for one.
  if (ports === 'auto') return { registration: 0, ministry: 0, emailHttp: 0, emailSmtp: 0, upload: 0 };
  return { ...defaults, ...ports };
}

function urlsFor(p: StackPorts): StackUrls {
  const http = (port: number) => `http://${LOOPBACK}:${port}`;
  return {
    registration: http(p.registration),
    ministry: http(p.ministry),
    email: http(p.emailHttp),
    upload: http(p.upload),
    smtp: `smtp://${LOOPBACK}:${p.emailSmtp}`,
  };
}

/**
 * The environment contract of each service process. Every service reads HOST and its port(s) from
 * here, the mocks read GELOMBANG_CAPACITY_FILE and GELOMBANG_ADMIN_TOKEN, and the registration
 * service is told where its dependencies are.
 */
function serviceEnv(
  name: ServiceName,
  ports: StackPorts,
  urls: StackUrls,
  opts: Required<Pick<StackOptions, 'adminToken' | 'dataDir'>> & StackOptions,
): Record<string, string> {
  const common: Record<string, string> = { HOST: LOOPBACK, GELOMBANG_ADMIN_TOKEN: opts.adminToken };
  if (opts.capacityFile) common.GELOMBANG_CAPACITY_FILE = resolve(opts.capacityFile);
  const own: Record<ServiceName, Record<string, string>> = {
    ministry: { PORT: String(ports.ministry) },
    email: { HTTP_PORT: String(ports.emailHttp), SMTP_PORT: String(ports.emailSmtp) },
    upload: { PORT: String(ports.upload), UPLOAD_DIR: join(opts.dataDir, 'objects') },
    registration: {
      PORT: String(ports.registration),
      DB_PATH: join(opts.dataDir, 'registration.db'),
      MINISTRY_URL: urls.ministry,
      UPLOAD_URL: urls.upload,
      SMTP_URL: urls.smtp,
      EMAIL_URL: urls.email,
    },
  };
  return { ...common, ...own[name], ...(opts.env?.[name] ?? {}) };
}

function healthUrl(name: ServiceName, urls: StackUrls): string {
  const base = name === 'email' ? urls.email : urls[name];
  return `${base}/healthz`;
}

/**
 * Why a service that exited said it did: its last lines on stderr without the stack frames of an
 * uncaught error (the services print the reason first: an invalid environment, a capacity file).
 */
function saidLines(stderr: readonly string[]): string[] {
  return stderr.filter(
    (l) => l.trim() !== '' && !/^\s+at /.test(l) && !/^Node\.js v/.test(l) && !/^\s*\^\s*$/.test(l),
  );
}

function exitReason(name: ServiceName, child: ChildProcess, stderr: readonly string[], port: number): string {
  const how = child.signalCode ? `was killed (${child.signalCode})` : `exited with code ${child.exitCode}`;
  const said = saidLines(stderr);
  if (said.some((l) => l.includes('EADDRINUSE')))
    return `${name} ${how}: port ${port} on ${LOOPBACK} is in use by another process`;
  const last = said.slice(-3).map((l) => l.trim());
  return `${name} ${how} before it was ready${last.length ? `: ${last.join(' | ')}` : ' (it printed nothing on stderr)'}`;
}

async function waitHealthy(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
  exited: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new StackStartError(await exited());
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new StackStartError(`${url} not healthy after ${timeoutMs} ms (${lastError})`);
}

function pipeLines(stream: NodeJS.ReadableStream | null, fn: (line: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      fn(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  });
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts the four services as real processes on loopback and waits until each answers /healthz.
 * What would make a service exit at once is checked here first, so that the error names it: the
 * capacity file (a CapacityFileError naming the file and the field), the data directory, the
 * ports (a StackStartError naming the port and the service).
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const ports = resolvePorts(options.ports);
  const urls = urlsFor(ports);
  const adminToken = options.adminToken ?? 'gelombang-admin';
  loadMockCapacity(
    options.capacityFile
      ? resolve(options.capacityFile)
      : process.env.GELOMBANG_CAPACITY_FILE || DEFAULT_CAPACITY_FILE,
  );
  if (options.dataDir && existsSync(options.dataDir) && !statSync(options.dataDir).isDirectory())
    throw new StackStartError(`data directory '${options.dataDir}' is a file`);
  await checkPorts(ports);
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gelombang-stack-'));
  const opts = { ...options, adminToken, dataDir };
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const children = new Map<ServiceName, ChildProcess>();
  /** children the stack itself is ending: their exit is expected */
  const ending = new Set<ChildProcess>();
  const exits: ServiceExit[] = [];
  const listeners = new Set<(exit: ServiceExit) => void>();
  if (options.onExit) listeners.add(options.onExit);
  let reportDeath: (exit: ServiceExit) => void = () => {};
  const died = new Promise<ServiceExit>((r) => {
    reportDeath = r;
  });
  const end = (child: ChildProcess, signal: NodeJS.Signals, graceMs?: number) => {
    ending.add(child);
    return terminate(child, signal, graceMs);
  };

  /** Each service prints `<name> listening on http://host:port` (the email mock adds its SMTP URL). */
  const LISTENING = /listening on (http:\/\/\S+)(?:.*SMTP on (smtp:\/\/[^\s)]+))?/;
  const learn = (name: ServiceName, line: string): boolean => {
    const m = LISTENING.exec(line);
    if (!m?.[1]) return false;
    const port = Number(new URL(m[1]).port);
    if (name === 'email') {
      ports.emailHttp = port;
      if (m[2]) ports.emailSmtp = Number(new URL(m[2]).port);
    } else {
      ports[name] = port;
    }
    Object.assign(urls, urlsFor(ports));
    return true;
  };

  const spawnService = async (name: ServiceName): Promise<void> => {
    const entry = join(ROOT, 'mock-services', name, 'main.ts');
    const child = spawn(process.execPath, await nodeArgsFor(entry), {
      cwd: ROOT,
      env: { ...process.env, ...serviceEnv(name, ports, urls, opts) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(name, child);
    const log = options.log ?? (() => {});
    let announced = false;
    const stderr: string[] = [];
    pipeLines(child.stdout, (line) => {
      if (!announced) announced = learn(name, line);
      log(name, line);
    });
    pipeLines(child.stderr, (line) => {
      stderr.push(line);
      if (stderr.length > 40) stderr.shift();
      log(name, line);
    });
    const port = name === 'email' ? ports.emailHttp : ports[name];
    // The last lines of stderr arrive after the exit event, when the pipe drains.
    const exited = async () => {
      await new Promise((r) => setTimeout(r, 50));
      return exitReason(name, child, stderr, port);
    };
    const deadline = Date.now() + readyTimeoutMs;
    while (!announced) {
      if (child.exitCode !== null || child.signalCode !== null) throw new StackStartError(await exited());
      if (Date.now() > deadline)
        throw new StackStartError(`${name} did not report its address within ${readyTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitHealthy(healthUrl(name, urls), child, Math.max(1000, deadline - Date.now()), exited);
    watch(name, child, stderr);
  };

  /** Once a service is up, its exit is news: told to the listeners at once, with its last words. */
  const watch = (name: ServiceName, child: ChildProcess, stderr: readonly string[]) => {
    let reported = false;
    const report = () => {
      if (reported) return;
      reported = true;
      const expected = ending.has(child);
      const lastLines = saidLines(stderr)
        .slice(-5)
        .map((l) => redact(l.trim()));
      const how = child.signalCode ? `killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
      const said = lastLines.length
        ? `; its last lines: ${lastLines.join(' | ')}`
        : '; it printed nothing on stderr';
      const exit: ServiceExit = {
        service: name,
        pid: child.pid,
        code: child.exitCode,
        signal: child.signalCode,
        expected,
        lastLines,
        at: new Date(),
        message: `${name} (pid ${child.pid}) ${expected ? 'stopped' : 'died'}: ${how}${said}`,
      };
      exits.push(exit);
      if (!expected) reportDeath(exit);
      for (const listener of listeners) listener(exit);
    };
    const onExit = () => {
      // Its last lines may still be in the pipe: wait for stdio to close, but not for long (a
      // grandchild holding the pipe open must not delay the news).
      if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false) return report();
      const timer = setTimeout(report, 500);
      child.once('close', () => {
        clearTimeout(timer);
        report();
      });
    };
    if (child.exitCode !== null || child.signalCode !== null) onExit();
    else child.once('exit', onExit);
  };

  const stop = async () => {
    // From here every exit is expected: a terminal's Ctrl-C reaches the services too (they share
    // the stack's process group), and one that ends on its own before its turn did not die.
    for (const child of children.values()) ending.add(child);
    // Reverse order: the registration service first, so it does not log its dependencies vanishing.
    for (const name of [...SERVICE_NAMES].reverse()) {
      const child = children.get(name);
      if (child) await end(child, 'SIGTERM');
    }
  };

  try {
    for (const name of SERVICE_NAMES) await spawnService(name);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    ports,
    urls,
    adminToken,
    dataDir,
    process(name) {
      const child = children.get(name);
      if (!child) throw new Error(`${name} is not running`);
      return child;
    },
    async kill(name, signal = 'SIGKILL') {
      const child = children.get(name);
      if (child) await end(child, signal, 10_000);
    },
    async restart(name) {
      const child = children.get(name);
      if (child) await end(child, 'SIGTERM');
      await spawnService(name);
    },
    stop,
    exits,
    onExit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    died,
  };
}
