/**
 * Reading a message of the near-expiry queue: Key Vault's SecretNearExpiry for a token of this
 * environment in each form it may arrive in (an event or an array of them; times as numbers or as
 * strings), and everything else dropped with a reason.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNearExpiryMessage, type ParsedNearExpiry } from '../../shared/rotation/nearExpiryEvent';
import { parseTokenSecretName, tokenSecretName } from '../../shared/secrets/store';

/** The one result of a message that holds one event (or none). */
function parseOne(message: unknown, environment: 'test' | 'production'): ParsedNearExpiry {
  const results = parseNearExpiryMessage(message, environment);
  expect(results).toHaveLength(1);
  return results[0]!;
}

/**
 * The Key Vault event example of the Event Grid data-plane specification (Azure/azure-rest-api-specs,
 * kept with its licence in test/contracts/azure-rest-api-specs): a SecretNewVersionCreated, with NBF and EXP as strings.
 */
const specExample = JSON.parse(
  readFileSync(join(__dirname, '..', 'contracts', 'azure-rest-api-specs', 'eventgrid-keyvault', 'secret_new_version_created.json'), 'utf8'),
) as { id: string; subject: string; data: Record<string, unknown> };

const version = '0123456789abcdef0123456789abcdef';
const exp = Math.floor(Date.parse('2027-01-20T00:00:00Z') / 1000);

/** An event as Event Grid writes it for Key Vault (Event Grid schema). */
function keyVaultEvent(name: string, overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
  return {
    id: '6f1c3a52-7f7e-4c1e-9c3f-1d2e3f4a5b6c',
    topic: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-test',
    subject: name,
    eventType: 'Microsoft.KeyVault.SecretNearExpiry',
    eventTime: '2026-12-21T00:00:00.000Z',
    data: {
      Id: `https://kv-test.vault.azure.net/secrets/${name}/${version}`,
      VaultName: 'kv-test',
      ObjectType: 'Secret',
      ObjectName: name,
      Version: version,
      NBF: null,
      EXP: exp,
      ...data,
    },
    dataVersion: '1',
    metadataVersion: '1',
    ...overrides,
  };
}

const token = tokenSecretName('MP-12345', 'test');
const expected: ParsedNearExpiry = {
  kind: 'event',
  form: 'object',
  event: {
    environment: 'test',
    marketplace: 'MP-12345',
    version,
    expiresAt: '2027-01-20T00:00:00.000Z',
    eventId: '6f1c3a52-7f7e-4c1e-9c3f-1d2e3f4a5b6c',
  },
};

