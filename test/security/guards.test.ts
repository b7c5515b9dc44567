/**
 * The guards that keep state, on their own (docs/SECURITY.md 28, 29): the token bucket, the
 * per-client limiter and its bounded table, the client address taken from X-Forwarded-For, and
 * the replay guard. Clocks are passed in, so nothing here waits or depends on timing.
 */
import { addressOf, clientKeyOf, unknownClient } from '../../shared/guards/clientAddress';
import { ClientRateLimiter } from '../../shared/guards/rateLimiter';
import { signInBounds } from '../../shared/guards/signInBounds';
import { drawn, fullBucket, isFull, refilled, waitForToken } from '../../shared/guards/tokenBucket';

const headers = (xff?: string) => ({ get: (name: string) => (name === 'x-forwarded-for' ? (xff ?? null) : null) });

describe('token bucket', () => {
  const rate = { capacity: 3, refillEveryMs: 1_000 };

  it('lets a burst of `capacity` through, then one per refill interval, and says how long to wait', () => {
    let b = fullBucket(rate, 0);
    for (let i = 0; i < 3; i++) {
      expect(waitForToken(b, rate, 0)).toBe(0);
      b = drawn(b, rate, 0);
    }
    expect(waitForToken(b, rate, 0)).toBe(1_000);
    expect(waitForToken(b, rate, 400)).toBe(600);
    expect(waitForToken(b, rate, 1_000)).toBe(0);
    expect(isFull(b, rate, 2_999)).toBe(false);
    expect(isFull(b, rate, 3_000)).toBe(true);
  });

  it('never holds more than its capacity, and a clock stepping back drains nothing', () => {
    const b = drawn(fullBucket(rate, 0), rate, 0);
    expect(refilled(b, rate, 1_000_000).tokens).toBe(3);
    expect(refilled(b, rate, -5_000)).toEqual({ tokens: 2, at: 0 });
  });
});

describe('per-client and overall limiter', () => {
  function limiter(o: { maxClients?: number } = {}) {
    let now = 0;
    const l = new ClientRateLimiter(
      { perClient: { capacity: 2, refillEveryMs: 10_000 }, overall: { capacity: 3, refillEveryMs: 1_000 }, maxClients: o.maxClients ?? 100 },
      () => now,
    );
    return { l, at: (t: number) => (now = t) };
  }

  it('refuses a client over its own bound while another client still gets through', () => {
    const { l } = limiter();
    expect(l.admit('a')).toEqual({ admitted: true });
    expect(l.admit('a')).toEqual({ admitted: true });
    expect(l.admit('a')).toEqual({ admitted: false, limit: 'client', retryAfterMs: 10_000 });
    expect(l.admit('b')).toEqual({ admitted: true });
  });

  it('refuses everyone over the overall bound, and a refusal costs the client nothing', () => {
    const { l, at } = limiter();
    expect(['a', 'b', 'c'].map((c) => l.admit(c).admitted)).toEqual([true, true, true]);
    expect(l.admit('d')).toEqual({ admitted: false, limit: 'overall', retryAfterMs: 1_000 });
    expect(l.admit('d')).toEqual({ admitted: false, limit: 'overall', retryAfterMs: 1_000 });
    at(1_000);
    // d's refused attempts did not draw from its own bucket: both of its requests are still there.
    expect(l.admit('d')).toEqual({ admitted: true });
    at(2_000);
    expect(l.admit('d')).toEqual({ admitted: true });
  });

  it('fails closed when its table of clients is full: a new client is refused, known ones are served', () => {
    const { l, at } = limiter({ maxClients: 2 });
    expect(l.admit('a').admitted).toBe(true);
    at(1_000);
    expect(l.admit('b').admitted).toBe(true);
    at(2_000);
    const refused = l.admit('c');
    expect(refused).toEqual({ admitted: false, limit: 'table-full', retryAfterMs: expect.any(Number) });
    // Until a's bucket is full again (1 request back every 10 s, drawn at 0 s): 10 s from the start.
    expect(refused.admitted === false && refused.retryAfterMs).toBe(8_000);
    expect(l.admit('a').admitted).toBe(true);
    expect(l.size).toBe(2);
  });

  it('forgets a client once its bucket is full again, so the table holds only recent clients', () => {
    const { l, at } = limiter({ maxClients: 2 });
    l.admit('a');
    at(5_000);
    l.admit('b');
    at(11_000);
    // a is full again (one request back per 10 s), b not yet: c takes a's place.
    expect(l.admit('c').admitted).toBe(true);
    expect(l.size).toBe(2);
    // A minute later every bucket is full: only the newcomer is remembered.
    at(71_000);
    expect(l.admit('d').admitted).toBe(true);
    expect(l.size).toBe(1);
  });
});

