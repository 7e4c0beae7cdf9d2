import { describe, expect, it } from 'vitest';
import { type Hop, nextHop } from './redirects.ts';

const post: Hop = {
  method: 'POST',
  url: 'http://app.test:8080/login?x=1',
  headers: { Authorization: 'Bearer t', Cookie: 'a=1', 'Content-Type': 'text/plain', 'X-Trace': '7' },
  body: Buffer.from('user=budi'),
};

describe("a redirect's next request, as Go's http.Client makes it", () => {
  it.each([301, 302, 303])('%i: a POST becomes a GET without its body', (status) => {
    const next = nextHop(post, post, status, '/home');
    expect(next).toMatchObject({ method: 'GET', url: 'http://app.test:8080/home', body: undefined });
  });

  it.each([307, 308])('%i: the same method and body again', (status) => {
    expect(nextHop(post, post, status, '/again')).toMatchObject({ method: 'POST', body: post.body });
  });

  it('a HEAD stays a HEAD', () => {
    expect(nextHop({ ...post, method: 'HEAD' }, { ...post, method: 'HEAD' }, 302, '/h')?.method).toBe('HEAD');
  });

  it('every header goes along, with the URL redirected from as the Referer (its fragment and user info left out)', () => {
    const from = { ...post, url: 'http://u:p@app.test:8080/login#top' };
    expect(nextHop(post, from, 302, 'http://api.app.test/next')?.headers).toEqual({
      Authorization: 'Bearer t',
      Cookie: 'a=1',
      'Content-Type': 'text/plain',
      'X-Trace': '7',
      Referer: 'http://app.test:8080/login',
    });
  });

  it('credentials and explicit cookies only to the same host or a subdomain of it', () => {
    const headers = nextHop(post, post, 302, 'http://elsewhere.test/x')?.headers ?? {};
    expect(Object.keys(headers).sort()).toEqual(['Content-Type', 'Referer', 'X-Trace']);
  });

  it('no Referer from https to http; a Referer the script set then stays', () => {
    const secure = { ...post, url: 'https://app.test/login', headers: { referer: 'https://app.test/' } };
    expect(nextHop(secure, secure, 302, 'http://app.test/plain')?.headers).toEqual({
      referer: 'https://app.test/',
    });
  });

  it('chains: the headers are the first request’s, the Referer the last hop’s', () => {
    const second = nextHop(post, post, 307, '/two') as Hop;
    const third = nextHop(post, second, 302, '/three') as Hop;
    expect(third.headers.Referer).toBe('http://app.test:8080/two');
    expect(third.method).toBe('GET');
  });

  it('anything else is the answer itself: another status, no Location, a Location that is no URL', () => {
    expect(nextHop(post, post, 200, '/x')).toBeUndefined();
    expect(nextHop(post, post, 304, '/x')).toBeUndefined();
    expect(nextHop(post, post, 302, undefined)).toBeUndefined();
    expect(nextHop(post, post, 302, '')).toBeUndefined();
    expect(nextHop(post, post, 302, 'http://[::1')).toBeUndefined();
  });
});
