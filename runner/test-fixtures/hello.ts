import { check, sleep } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';

const greeted = new Counter('greeted');

export const options = {
  scenarios: {
    hello: {
      executor: 'constant-arrival-rate',
      rate: 20,
      timeUnit: '1s',
      duration: '2s',
      preAllocatedVUs: 5,
    },
  },
  thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{step:hello}': ['p(95)<1000'] },
};

export default async function () {
  const res = await http.asyncRequest('GET', `${__ENV.TARGET}/hello`, null, { tags: { step: 'hello' } });
  check(res, { 'status is 200': (r) => r.status === 200 });
  greeted.add(1);
  await sleep(0.01);
}
