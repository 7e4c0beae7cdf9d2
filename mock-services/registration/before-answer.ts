import type { Response } from 'express';
import { log } from './mask.ts';

/**
 * Calls `decide` with the answer as the handler ends it (status, body), before it is sent: the
 * place to store it, or to settle what the request held, in the same moment. When `decide` returns
 * a promise, the answer leaves once it settles.
 */
export function beforeAnswer(
  res: Response,
  decide: (answer: { status: number; body: Buffer; streamed: boolean }) => void | Promise<void>,
): void {
  const end = res.end;
  const write = res.write;
  let streamed = false;
  res.write = function (this: Response, ...args: Parameters<Response['write']>) {
    streamed = true;
    return write.apply(this, args);
  } as Response['write'];
  res.end = function (this: Response, ...args: unknown[]) {
    res.end = end;
    res.write = write;
    const [chunk, encoding] = args;
    const body =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.isBuffer(chunk)
          ? chunk
          : chunk instanceof Uint8Array
            ? Buffer.from(chunk)
            : Buffer.alloc(0);
    const send = () => (end as (...a: unknown[]) => Response).apply(this, args);
    // The answer goes out regardless: a key or ticket left unsettled is freed by its lease's expiry.
    const failed = (err: unknown) => log.error('registration: settling an answer failed', err);
    let pending: Promise<void> | undefined;
    try {
      pending = decide({ status: res.statusCode, body, streamed }) ?? undefined;
    } catch (err) {
      failed(err);
    }
    if (!pending) return send();
    pending.catch(failed).finally(send);
    return this;
  } as Response['end'];
}
