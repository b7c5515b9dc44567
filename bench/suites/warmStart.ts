/**
 * The start page warm, under concurrent load: GET and POST /api/start of the deployment package
 * next to GET /api/hello of the hello-world package, each served by its own bench/worker.ts,
 * loaded by autocannon from this process; rounds interleaved after a warm-up of each target.
 * No goal holds these figures; they are here so a change to the request path can be compared.
 */
import autocannon from 'autocannon';
import { figure, type Figure } from '../lib/figures';
import { round, median } from '../lib/stats';
import { stopChild } from '../world/world';
import type { Suite, SuiteContext, SuiteOutput } from './suite';

interface Target {
  key: 'hello' | 'get' | 'post';
  label: string;
  path: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  expect: '2xx' | '3xx' | '4xx';
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  unexpected: number;
}

async function load(url: string, t: Target, seconds: number, connections: number): Promise<Sample> {
  const result = await autocannon({
    url: url + t.path,
    method: t.method,
    connections,
    duration: seconds,
    ...(t.headers ? { headers: t.headers } : {}),
    ...(t.body !== undefined ? { body: t.body } : {}),
  });
  const answered = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  const expected = result[t.expect];
  return {
    rps: answered / (result.duration || seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    unexpected: answered - expected + result.errors + result.timeouts,
  };
}

async function run({ world, quick, progress }: SuiteContext): Promise<SuiteOutput> {
  const rounds = quick ? 1 : 5;
  const seconds = quick ? 2 : 3;
  const connections = 16;
  const packages = await world.packages();
  const form = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };
  const targets: Target[] = [
    { key: 'hello', label: 'GET /api/hello (hello-world)', path: '/api/hello', method: 'GET', expect: '2xx' },
    { key: 'get', label: 'GET /api/start', path: '/api/start', method: 'GET', expect: '2xx' },
    {
      key: 'post',
      // Past the first few, the sign-in bounds (docs/SECURITY.md 29) refuse them: 429 before
      // anything is sealed or sent. What this measures is the cost of that refusal under load.
      label: 'POST /api/start (marketplace=MP-00001), refused by the sign-in bounds (429)',
      path: '/api/start',
      method: 'POST',
      headers: form,
      body: 'marketplace=MP-00001',
      expect: '4xx',
    },
  ];
  const hello = await world.serve(packages.hello);
  const service = await world.serve(packages.service);
  try {
    const urlOf = (t: Target) => (t.key === 'hello' ? hello : service).first.url;
    for (const t of targets) await load(urlOf(t), t, 1, connections);
    const samples = new Map<Target['key'], Sample[]>(targets.map((t) => [t.key, []]));
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) samples.get(t.key)!.push(await load(urlOf(t), t, seconds, connections));
      progress(`  warm start page: ${r + 1}/${rounds} rounds`);
    }
    const m = (key: Target['key'], f: (s: Sample) => number) => median(samples.get(key)!.map(f));
    const helloRps = m('hello', (s) => s.rps);
    const figures: Figure[] = [];
    for (const t of targets) {
      figures.push(
        figure({
          id: `warm-start.${t.key}-rps`,
          label: `${t.label}, throughput`,
          value: round(
            m(t.key, (s) => s.rps),
            0,
          ),
          unit: 'req/s',
          digits: 0,
          ...(t.key !== 'hello' ? { baseline: { label: 'hello-world', value: round(helloRps, 0), unit: 'req/s', digits: 0 } } : {}),
        }),
      );
    }
    return {
      parameters: { rounds, 'seconds per round': seconds, connections, 'server processes': 'one bench/worker.ts per package' },
      figures,
      tables: [
        {
          title: 'Warm start page under load (medians of rounds)',
          columns: ['request', 'throughput (req/s)', 'vs hello-world', 'p50 (ms)', 'p99 (ms)', 'unexpected answers'],
          rows: targets.map((t) => [
            t.label,
            round(
              m(t.key, (s) => s.rps),
              0,
            ),
            `${round((100 * m(t.key, (s) => s.rps)) / helloRps, 0)} %`,
            round(
              m(t.key, (s) => s.p50),
              1,
            ),
            round(
              m(t.key, (s) => s.p99),
              1,
            ),
            samples.get(t.key)!.reduce((a, s) => a + s.unexpected, 0),
          ]),
        },
      ],
    };
  } finally {
    await stopChild(hello.process);
    await stopChild(service.process);
  }
}

export const warmStartSuite: Suite = { id: 'warm-start', title: 'The start page, warm', run };
