import { once } from 'node:events';
import { type AddressInfo, connect } from 'node:net';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import type { Capacity } from '../../model/capacity.ts';
import { serve } from '../../test/support/listen.ts';
import { loadCapacity } from '../capacity.ts';
import { Mailboxes, type Message } from './mailboxes.ts';
import { createEmailService } from './server.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function emailMock(email: Partial<Capacity['email']> = {}) {
  const base = loadCapacity(new URL('../capacity.unlimited.json', import.meta.url));
  const svc = createEmailService({
    capacity: { email: { ...base.email, ...email } },
    adminToken: 'a',
    maxMessages: 3,
  });
  svc.smtp.listen(0, '127.0.0.1');
  await once(svc.smtp.server, 'listening');
  const smtpPort = (svc.smtp.server.address() as AddressInfo).port;
  const http = await serve(svc.app);
  closers.push(async () => {
    await http.close();
    await new Promise<void>((r) => svc.smtp.close(() => r()));
  });
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: smtpPort,
    secure: false,
    ignoreTLS: true,
  });
  closers.push(async () => transport.close());
  return { http: http.url, transport, svc, smtpPort };
}

const mailbox = async (url: string, address: string) =>
  (await (await fetch(`${url}/api/v1/mailboxes/${address}/messages`)).json()) as Array<{
    subject: string;
    links: string[];
  }>;

