// A JSON hello-world on loopback for the runner bench, in its own process so that the load
// generators measured against it do not share its event loop.
import { createServer } from 'node:http';

const body = '{"hello":"world"}';
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
