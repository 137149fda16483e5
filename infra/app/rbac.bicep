// Every role assignment of the deployment, least privilege, each on the narrowest scope that works.
// After infra/app/rbac.bicep of Azure-Samples/functions-quickstart-typescript-azd.

@description('Storage account of the host and the relay (queues, ledger, dead letters, attachments, monitor state).')
param storageAccountName string

@description('The relay queue producers send to (RELAY_QUEUE_NAME).')
param queueName string

@description('The claim-check attachment container (RELAY_ATTACHMENT_CONTAINER).')
param attachmentContainerName string

@description('Application Insights component the app sends telemetry to.')
param appInsightsName string

@description('Key Vault of the client secret (and the alert webhook URL).')
param keyVaultName string

@description('Principal (object) ID of the app\'s user-assigned managed identity.')
param relayPrincipalId string

@description('Whether the app reads Key Vault (the client secret in secret mode, or the alert webhook reference).')
param relayReadsKeyVault bool

@description('ROTATION_ENABLED: the app writes new secret versions, so it needs Secrets Officer instead of Secrets User.')
param rotationEnabled bool

@description('Object ID of the operator running azd; empty: none.')
param operatorPrincipalId string

@description('Principal type of the operator.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param operatorPrincipalType string

@description('Whether the operator gets queue and blob data access (replay, ./dev send against Azure).')
param operatorDataAccess bool

@description('Comma-separated object IDs of the producers.')
param producerPrincipalIds string

@description('Whether producers may upload claim-check attachments.')
param producersUploadAttachments bool

// Built-in role definition IDs, checked against Microsoft's list:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage,
// .../built-in-roles/security and .../built-in-roles/monitor.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

var producers = filter(map(split(producerPrincipalIds, ','), id => trim(id)), id => !empty(id))
var relayKeyVaultRole = rotationEnabled ? roles.keyVaultSecretsOfficer : roles.keyVaultSecretsUser
var hasOperator = !empty(operatorPrincipalId)

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource relayQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueService
  name: queueName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource attachmentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: attachmentContainerName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// ---- The app's managed identity ----

// Host storage: Microsoft documents Storage Blob Data Owner on the account as the minimum for an identity-based
// AzureWebJobsStorage (the host makes and leases its own containers: azure-webjobs-hosts, azure-webjobs-secrets),
// and Flex Consumption reads the package from the deployment container with it. The relay's containers live in
// the same account because the relay uses AzureWebJobsStorage, so narrower per-container roles would add nothing.
resource relayBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, relayPrincipalId, roles.storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Functions host storage, the Flex Consumption package, and the relay\'s ledger, dead-letter, attachment, monitor and coordination containers.'
  }
}

// Queue trigger (receive, delete, the host's poison queue), retry copies and dead-letter records on three queues.
resource relayQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, relayPrincipalId, roles.storageQueueDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Relay queue trigger, retry copies, dead-letter queue and the host\'s poison queue.'
  }
}

// Telemetry with Microsoft Entra auth (APPLICATIONINSIGHTS_AUTHENTICATION_STRING); local auth is off.
resource relayMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, relayPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Application Insights telemetry with Microsoft Entra authentication.'
  }
}

// Read the client secret (value and version properties, for the expiry monitor); Secrets Officer only when the
// relay rotates the secret itself. On the vault: the secret does not exist yet when this is deployed.
resource relaySecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (relayReadsKeyVault || rotationEnabled) {
  name: guid(keyVault.id, relayPrincipalId, relayKeyVaultRole)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', relayKeyVaultRole)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
    description: rotationEnabled ? 'Client secret: read, and write new versions (rotation).' : 'Client secret: read.'
  }
}

// ---- The operator ----

// Stores the client secret with its expiry after provisioning (setup command), rotates it by hand.
resource operatorSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator) {
  name: guid(keyVault.id, operatorPrincipalId, roles.keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'Operator: store and rotate the relay\'s client secret.'
  }
}

resource operatorQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator && operatorDataAccess) {
  name: guid(storageAccount.id, operatorPrincipalId, roles.storageQueueDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'Operator: replay dead letters, queue test messages.'
  }
}

resource operatorBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator && operatorDataAccess) {
  name: guid(storageAccount.id, operatorPrincipalId, roles.storageBlobDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    description: 'Operator: read large dead-letter records and the ledger for replay.'
  }
}

// ---- Producers: add messages to the relay queue, nothing else ----

resource producerSenders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in producers: {
    name: guid(relayQueue.id, principalId, roles.storageQueueDataMessageSender)
    scope: relayQueue
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataMessageSender)
      principalId: principalId
      description: 'Producer: add messages to the relay queue.'
    }
  }
]

resource producerAttachments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in (producersUploadAttachments ? producers : []): {
    name: guid(attachmentContainer.id, principalId, roles.storageBlobDataContributor)
    scope: attachmentContainer
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
      principalId: principalId
      description: 'Producer: upload claim-check attachments.'
    }
  }
]

output queueResourceId string = relayQueue.id
output producerRoleName string = 'Storage Queue Data Message Sender'
output producerRoleDefinitionId string = roles.storageQueueDataMessageSender
