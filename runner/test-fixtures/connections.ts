import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/**
 * Which connection each request came on, for the runner's tests and real k6's beside them: a
 * loopback server that answers every request with the number of the connection it arrived on,
 * and a script of two VUs, the second starting once the first is done (a client shared by the
 * VUs would hand it the first's idle connection). Each VU checks that its iteration's two requests
 * shared a connection. One client per VU, as k6's, opens two connections in all.
 */
export async function connectionCountingServer(): Promise<{
  server: Server;
  url: string;
  connections: () => number;
}> {
  let connections = 0;
  const server = createServer((socket) => {
    const id = String(++connections);
    socket.on('data', (d: Buffer) => {
      for (let i = 0; i < d.toString().split('\r\n\r\n').length - 1; i++)
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${id.length}\r\n\r\n${id}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
  };
}

/** Writes the two-VU script (plain JavaScript: k6 runs it as it is) into `dir`; its path. */
export function perVuScript(dir: string): string {
  const file = join(dir, 'per-vu.js');
  writeFileSync(
    file,
    `import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 2, iterations: 3 } } };
export default async function () {
  if (exec.vu.idInTest === 2 && exec.vu.iterationInScenario === 0) await sleep(0.5);
  const a = await http.asyncRequest('GET', __ENV.TARGET + '/a');
  const b = await http.asyncRequest('GET', __ENV.TARGET + '/b');
  check(null, { 'one connection within the iteration': () => a.body === b.body });
}
`,
  );
  return file;
}
