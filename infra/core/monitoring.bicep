// Log Analytics + Application Insights: where the service's structured logs and the vault's
// audit log land, and where the alert rules (app/alerts.bicep) and the workbook
// (app/workbook.bicep) query them.

@description('Required. Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Optional. Days the workspace keeps the logs.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Optional. Azure region.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
    // Telemetry is accepted only from Entra identities (the app's, with Monitoring Metrics Publisher).
    DisableLocalAuth: true
  }
}
