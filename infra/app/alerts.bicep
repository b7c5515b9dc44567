// Alert rules over what the service logs and over what it should log but does not.
//
// The app's log lines reach Application Insights `traces` with `message` = one JSON object,
// e.g. {"event":"TokenNeedsReauth","marketplace":"MP-12345",...}; its fields are not in
// customDimensions, so every query parses `message`. Event names come from shared/events.ts
// (the infra tests fail if a name here is not one the code writes). `has` narrows the scan
// with the term index before the JSON is parsed; the exact match on `event` then keeps only
// the service's own entries.

@description('Required. Name of the Application Insights component the app logs to.')
param applicationInsightsName string

@description('Required. Name of the Key Vault whose audit log the token-write watch reads.')
param keyVaultName string

@description('Required. Name of the queue the near-expiry trigger reads; the Functions host moves a message it failed on to `<name>-poison`.')
param nearExpiryQueueName string

@description('Required. Which deployment this is; shown in the alert names.')
@allowed([
  'test'
  'production'
])
param serviceEnvironment string

@description('Required. Prefix of the alert rule names.')
param namePrefix string

@description('Optional. Resource IDs of the action groups that receive the alerts.')
param actionGroupIds string[] = []

@description('Optional. Azure region of the alert rules.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource keyVault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

// One alert per marketplace, so each one names the marketplace to fix.
var splitByMarketplace = [
  {
    name: 'marketplace'
    operator: 'Include'
    values: [
      '*'
    ]
  }
]

// One alert per credential (its Key Vault name), so each one names the secret or certificate to renew.
var splitByCredential = [
  {
    name: 'credential'
    operator: 'Include'
    values: [
      '*'
    ]
  }
]

// One alert per reason a near-expiry message was dropped (DropReason, shared/rotation/nearExpiryEvent.ts).
var splitByReason = [
  {
    name: 'reason'
    operator: 'Include'
    values: [
      '*'
    ]
  }
]

// What the Functions host logs (Warning, to the same `traces`) when it moves a message to the poison
// queue, after host.json's maxDequeueCount deliveries: "Message has reached MaxDequeueCount of 5.
// Moving message to queue 'secret-near-expiry-poison'." (Azure/azure-sdk-for-net, the Storage Queues
// extension's QueueProcessor.CopyMessageToPoisonQueueAsync). A log rule, not a storage metric: Queue
// Storage's message count has no queue dimension (Learn, "Supported metrics for
// Microsoft.Storage/storageAccounts/queueServices"), so it cannot tell the poison queue from the others.
var poisonQueueName = '${nearExpiryQueueName}-poison'

// An event to act on: fires on each 15-minute window with at least one such line, and does
// not resolve itself (the line does not "heal").
var onEvent = {
  evaluationFrequency: 'PT15M'
  windowSize: 'PT15M'
  operator: 'GreaterThan'
  threshold: 0
  autoMitigate: false
}

// Something that should happen and did not: looks back two days (the longest window a log
// alert has), counts the lines of the period the query names, fires on fewer than one (zero
// rows included), and resolves itself once the lines come back.
var onSilence = {
  evaluationFrequency: 'PT1H'
  windowSize: 'P2D'
  operator: 'LessThan'
  threshold: 1
  autoMitigate: true
}

var alertRules = [
  union(onEvent, {
    name: 'rotation-run-failed'
    source: 'app'
    displayName: 'Refresh-token rotation run failed'
    description: 'A rotation run stopped with an error. No token was rotated by that run; the previous versions stay valid. Look at the run\'s trace in Application Insights.'
    severity: 1
    dimensions: []
    query: '''
traces
| where message has "RotationRunFailed"
| extend entry = parse_json(message)
| where tostring(entry.event) == "RotationRunFailed"
'''
  })
  union(onEvent, {
    name: 'token-needs-reauth'
    source: 'app'
    displayName: 'A refresh token needs a person'
    description: 'Microsoft refused a stored refresh token (expired, revoked, consent, MFA or conditional access). The distributor\'s admin must generate a new one at the start URL.'
    severity: 2
    dimensions: splitByMarketplace
    query: '''
traces
| where message has "TokenNeedsReauth"
| extend entry = parse_json(message)
| where tostring(entry.event) == "TokenNeedsReauth"
| extend marketplace = tostring(entry.marketplace)
'''
  })
  union(onEvent, {
    name: 'token-needs-attention'
    source: 'app'
    displayName: 'A stored token needs a look'
    description: 'The latest version of a token secret is one the service did not write, or is disabled. Look at the secret\'s versions and tags in Key Vault before the next rotation.'
    severity: 2
    dimensions: splitByMarketplace
    query: '''
traces
| where message has "TokenNeedsAttention"
| extend entry = parse_json(message)
| where tostring(entry.event) == "TokenNeedsAttention"
| extend marketplace = tostring(entry.marketplace)
'''
  })
  union(onEvent, {
    name: 'token-not-configured'
    source: 'app'
    displayName: 'A stored token has no usable marketplace entry'
    description: 'Rotation found a refresh token whose marketplace is missing from the configuration file or whose entry is invalid (a removed or mistyped entry, a look-alike ID). Nothing rotates it, so it dies 90 days after its last use. Fix the entry (npm run config:check) and deploy; the status page lists the token.'
    severity: 2
    dimensions: splitByMarketplace
    query: '''
traces
| where message has "TokenNotConfigured"
| extend entry = parse_json(message)
| where tostring(entry.event) == "TokenNotConfigured"
| extend marketplace = tostring(entry.marketplace)
'''
  })
  union(onEvent, {
    name: 'invalid-client'
    source: 'app'
    displayName: 'Entra app credentials rejected (invalid_client)'
    description: 'Microsoft rejected an app\'s client credentials: its client secret or certificate is wrong or expired, or the CPV app does not trust the managed identity (its federated credential names another issuer, subject or audience). Rotation stopped for that app; no token was marked dead.'
    severity: 1
    dimensions: []
    query: '''
traces
| where message has "InvalidClient"
| extend entry = parse_json(message)
| where tostring(entry.event) == "InvalidClient"
'''
  })
  union(onEvent, {
    name: 'credential-expiring'
    source: 'app'
    displayName: 'A credential the service uses expires within 30 days'
    description: 'A client secret, a CSP app\'s certificate or the Connect API key expires soon (the app warns on the day 30 and 14 days are left, then daily from 7). Add a new one and put it into Key Vault under the same name before the old one expires; the status page lists every credential with its days left.'
    severity: 2
    dimensions: splitByCredential
    query: '''
traces
| where message has "CredentialExpiring"
| extend entry = parse_json(message)
| where tostring(entry.event) == "CredentialExpiring"
| extend credential = tostring(entry.name)
'''
  })
  union(onEvent, {
    name: 'connect-sync-failed'
    source: 'app'
    displayName: 'Token could not be written to Connect'
    description: 'A refresh token was stored in Key Vault but pushing it to Connect failed; the Connect product parameter still holds the previous token.'
    severity: 2
    dimensions: splitByMarketplace
    query: '''
traces
| where message has "ConnectSyncFailed"
| extend entry = parse_json(message)
| where tostring(entry.event) == "ConnectSyncFailed"
| extend marketplace = tostring(entry.marketplace)
'''
  })
  union(onEvent, {
    name: 'configuration-invalid'
    source: 'app'
    displayName: 'Invalid app settings or marketplace configuration'
    description: 'The app refused its settings or config/marketplaces.json (it answers with an error page and does not rotate), a marketplace\'s configured partner tenant is not its token\'s (rotation marks no token; field partner_tenant_id_*), or Entra refused the sign-in request the app built. The trace names each bad setting, field or marketplace (never a value); fix it and redeploy.'
    severity: 1
    dimensions: []
    query: '''
traces
| where message has "ConfigurationInvalid"
| extend entry = parse_json(message)
| where tostring(entry.event) == "ConfigurationInvalid"
'''
  })
  union(onEvent, {
    name: 'secret-near-expiry'
    source: 'app'
    displayName: 'A token came within 30 days of expiry'
    description: 'Key Vault reported a token secret 30 days before its expiry, so the daily rotation had not rotated it for 60 days; the app rotated it at once. Find out why the timer skipped it (RotationRunCompleted, RotationTokenFailed).'
    severity: 2
    dimensions: splitByMarketplace
    query: '''
traces
| where message has "SecretNearExpiryReceived"
| extend entry = parse_json(message)
| where tostring(entry.event) == "SecretNearExpiryReceived"
| extend marketplace = tostring(entry.marketplace)
'''
  })
  // A message to a marketplace's contacts that could not be sent (shared/notify): the people who
  // could fix a token were not told, so the operator must tell them, and fix what refused it.
  union(onEvent, {
    name: 'notification-failed'
    source: 'app'
    displayName: 'A message to a marketplace\'s contacts could not be sent'
    description: 'Azure Communication Services refused a message to the distributor admins named for a marketplace (its identity lacks the role, the sender domain is not linked, a recipient was refused), or kept failing for three runs. Throttling alone never raises this. The trace names the marketplace, the reason (needs-person or expires-in-N), the HTTP status and the service\'s error code; the status page lists who should have been told. Tell them yourself, then fix the cause.'
    severity: 2
    dimensions: splitByMarketplace
    query: '''
traces
| where message has "NotificationFailed"
| extend entry = parse_json(message)
| where tostring(entry.event) == "NotificationFailed"
| extend marketplace = tostring(entry.marketplace)
'''
  })
  // A message the app dropped as no SecretNearExpiry of a token of this environment. Event Grid
  // sends only SecretNearExpiry of token secrets here, so a drop is either a message someone else
  // wrote or an event the parser could not read, which would silently lose the second trigger.
  union(onEvent, {
    name: 'secret-near-expiry-dropped'
    source: 'app'
    displayName: 'A near-expiry message was dropped'
    description: 'A message of the ${nearExpiryQueueName} queue was completed without a rotation because it was not a SecretNearExpiry of a token of this environment; the alert names the reason (unreadable, not-an-event, other-event-type, not-a-token-secret, other-environment). The trace has the event id and, when readable, the marketplace. If Key Vault sent it, rotate that marketplace now (POST /api/rotate?marketplace=…); otherwise find out what writes to the queue.'
    severity: 2
    dimensions: splitByReason
    query: '''
traces
| where message has "SecretNearExpiryDropped"
| extend entry = parse_json(message)
| where tostring(entry.event) == "SecretNearExpiryDropped"
| extend reason = tostring(entry.reason)
'''
  })
  // A message the app failed on at every delivery: the host moved it to the poison queue, which
  // nothing reads. Before the parser or after it (a rotation that stayed transient), that
  // marketplace was not rotated by its event.
  union(onEvent, {
    name: 'secret-near-expiry-poison'
    source: 'app'
    displayName: 'A near-expiry message reached the poison queue'
    description: 'The Functions host moved a message of the ${nearExpiryQueueName} queue to ${poisonQueueName} after its last failed delivery: the marketplace it named was not rotated by it. Look at the function\'s failures (RotationRunFailed, exceptions) for that message, rotate the marketplace (POST /api/rotate?marketplace=…), then clear the message from ${poisonQueueName}.'
    severity: 2
    dimensions: []
    query: 'traces\n| where message has "MaxDequeueCount"\n| where message contains "Moving message to queue \'${poisonQueueName}\'"\n'
  })
  // Dead man's switch over the app's own telemetry: a timer that never fires logs nothing,
  // so only the absence of completed runs shows it (rotation runs daily; 26 hours leaves a
  // late or slow run room).
  union(onSilence, {
    name: 'rotation-run-missing'
    source: 'app'
    displayName: 'No timer rotation run completed for 26 hours'
    description: 'No RotationRunCompleted of the timer was logged for 26 hours: the rotation timer is not firing (or the app is not logging). Manual and near-expiry runs do not count: they would hide a dead timer. Tokens keep aging until it fires. Restart the app, check the timer (ROTATION_SCHEDULE) and run POST /api/rotate.'
    severity: 1
    dimensions: []
    query: '''
traces
| where timestamp > ago(26h)
| where message has "RotationRunCompleted"
| extend entry = parse_json(message)
| where tostring(entry.event) == "RotationRunCompleted"
| where tostring(entry.trigger) == "timer"
'''
  })
  // Dead man's switch independent of the app: Key Vault's own audit log. Token secrets are
  // named refresh-token-<environment>-<marketplace> (tokenSecretName, shared/secrets/store.ts). Every rotation of a
  // token writes a new version (SecretSet); none for 36 hours means no token was rotated,
  // whatever the app's telemetry says. An environment with no token yet fires too, and
  // resolves itself with the first one.
  union(onSilence, {
    name: 'token-writes-missing'
    source: 'vault'
    displayName: 'No refresh token written to Key Vault for 36 hours'
    description: 'Key Vault\'s audit log shows no SecretSet on a refresh-token secret for 36 hours: no token was rotated or generated. Check the rotation runs and the app\'s identity on the vault.'
    severity: 2
    dimensions: []
    query: '''
AzureDiagnostics
| where TimeGenerated > ago(36h)
| where ResourceProvider == "MICROSOFT.KEYVAULT" and OperationName == "SecretSet"
| where ResultType == "Success"
| where requestUri_s contains "/secrets/refresh-token-"
'''
  })
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in alertRules: {
    name: '${namePrefix}${rule.name}-${serviceEnvironment}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: '[${serviceEnvironment}] ${rule.displayName}'
      description: rule.description
      severity: rule.severity
      enabled: true
      // The vault rule is resource-centric: it sees only this vault's rows of the workspace.
      scopes: [
        rule.source == 'vault' ? keyVault.id : applicationInsights.id
      ]
      evaluationFrequency: rule.evaluationFrequency
      windowSize: rule.windowSize
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: rule.operator
            threshold: rule.threshold
            dimensions: rule.dimensions
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      // AppTraces and AzureDiagnostics exist in a workspace only once a row has arrived: a new
      // environment's rules would otherwise be refused at creation.
      skipQueryValidation: true
      autoMitigate: rule.autoMitigate
      actions: {
        actionGroups: actionGroupIds
        customProperties: {
          service: 'connect-ms-auth'
          environment: serviceEnvironment
        }
      }
    }
  }
]
