/**
 * What a near-expiry message leads to besides the rotation itself: the queue's last delivery of a
 * rotation that keeps failing, and settings an operator broke, are both said out loud.
 */
import { randomBytes } from 'node:crypto';
import { rotateOnNearExpiry } from '../../shared/rotation/nearExpiry';
import type { RotationSummary } from '../../shared/rotation/outcomes';
import { loadSettings } from '../../shared/settings';

const version = '0123456789abcdef0123456789abcdef';
const name = 'refresh-token-test-MP-12345';
const message = {
  id: '6f1c3a52-7f7e-4c1e-9c3f-1d2e3f4a5b6c',
  subject: name,
  eventType: 'Microsoft.KeyVault.SecretNearExpiry',
  eventTime: '2026-12-21T00:00:00.000Z',
  data: {
    Id: `https://kv.vault.azure.net/secrets/${name}/${version}`,
    VaultName: 'kv',
    ObjectType: 'Secret',
    ObjectName: name,
    Version: version,
    NBF: null,
    EXP: 1800000000,
  },
  dataVersion: '1',
  metadataVersion: '1',
};
const settings = loadSettings({
  SERVICE_ENVIRONMENT: 'test',
  CALLBACK_URL: 'https://app.example/api/callback',
  KEY_VAULT_URL: 'https://kv.vault.azure.net',
  AzureWebJobsStorage__accountName: 'stfuncapp0001',
  TRANSACTION_COOKIE_KEY: randomBytes(32).toString('base64url'),
});
const transientRun = async (): Promise<RotationSummary> =>
  ({ runId: 'r', results: [{ marketplace: 'MP-12345', outcome: 'transient', reason: 'unavailable' }] }) as unknown as RotationSummary;

function logger() {
  const lines: string[] = [];
  const push = (m: unknown) => lines.push(String(m));
  return { lines, info: push, warn: push, error: push };
}

describe('near-expiry deliveries', () => {
  it('a transient ending asks for another delivery; on the last one it is an alerted RotationRunFailed as well', async () => {
    for (const [dequeueCount, alerted] of [
      [1, false],
      [5, true],
    ] as const) {
      const log = logger();
      await expect(
        rotateOnNearExpiry(message, { settings: () => settings, rotate: transientRun, logger: log, correlationId: 'c', dequeueCount }),
      ).rejects.toMatchObject({
        code: 'rotation_incomplete',
      });
      expect(log.lines.some((l) => l.includes('"event":"RotationRunFailed"'))).toBe(alerted);
    }
  });

  it('invalid settings: RotationRunFailed and ConfigurationInvalid, and no retry storm', async () => {
    const log = logger();
    const result = await rotateOnNearExpiry(message, {
      settings: () => loadSettings({ SERVICE_ENVIRONMENT: 'staging' }),
      rotate: transientRun,
      logger: log,
      correlationId: 'c',
    });
    expect(result).toEqual([expect.objectContaining({ kind: 'failed', code: 'settings_invalid' })]);
    expect(log.lines.some((l) => l.includes('"event":"ConfigurationInvalid"') && l.includes('SERVICE_ENVIRONMENT'))).toBe(true);
  });

  it('an array of events rotates each marketplace in it, in turn, and says what became of each', async () => {
    const other = {
      ...message,
      subject: 'refresh-token-test-MP-67890',
      data: { ...message.data, ObjectName: 'refresh-token-test-MP-67890', EXP: '1800000000' },
    };
    const rotated: string[] = [];
    const log = logger();
    const results = await rotateOnNearExpiry(JSON.stringify([message, other, { eventType: 'Microsoft.KeyVault.SecretNearExpiry' }]), {
      settings: () => settings,
      rotate: async (_, marketplace) => {
        rotated.push(marketplace);
        return { runId: 'r', results: [{ marketplace, outcome: 'rotated' }] } as unknown as RotationSummary;
      },
      logger: log,
      correlationId: 'c',
    });
    expect(rotated).toEqual(['MP-12345', 'MP-67890']);
    expect(results).toEqual([
      { kind: 'rotation', marketplace: 'MP-12345', outcome: 'rotated' },
      { kind: 'rotation', marketplace: 'MP-67890', outcome: 'rotated' },
      { kind: 'dropped', reason: 'not-an-event' },
    ]);
    const received = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === 'SecretNearExpiryReceived');
    expect(received.map((e) => [e.marketplace, e.batchSize, e.expiresAt])).toEqual([
      ['MP-12345', 3, '2027-01-15T08:00:00.000Z'],
      ['MP-67890', 3, '2027-01-15T08:00:00.000Z'],
    ]);
  });
});
