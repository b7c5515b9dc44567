/**
 * Reading a message of the near-expiry queue: Key Vault's SecretNearExpiry for a token of this
 * environment in each form it may arrive in, and everything else dropped with a reason.
 */
import { parseNearExpiryMessage, type ParsedNearExpiry } from '../../shared/rotation/nearExpiryEvent';
import { parseTokenSecretName, tokenSecretName } from '../../shared/secrets/store';

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
    expect(parseNearExpiryMessage(keyVaultEvent(token), 'test')).toEqual(expected);
  });

  test('is read from a JSON string and from base64 of the JSON, in case Event Grid writes either', () => {
    const json = JSON.stringify(keyVaultEvent(token));
    expect(parseNearExpiryMessage(json, 'test')).toEqual({ ...expected, form: 'json' });
    expect(parseNearExpiryMessage(`\n ${json} \n`, 'test')).toEqual({ ...expected, form: 'json' });
    expect(parseNearExpiryMessage(Buffer.from(json).toString('base64'), 'test')).toEqual({ ...expected, form: 'base64' });
    expect(parseNearExpiryMessage(Buffer.from(json), 'test')).toEqual({ ...expected, form: 'json' });
  });

  test('names the environment of the deployment that reads it', () => {
    const production = parseNearExpiryMessage(keyVaultEvent(tokenSecretName('MP-12345678', 'production')), 'production');
    expect(production).toMatchObject({ kind: 'event', event: { environment: 'production', marketplace: 'MP-12345678' } });
  });

  test('without an expiry time or a GUID id still names the marketplace', () => {
    const parsed = parseNearExpiryMessage(keyVaultEvent(token, { id: 'not a guid' }, { EXP: null }), 'test');
    expect(parsed).toEqual({ kind: 'event', form: 'object', event: { environment: 'test', marketplace: 'MP-12345', version } });
  });
});

describe('anything else is dropped, with a reason and only validated facts', () => {
  test.each<[string, unknown]>([
    ['not JSON', 'hello'],
    ['base64 of something that is not JSON', Buffer.from('hello there').toString('base64')],
    ['a JSON array (Event Grid writes one event per message)', [keyVaultEvent(token)]],
    ['a JSON array as text', JSON.stringify([keyVaultEvent(token)])],
    ['broken JSON', '{"eventType":'],
    ['null', null],
    ['a number', 42],
    ['an empty string', ''],
    ['a message far over the 64 KiB a queue holds', JSON.stringify(keyVaultEvent(token, { padding: 'x'.repeat(100_000) }))],
  ])('%s: unreadable', (_, message) => {
    expect(parseNearExpiryMessage(message, 'test')).toMatchObject({ kind: 'dropped', reason: 'unreadable' });
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
  ])('%s: not an event', (_, message) => {
    expect(parseNearExpiryMessage(message, 'test')).toMatchObject({ kind: 'dropped', reason: 'not-an-event' });
  });

  test.each(['Microsoft.KeyVault.SecretNewVersionCreated', 'Microsoft.KeyVault.SecretExpired', 'Microsoft.EventGrid.SubscriptionValidationEvent'])(
    '%s: another event type',
    (eventType) => {
      expect(parseNearExpiryMessage(keyVaultEvent(token, { eventType }), 'test')).toEqual({
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
    const parsed = parseNearExpiryMessage(keyVaultEvent(name), 'test');
    expect(parsed).toMatchObject({ kind: 'dropped', reason: 'not-a-token-secret' });
    // The name a message brings is never handed on, not even in part.
    expect(JSON.stringify(parsed)).not.toContain('script');
  });

  test("a token of the other environment: not this deployment's", () => {
    expect(parseNearExpiryMessage(keyVaultEvent(tokenSecretName('MP-12345', 'production')), 'test')).toMatchObject({
      kind: 'dropped',
      reason: 'other-environment',
      environment: 'production',
      marketplace: 'MP-12345',
    });
    expect(parseNearExpiryMessage(keyVaultEvent(token), 'production')).toMatchObject({ reason: 'other-environment', environment: 'test' });
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
