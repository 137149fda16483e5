// The Function App on the Flex Consumption plan: Node.js 22, the user-assigned identity for everything,
// the app package read from a blob container with that identity. After infra/app/api.bicep of
// Azure-Samples/functions-quickstart-typescript-azd, on avm/res/web/site 0.24.0 (app settings through `configs`).

@description('Function App name.')
param name string

@description('Region of the app.')
param location string

@description('Tags of the environment; the app also gets azd-service-name, which azd deploy looks for.')
param tags object

@description('Resource ID of the Flex Consumption (FC1) plan.')
param planResourceId string

@description('Resource ID of the user-assigned managed identity.')
param identityResourceId string

@description('Storage account holding the deployment container (and the relay\'s queues).')
param storageAccountName string

@description('Blob container Flex Consumption reads the app package from.')
param deploymentContainerName string

@description('Memory of each instance in MB.')
param instanceMemoryMB int

@description('Most instances per function group.')
param maximumInstanceCount int

@description('Every app setting, name to value (infra/main.bicep, appSettings); empty values are left out.')
param appSettings object

// The service name in azure.yaml.
var serviceName = 'relay'
var blobServiceUri = 'https://${storageAccountName}.blob.${environment().suffixes.storage}'
// An empty setting means "the relay's default", exactly as an absent one does; leaving it out keeps the
// portal's list to what was chosen.
var chosenAppSettings = toObject(filter(items(appSettings), setting => !empty(setting.value)), setting => setting.key, setting => setting.value)

module site 'br/public:avm/res/web/site:0.24.0' = {
  name: 'relay-site'
  params: {
    name: name
    location: location
    kind: 'functionapp,linux'
    tags: union(tags, {
      'azd-service-name': serviceName
    })
    serverFarmResourceId: planResourceId
    httpsOnly: true
    clientAffinityEnabled: false
    managedIdentities: {
      systemAssigned: false
      userAssignedResourceIds: [
        identityResourceId
      ]
    }
    // Resolves the @Microsoft.KeyVault(...) reference of ALERT_WEBHOOK_URL with the same identity.
    keyVaultAccessIdentityResourceId: identityResourceId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobServiceUri}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
    // Replaces the module's default (alwaysOn: true, ftpsState), which Flex Consumption does not accept.
    siteConfig: {
      alwaysOn: false
    }
    // azd and Core Tools deploy with a Microsoft Entra token; no publishing passwords.
    basicPublishingCredentialsPolicies: [
      {
        name: 'scm'
        allow: false
      }
    ]
    configs: [
      {
        name: 'appsettings'
        // This template owns the app settings: one removed here is removed from the app.
        retainCurrentAppSettings: false
        properties: chosenAppSettings
      }
    ]
  }
}

output name string = site.outputs.name
output resourceId string = site.outputs.resourceId
output defaultHostname string = site.outputs.defaultHostname
