/**
 * Names of the structured log events. The Azure portal queries and alert rules (infra/) find
 * the service's logs by these names; change one here and the infra tests tell you where else.
 */
export const events = {
  tokenGenerated: 'TokenGenerated',
  tokenGenerationFailed: 'TokenGenerationFailed',
  consentRequired: 'ConsentRequired',
  requestRefused: 'RequestRefused',
  rotationRunCompleted: 'RotationRunCompleted',
  rotationRunFailed: 'RotationRunFailed',
  rotationTokenFailed: 'RotationTokenFailed',
  rotationRetry: 'RotationRetry',
  rotationTimerPastDue: 'RotationTimerPastDue',
  tokenNeedsReauth: 'TokenNeedsReauth',
  invalidClient: 'InvalidClient',
  connectSyncFailed: 'ConnectSyncFailed',
  connectSyncPending: 'ConnectSyncPending',
  connectSyncCompleted: 'ConnectSyncCompleted',
  connectSyncNotRecorded: 'ConnectSyncNotRecorded',
  configurationInvalid: 'ConfigurationInvalid',
} as const;
export type EventName = (typeof events)[keyof typeof events];