describe('the production bounds cannot lock a person out for long, nor fill the guards', () => {
  it('a person who used up the bound gets another attempt within 6 seconds, and all ten back within a minute', () => {
    for (const bounds of Object.values(signInBounds)) {
      expect(bounds.perClient.capacity).toBeGreaterThanOrEqual(10);
      expect(bounds.perClient.refillEveryMs).toBeLessThanOrEqual(6_000);
      expect(bounds.perClient.capacity * bounds.perClient.refillEveryMs).toBeLessThanOrEqual(60_000);
      // Overall: a few per second, a burst of tens.
      expect(1_000 / bounds.overall.refillEveryMs).toBeLessThanOrEqual(5);
    }
  });

  it('the client tables cannot fill either: clients are forgotten a minute after their last request, and the overall bound admits far fewer in a minute', () => {
    for (const bounds of Object.values(signInBounds)) {
      const forgottenAfterMs = bounds.perClient.capacity * bounds.perClient.refillEveryMs;
      const admittedMeanwhile = bounds.overall.capacity + forgottenAfterMs / bounds.overall.refillEveryMs;
      expect(admittedMeanwhile * 10).toBeLessThan(bounds.maxClients);
    }
  });
});

describe("client address (the rightmost X-Forwarded-For entry, the front end's own)", () => {
  it.each([
    ['203.0.113.7', 'ipv4:203.0.113.7'],
    ['203.0.113.7:54321', 'ipv4:203.0.113.7'],
    ['198.51.100.1, 203.0.113.7:54321', 'ipv4:203.0.113.7'],
    ['evil, 10.0.0.1, 203.0.113.7:1', 'ipv4:203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', 'ipv6:2001:db8:1:2::/64'],
    ['[2001:db8:1:2::99]:443', 'ipv6:2001:db8:1:2::/64'],
    ['[2001:DB8:1:2:ffff::1]', 'ipv6:2001:db8:1:2::/64'],
    ['::ffff:203.0.113.7', 'ipv4:203.0.113.7'],
    ['[::ffff:cb00:7107]:80', 'ipv4:203.0.113.7'],
    ['[::1]:5000', 'ipv6:0:0:0:0::/64'],
  ])('%s → %s', (xff, key) => {
    expect(clientKeyOf(headers(xff))).toBe(key);
  });

  it('one client cannot pose as many: anything it adds on the left is ignored, a whole /64 is one client', () => {
    const keys = new Set([1, 2, 3].map((i) => clientKeyOf(headers(`10.0.0.${i}, 198.51.100.${i}, 203.0.113.7:4000${i}`))));
    expect([...keys]).toEqual(['ipv4:203.0.113.7']);
    const v6 = new Set(['2001:db8:aa:bb::1', '2001:db8:aa:bb:ffff:ffff:ffff:ffff', '2001:db8:aa:bb:1234::'].map((a) => clientKeyOf(headers(a))));
    expect([...v6]).toEqual(['ipv6:2001:db8:aa:bb::/64']);
    expect(clientKeyOf(headers('2001:db8:aa:bc::1'))).not.toBe('ipv6:2001:db8:aa:bb::/64');
  });

  it.each([[undefined], [''], ['not an address'], ['203.0.113.7, '], ['999.1.1.1'], ['[203.0.113.7]:80'], ['2001:db8::1:80:x'], ['<script>']])(
    'no readable address (%p): the shared "unknown" client, bounded like any other',
    (xff) => {
      expect(clientKeyOf(headers(xff))).toBe(unknownClient);
    },
  );

  it('reads each entry form App Service and proxies write', () => {
    expect(addressOf('203.0.113.7:80')).toBe('203.0.113.7');
    expect(addressOf('[2001:db8::1]:80')).toBe('2001:db8::1');
    expect(addressOf('2001:db8::1')).toBe('2001:db8::1');
    expect(addressOf('2001:db8::1:80')).toBe('2001:db8::1:80');
    expect(addressOf('host.example:80')).toBeUndefined();
  });
});
