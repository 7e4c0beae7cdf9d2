/**
 * What of k6's everyday API the embedded runner does not implement, with what to write instead.
 * A script that calls any of it is refused before its first request (script-check.ts), and a call
 * that the check could not see (a computed name) stops the test at once (the modules' guards):
 * either way exit 107 naming the call, never a run that is green because nothing was sent.
 */

const request = (method: string) =>
  `await http.asyncRequest('${method}', url, ${method === 'GET' || method === 'HEAD' ? 'null' : 'body'}, params)`;

/** For each k6 module, its functions that are not implemented, and the portable way (if any). */
export const UNSUPPORTED: Record<string, Record<string, string>> = {
  k6: {
    group:
      'no equivalent: with async code k6 cannot attribute time to a group either; tag the requests instead (params.tags, e.g. { tags: { group: "home" } })',
  },
  'k6/http': {
    get: request('GET'),
    post: request('POST'),
    put: request('PUT'),
    patch: request('PATCH'),
    del: request('DELETE'),
    head: request('HEAD'),
    options: request('OPTIONS'),
    request: 'await http.asyncRequest(method, url, body, params)',
    batch: 'await Promise.all(requests.map((r) => http.asyncRequest(...)))',
    cookieJar:
      "no cookie jar object: each VU's own jar keeps and sends cookies by itself; params.cookies adds or replaces one for a request",
    CookieJar:
      "no cookie jar object: each VU's own jar keeps and sends cookies by itself; params.cookies adds or replaces one for a request",
    url: 'a template string, with params.tags.name to group the URLs',
  },
};

/** Response methods that need an HTML parser, which the runner does not have. */
export const RESPONSE_METHODS: Record<string, string> = {
  html: 'no HTML parsing: read res.body',
  submitForm: 'no HTML parsing: send the form with http.asyncRequest',
  clickLink: 'no HTML parsing: request the link with http.asyncRequest',
};

/** gjson path syntax that `res.json(selector)` does not evaluate (modules/json.ts). */
export const JSON_SELECTOR =
  "the runner's selectors are gjson's keys, wildcards (* ?), \\ escapes, array indexes and '#', not its queries #(...), modifiers @, pipes | or multipaths: read res.json() and pick in JavaScript";

/** How a call is named to the user: `http.get(...)`, `group(...)`, `res.html(...)`. */
function callName(module: string, name: string): string {
  if (module === 'Response') return `res.${name}(...)`;
  if (module === 'Response.json') return `res.json(${JSON.stringify(name)})`;
  return module === 'k6' ? `${name}(...)` : `http.${name}(...)`;
}

/** "http.get(...) → await http.asyncRequest('GET', ...)": the call and what to write instead. */
export function refusal(module: string, name: string): string {
  const instead =
    module === 'Response'
      ? RESPONSE_METHODS[name]
      : module === 'Response.json'
        ? JSON_SELECTOR
        : UNSUPPORTED[module]?.[name];
  return `${callName(module, name)} → ${instead ?? 'no equivalent'}`;
}