describe('the email mock', () => {
  it('accepts mail over SMTP and delivers it after the delay, with its links', async () => {
    const { http, transport } = await emailMock({ deliveryDelay: { distribution: 'constant', ms: 300 } });
    await transport.sendMail({
      from: 'noreply@prakerja.test',
      to: 'ani@example.test',
      subject: 'Verifikasi',
      text: 'Klik http://127.0.0.1:3000/verify-email?token=abc',
    });
    expect(await mailbox(http, 'ani@example.test')).toEqual([]);
    await new Promise((r) => setTimeout(r, 600));
    const messages = await mailbox(http, 'ani@example.test');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      subject: 'Verifikasi',
      links: ['http://127.0.0.1:3000/verify-email?token=abc'],
    });
  });

  it("delivers at the providers' rate, first come first delivered, so a surge leaves a backlog", async () => {
    // one mail every 2 s: the third sent at once is due 4 s after the first
    const { http, transport } = await emailMock({
      deliveryDelay: { distribution: 'constant', ms: 0 },
      deliveryPerSecond: 0.5,
    });
    const to = ['p1@example.test', 'p2@example.test', 'p3@example.test'];
    for (const address of to) {
      await transport.sendMail({ from: 'a@b.test', to: address, subject: 's', text: 't' });
    }
    while ((await mailbox(http, to[0] as string)).length === 0) await new Promise((r) => setTimeout(r, 20));
    expect(await mailbox(http, to[2] as string)).toEqual([]);
    const pending = await (await fetch(`${http}/metrics`)).text();
    expect(pending).toMatch(/^email_delivery_pending [12]$/m);
    while ((await mailbox(http, to[2] as string)).length === 0) await new Promise((r) => setTimeout(r, 50));
    expect(await mailbox(http, to[1] as string)).toHaveLength(1);
  });

  it('answers SMTP 421 when its queue is full, and 451 on an injected fault', async () => {
    const { transport, svc } = await emailMock({
      concurrency: 1,
      queue: 0,
      serviceTime: { distribution: 'constant', ms: 500 },
    });
    const send = (to: string) => transport.sendMail({ from: 'a@b.test', to, subject: 's', text: 't' });
    const first = send('x@example.test');
    while (svc.station.inFlight < 1) await new Promise((r) => setTimeout(r, 5));
    const err = (await send('y@example.test').catch((e: unknown) => e)) as { responseCode?: number };
    expect(err.responseCode).toBe(421);
    await first;
    svc.station.reconfigure({ ...svc.station.config, errorRate: 1, queue: 10 });
    const fault = (await send('z@example.test').catch((e: unknown) => e)) as { responseCode?: number };
    expect(fault.responseCode).toBe(451);
  });

  it("takes a server once the mail is in, so a slow sender does not hold one: the hold is the file's service time", async () => {
    const { http, svc, smtpPort } = await emailMock({ serviceTime: { distribution: 'constant', ms: 50 } });
    const socket = connect(smtpPort, '127.0.0.1');
    closers.push(async () => {
      socket.destroy();
    });
    socket.setEncoding('utf8');
    let received = '';
    socket.on('data', (d: string) => {
      received += d;
    });
    // An SMTP reply is complete at its last line, "NNN text" (continuation lines are "NNN-text").
    const reply = async (code: string): Promise<void> => {
      while (!/(^|\r\n)\d{3} [^\r]*\r\n$/.test(received)) await new Promise((r) => setTimeout(r, 5));
      const last = received.trimEnd().split('\r\n').pop() ?? '';
      received = '';
      expect(last.slice(0, 3)).toBe(code);
    };
    const say = async (line: string, code: string) => {
      socket.write(`${line}\r\n`);
      await reply(code);
    };
    await reply('220');
    await say('EHLO slow.test', '250');
    await say('MAIL FROM:<a@b.test>', '250');
    await say('RCPT TO:<slow@example.test>', '250');
    await say('DATA', '354');
    socket.write('From: a@b.test\r\nTo: slow@example.test\r\nSubject: s\r\n\r\nfirst half, ');
    await new Promise((r) => setTimeout(r, 400));
    expect(svc.station.inFlight).toBe(0);
    const metrics = async () => (await (await fetch(`${http}/metrics`)).text()).replace(/\r/g, '');
    expect(await metrics()).toMatch(/^station_in_flight\{dependency="email"\} 0$/m);
    socket.write('second half\r\n.\r\n');
    await reply('250');
    socket.end();
    const held = Number(
      /^station_service_seconds_sum\{dependency="email"\} (\S+)$/m.exec(await metrics())?.[1],
    );
    // One hold of the constant 50 ms (a timer fires no earlier), far from the 400 ms the sender took.
    expect(held).toBeGreaterThanOrEqual(0.045);
    expect(held).toBeLessThan(0.3);
  });

  it('keeps at most the configured number of messages, evicting the oldest', async () => {
    const { http, transport } = await emailMock();
    for (let i = 0; i < 5; i++)
      await transport.sendMail({ from: 'a@b.test', to: `u${i}@example.test`, subject: `m${i}`, text: 't' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await mailbox(http, 'u0@example.test')).toEqual([]);
    expect(await mailbox(http, 'u4@example.test')).toHaveLength(1);
    expect((await fetch(`${http}/api/v1/mailboxes/not-an-address/messages`)).status).toBe(400);
  });

  it('holds one message per Message-ID per mailbox, counting copies, and forgets the id with the message', () => {
    const boxes = new Mailboxes(2);
    const message = (to: string, messageId: string | null): Message => ({
      id: `${to}-${messageId}-${Math.random()}`,
      messageId,
      copies: 1,
      from: 'noreply@prakerja.test',
      to,
      subject: 's',
      text: 't',
      html: '',
      receivedAt: new Date(0).toISOString(),
      links: [],
    });
    expect(boxes.deliver(message('a@example.test', '<m1@x>'))).toBe('new');
    expect(boxes.deliver(message('A@example.test', '<m1@x>'))).toBe('duplicate');
    // Another mailbox, or a mail without a Message-ID, is never merged.
    expect(boxes.deliver(message('b@example.test', '<m1@x>'))).toBe('new');
    expect(boxes.list('a@example.test')).toMatchObject([{ messageId: '<m1@x>', copies: 2 }]);
    expect(boxes.duplicates).toBe(1);
    // A third message evicts a@'s: a later copy of it is a message again, not a copy of nothing.
    expect(boxes.deliver(message('c@example.test', null))).toBe('new');
    expect(boxes.deliver(message('c@example.test', null))).toBe('new');
    expect(boxes.list('a@example.test')).toEqual([]);
    expect(boxes.deliver(message('a@example.test', '<m1@x>'))).toBe('new');
    expect(boxes.clear('a@example.test')).toBe(1);
    expect(boxes.deliver(message('a@example.test', '<m1@x>'))).toBe('new');
    expect(boxes.list('a@example.test')).toMatchObject([{ copies: 1 }]);
  });

  it('refuses a delivery delay over its maximum (1 h), naming the field, and keeps the one it had', async () => {
    const { http } = await emailMock({ deliveryDelay: { distribution: 'constant', ms: 300 } });
    const admin = { authorization: 'Bearer a', 'content-type': 'application/json' };
    const r = await fetch(`${http}/admin/config`, {
      method: 'PATCH',
      headers: admin,
      body: JSON.stringify({
        email: { deliveryDelay: { distribution: 'lognormal', medianMs: 500, p99Ms: 3_000_000_000 } },
      }),
    });
    expect(r.status).toBe(400);
    const error = ((await r.json()) as { error: { field: string; message: string } }).error;
    expect(error.field).toBe('email.deliveryDelay.p99Ms');
    expect(error.message).toMatch(/maximum delivery delay of 3600000 ms/);
    const config = (await (await fetch(`${http}/admin/config`, { headers: admin })).json()) as {
      email: { deliveryDelay: unknown };
    };
    expect(config.email.deliveryDelay).toEqual({ distribution: 'constant', ms: 300 });
  });
});