describe('a SecretNearExpiry of a token of this environment', () => {
  test('is read as the Functions host hands a JSON message over: parsed', () => {
    expect(parseOne(keyVaultEvent(token), 'test')).toEqual(expected);
  });

  test('is read from a JSON string and from base64 of the JSON, in case Event Grid writes either', () => {
    const json = JSON.stringify(keyVaultEvent(token));
    expect(parseOne(json, 'test')).toEqual({ ...expected, form: 'json' });
    expect(parseOne(`\n ${json} \n`, 'test')).toEqual({ ...expected, form: 'json' });
    expect(parseOne(Buffer.from(json).toString('base64'), 'test')).toEqual({ ...expected, form: 'base64' });
    expect(parseOne(Buffer.from(json), 'test')).toEqual({ ...expected, form: 'json' });
  });

  test('names the environment of the deployment that reads it', () => {
    const production = parseOne(keyVaultEvent(tokenSecretName('MP-12345678', 'production')), 'production');
    expect(production).toMatchObject({ kind: 'event', event: { environment: 'production', marketplace: 'MP-12345678' } });
  });

  test('with NBF and EXP as strings, as Microsoft Learn documents the event, reads the expiry all the same', () => {
    const asLearnWritesIt = keyVaultEvent(token, {}, { NBF: '1559081980', EXP: '1559082102' });
    expect(parseOne(asLearnWritesIt, 'test')).toEqual({ ...expected, event: { ...expected.event, expiresAt: '2019-05-28T22:21:42.000Z' } });
    expect(parseOne(Buffer.from(JSON.stringify(asLearnWritesIt)).toString('base64'), 'test')).toMatchObject({
      kind: 'event',
      form: 'base64',
      event: { expiresAt: '2019-05-28T22:21:42.000Z' },
    });
  });

  test('with an EXP that is neither number nor decimal string is still an event (EXP is only logged), without an expiry', () => {
    for (const EXP of ['soon', '1.5e9', 1.5, true, { seconds: 1 }]) {
      expect(parseOne(keyVaultEvent(token, {}, { EXP }), 'test')).toEqual({ ...expected, event: { ...expected.event, expiresAt: undefined } });
    }
  });

  test("the Event Grid specification's Key Vault example, given SecretNearExpiry's type, parses: for a token's name it is that token's event", () => {
    const nearExpiry = { ...specExample, eventType: 'Microsoft.KeyVault.SecretNearExpiry' };
    // As it stands it names a secret `newsecret`: read to the end, and dropped as no token's.
    expect(parseOne(nearExpiry, 'test')).toEqual({ kind: 'dropped', reason: 'not-a-token-secret', form: 'object', eventId: specExample.id });
    const named = { ...nearExpiry, subject: token, data: { ...specExample.data, ObjectName: token } };
    expect(parseOne(JSON.stringify(named), 'test')).toEqual({
      kind: 'event',
      form: 'json',
      event: {
        environment: 'test',
        marketplace: 'MP-12345',
        version: 'ee059b2bb5bc48398a53b168c6cdcb10',
        expiresAt: '2019-05-28T22:21:42.000Z',
        eventId: '00eccf70-95a7-4e7c-8299-2eb17ee9ad64',
      },
    });
  });

  test('without an expiry time or a GUID id still names the marketplace', () => {
    const parsed = parseOne(keyVaultEvent(token, { id: 'not a guid' }, { EXP: null }), 'test');
    expect(parsed).toEqual({ kind: 'event', form: 'object', event: { environment: 'test', marketplace: 'MP-12345', version } });
  });
});

describe('an array of events, the form Learn prints its examples in', () => {
  test('of one event is that event, from the host, as JSON text and as base64', () => {
    const batch = [keyVaultEvent(token)];
    expect(parseNearExpiryMessage(batch, 'test')).toEqual([{ ...expected, batchSize: 1 }]);
    expect(parseNearExpiryMessage(JSON.stringify(batch), 'test')).toEqual([{ ...expected, form: 'json', batchSize: 1 }]);
    expect(parseNearExpiryMessage(Buffer.from(JSON.stringify(batch)).toString('base64'), 'test')).toEqual([
      { ...expected, form: 'base64', batchSize: 1 },
    ]);
  });

  test('of several is read element by element: each token event, and a reason for each other element', () => {
    const other = tokenSecretName('MP-67890', 'test');
    const batch = [keyVaultEvent(token), 'not an event', keyVaultEvent(other, { id: 'x' }, { EXP: String(exp) }), keyVaultEvent('cpv-client-secret')];
    expect(parseNearExpiryMessage(batch, 'test')).toEqual([
      { ...expected, batchSize: 4 },
      { kind: 'dropped', reason: 'not-an-event', form: 'object', batchSize: 4 },
      {
        kind: 'event',
        form: 'object',
        batchSize: 4,
        event: { environment: 'test', marketplace: 'MP-67890', version, expiresAt: '2027-01-20T00:00:00.000Z' },
      },
      { kind: 'dropped', reason: 'not-a-token-secret', form: 'object', batchSize: 4, eventId: '6f1c3a52-7f7e-4c1e-9c3f-1d2e3f4a5b6c' },
    ]);
  });
});

