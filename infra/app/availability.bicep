// A Standard availability test on the public start page, from several regions, that also
// fails when the TLS certificate is about to expire; and the alert on it. The start page is
// what a distributor's admin opens, so "it answers with the form" is the check.

@description('Required. Name of the availability test.')
param name string

@description('Required. Name of the alert rule on the test.')
param alertName string

@description('Required. Name of the Function App whose start page is tested.')
param functionAppName string

@description('Required. Name of the Application Insights component the results go to.')
param applicationInsightsName string

@description('Required. Which deployment this is; shown in the names.')
@allowed([
  'test'
  'production'
])
param serviceEnvironment string

@description('Required. Text the start page must contain.')
param expectedText string

@description('Optional. Availability test locations (Application Insights location IDs); at least 5 are recommended.')
@minLength(3)
param testLocations string[] = [
  'emea-nl-ams-azr'
  'emea-gb-db3-azr'
  'emea-fr-pra-edge'
  'us-va-ash-azr'
  'apac-sg-sin-azr'
]

@description('Optional. The test fails when the certificate expires within this many days.')
@minValue(1)
param certificateLifetimeDays int = 14

@description('Optional. Resource IDs of the action groups that receive the alert.')
param actionGroupIds string[] = []

@description('Optional. Azure region of the test (that of the component).')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

resource startPage 'Microsoft.Insights/webtests@2022-06-15' = {
  name: name
  location: location
  // The portal shows a test under the component it names in this tag.
  tags: union(tags, { 'hidden-link:${applicationInsights.id}': 'Resource' })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: name
    Name: '[${serviceEnvironment}] Start page'
    Description: 'GET /api/start answers 200 with the form, over a certificate valid for ${certificateLifetimeDays} more days.'
    Enabled: true
    Kind: 'standard'
    Frequency: 300
    Timeout: 30
    RetryEnabled: true
    Locations: [for id in testLocations: { Id: id }]
    Request: {
      RequestUrl: 'https://${functionApp.properties.defaultHostName}/api/start'
      HttpVerb: 'GET'
      ParseDependentRequests: false
      FollowRedirects: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      IgnoreHttpStatusCode: false
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: certificateLifetimeDays
      ContentValidation: {
        ContentMatch: expectedText
        IgnoreCase: false
        PassIfTextFound: true
      }
    }
  }
}

resource startPageAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: alertName
  location: 'global'
  tags: union(tags, {
    'hidden-link:${applicationInsights.id}': 'Resource'
    'hidden-link:${startPage.id}': 'Resource'
  })
  properties: {
    description: 'The start page failed its availability test (down, wrong answer, or a TLS certificate that expires within ${certificateLifetimeDays} days) from 2 or more locations.'
    severity: 1
    enabled: true
    scopes: [
      startPage.id
      applicationInsights.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: startPage.id
      componentId: applicationInsights.id
      // One location failing is usually that location's network.
      failedLocationCount: 2
    }
    autoMitigate: true
    // Each ID is an element of the actionGroupIds parameter, which the rule cannot see through.
    #disable-next-line use-resource-id-functions
    actions: map(actionGroupIds, id => { actionGroupId: id })
  }
}
