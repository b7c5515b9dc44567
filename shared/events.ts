/**
 * Names of the structured log events. The Azure portal queries and alert rules (infra/) find
 * the service's logs by these names; change one here and the infra tests tell you where else.
 */
export const events = {
  tokenGenerated: 'TokenGenerated',
  tokenGenerationFailed: 'TokenGenerationFailed',
  consentRequired: 'ConsentRequired',
  consentGranted: 'ConsentGranted',
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
  /** Key Vault's SecretNearExpiry for a token arrived (Event Grid) and that marketplace was rotated at once (`outcome`). */
  secretNearExpiryReceived: 'SecretNearExpiryReceived',
  /** A message on the near-expiry queue that is not a SecretNearExpiry of this environment's tokens: dropped, nothing rotated. */
  secretNearExpiryDropped: 'SecretNearExpiryDropped',
  /** A credential the service uses (client secret, certificate, Connect API key) expires within 30 days. */
  credentialExpiring: 'CredentialExpiring',
  /** A token's latest version is one the service did not write, or is disabled: a person must look. */
  tokenNeedsAttention: 'TokenNeedsAttention',
  /** A stored token whose marketplace has no usable entry in the configuration file (removed, mistyped, invalid): rotation cannot keep it alive. */
  tokenNotConfigured: 'TokenNotConfigured',
  /** Partner Center accepted a token (MFA, role): the only way a token becomes current. */
  tokenVerified: 'TokenVerified',
  /** The credential expiry check of a rotation run could not read the store; the run went on. */
  credentialCheckFailed: 'CredentialCheckFailed',
  /** A message to a marketplace's contacts was decided (shared/notify): recorded before it is sent. */
  notificationQueued: 'NotificationQueued',
  /** Communication Services accepted a message to a marketplace's contacts (its operation id; never the addresses in full). */
  notificationSent: 'NotificationSent',
  /** A message was throttled (429) or met a temporary failure: it stays queued for a later run, never failed for that. */
  notificationDeferred: 'NotificationDeferred',
  /** A message to a marketplace's contacts could not be sent (refused, or temporary failures that did not stop): the operator must look. */
  notificationFailed: 'NotificationFailed',
  /** A queued message no longer needed (someone signed in meanwhile, a new token life began): not sent. */
  notificationDropped: 'NotificationDropped',
} as const;
export type EventName = (typeof events)[keyof typeof events];