describe('anything else is dropped, with a reason and only validated facts', () => {
  test.each<[string, unknown]>([
    ['not JSON', 'hello'],
    ['base64 of something that is not JSON', Buffer.from('hello there').toString('base64')],
    ['broken JSON', '{"eventType":'],
    ['null', null],
    ['a number', 42],
    ['an empty string', ''],
    ['a message far over the 64 KiB a queue holds', JSON.stringify(keyVaultEvent(token, { padding: 'x'.repeat(100_000) }))],
  ])('%s: unreadable', (_, message) => {
    expect(parseOne(message, 'test')).toMatchObject({ kind: 'dropped', reason: 'unreadable' });
  });

  test.each<[string, unknown]>([
    ['an empty object', {}],
    ['no subject', { eventType: 'Microsoft.KeyVault.SecretNearExpiry', data: {} }],
    [
      'a CloudEvents event (the subscription delivers the Event Grid schema)',
      { specversion: '1.0', type: 'Microsoft.KeyVault.SecretNearExpiry', subject: token },
    ],
    ['no data', keyVaultEvent(token, { data: undefined })],
    ['a certificate, not a secret', keyVaultEvent(token, {}, { ObjectType: 'Certificate' })],
    ['an object name other than the subject', keyVaultEvent(token, {}, { ObjectName: tokenSecretName('MP-99999', 'test') })],
    ['a version that is not a Key Vault version id', keyVaultEvent(token, {}, { Version: '../../x' })],
    ['an empty array', []],
    ['an array in an array', [[keyVaultEvent(token)]]],
  ])('%s: not an event', (_, message) => {
    expect(parseOne(message, 'test')).toMatchObject({ kind: 'dropped', reason: 'not-an-event' });
  });

  test.each(['Microsoft.KeyVault.SecretNewVersionCreated', 'Microsoft.KeyVault.SecretExpired', 'Microsoft.EventGrid.SubscriptionValidationEvent'])(
    '%s: another event type',
    (eventType) => {
      expect(parseOne(keyVaultEvent(token, { eventType }), 'test')).toEqual({
        kind: 'dropped',
        reason: 'other-event-type',
        form: 'object',
        eventId: '6f1c3a52-7f7e-4c1e-9c3f-1d2e3f4a5b6c',
      });
    },
  );

  test.each([
    'cpv-client-secret',
    'refresh-token-',
    'refresh-token-test-',
    'refresh-token-test-MP-1234',
    'refresh-token-test-MP-123456789',
    'refresh-token-test-mp-12345',
    'refresh-token-test-MP-12345-old',
    'refresh-token-test-MP-12345\n',
    'refresh-token-staging-MP-12345',
    'Refresh-Token-test-MP-12345',
    'refresh-token-test-<script>',
  ])('%j: not a token secret', (name) => {
    const parsed = parseOne(keyVaultEvent(name), 'test');
    expect(parsed).toMatchObject({ kind: 'dropped', reason: 'not-a-token-secret' });
    // The name a message brings is never handed on, not even in part.
    expect(JSON.stringify(parsed)).not.toContain('script');
  });

  test("a token of the other environment: not this deployment's", () => {
    expect(parseOne(keyVaultEvent(tokenSecretName('MP-12345', 'production')), 'test')).toMatchObject({
      kind: 'dropped',
      reason: 'other-environment',
      environment: 'production',
      marketplace: 'MP-12345',
    });
    expect(parseOne(keyVaultEvent(token), 'production')).toMatchObject({ reason: 'other-environment', environment: 'test' });
  });
});

describe('token secret names', () => {
  test('are read back into the environment and marketplace they were built from, and nothing else is', () => {
    expect(parseTokenSecretName(tokenSecretName('MP-00001', 'test'))).toEqual({ environment: 'test', marketplace: 'MP-00001' });
    expect(parseTokenSecretName(tokenSecretName('MP-12345678', 'production'))).toEqual({ environment: 'production', marketplace: 'MP-12345678' });
    for (const name of ['refresh-token-test', 'refresh-token-production-MP-1', 'partner-secret-MP-00001', 'refresh-token-test-MP-00001 ']) {
      expect(parseTokenSecretName(name)).toBeUndefined();
    }
  });
});
