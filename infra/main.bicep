// oauth2-smtp-relay on Azure Functions Flex Consumption, in azd's layout (azure.yaml at the root, this file
// as the entry point). Structure after Azure-Samples/functions-quickstart-typescript-azd: a subscription-scope
// template that makes the resource group, Azure Verified Modules for the resources, app/*.bicep for the app,
// its role assignments and its alert rules.
//
// Every app setting the relay reads is in ONE object literal below (`appSettings`); a relay setting S comes
// from the parameter named camelCase(S) (SMTP_HOST -> smtpHost), which main.parameters.json maps to the azd
// environment variable S, so `azd env set SMTP_HOST ...` sets the app setting of the same name.
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------------
// Deployment
// ---------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; empty: rg-<environment name>.')
param resourceGroupName string = ''

@description('Function App name; empty: func-relay-<unique suffix>.')
param functionAppName string = ''

@description('Storage account name (3 to 24 lower-case letters and digits); empty: st<unique suffix>.')
param storageAccountName string = ''

@description('Key Vault name (3 to 24 letters, digits and hyphens); empty: kv-<unique suffix>. A deleted vault keeps its name for the soft-delete retention (purge protection is on), so a new environment after `azd down` needs a new name.')
param keyVaultName string = ''

@description('Object ID of the person (or pipeline) running azd; azd fills AZURE_PRINCIPAL_ID. Gets Key Vault Secrets Officer to store the client secret. Empty: no role.')
param operatorPrincipalId string = ''

@description('Principal type of operatorPrincipalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param operatorPrincipalType string = 'User'

@description('true: the operator also gets Storage Queue Data Contributor and Storage Blob Data Contributor on the storage account, for replay and ./dev send from their own machine.')
param operatorDataAccess bool = false

@description('Comma-separated object IDs of the producers (applications that queue mail). Each gets Storage Queue Data Message Sender on the relay queue only.')
param producerPrincipalIds string = ''

@description('true: the producers also get Storage Blob Data Contributor on the attachment container (claim-check attachments). That role can read every attachment in it, other producers\' too.')
param producersUploadAttachments bool = false

// ---------------------------------------------------------------------------------------------------------
// Hosting: Flex Consumption
// ---------------------------------------------------------------------------------------------------------

@description('Memory of each Flex Consumption instance in MB. 2048 is the size the benchmark measured (README, Throughput and the provider\'s limits).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances per function group. The mailbox\'s limits (3 connections, 30 messages a minute, 10,000 recipients a day for Microsoft 365) hold for all instances together (RELAY_LIMITS_SCOPE=app), so this may be raised; more instances add no throughput past the mailbox\'s rate. Regions that do not yet accept values below 40 refuse the deployment: see the README.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 1

// ---------------------------------------------------------------------------------------------------------
// Storage, retention, alerts
// ---------------------------------------------------------------------------------------------------------

@description('Redundancy of the storage account that holds the queues, the ledger and the dead letters (Standard_ZRS where the region offers it).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Days after which attachments uploaded for claim-check messages are deleted. Keep it above RELAY_RETRY_MAX_AGE_SECONDS plus the time to fix and replay a dead-lettered message.')
@minValue(1)
@maxValue(3650)
param attachmentRetentionDays int = 30

@description('Days after which delivery-ledger entries are deleted. Keep it above the longest a message can live on the queue (7 days) plus replay.')
@minValue(8)
@maxValue(3650)
param ledgerRetentionDays int = 30

@description('Days Log Analytics and Application Insights keep the relay\'s logs.')
@allowed([
  30
  60
  90
  120
  180
  270
  365
  550
  730
])
param logRetentionDays int = 30

@description('Days a deleted Key Vault secret (or the vault) can be recovered.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionDays int = 90

@description('Comma-separated e-mail addresses Azure Monitor notifies when a message is dead-lettered or the secret monitor raises an alert (independent of the relay, so it works when the relay cannot send). Empty: the alerts fire in the portal only.')
param alertEmailAddresses string = ''

// ---------------------------------------------------------------------------------------------------------
// Relay settings (README settings table). Required in the deployed mode: oauth2TenantId, oauth2ClientId,
// smtpUser; the client secret itself goes into Key Vault after provisioning (setup command), never here.
// An empty value means "the relay's default".
// ---------------------------------------------------------------------------------------------------------

@description('SMTP_HOST: SMTP server host name (no scheme, no port).')
param smtpHost string = 'smtp.office365.com'

@description('SMTP_PORT: 587 for STARTTLS, 465 for implicit TLS.')
param smtpPort string = '587'

@description('SMTP_SECURITY: starttls or implicit; empty: implicit for port 465, otherwise starttls.')
param smtpSecurity string = ''

@description('SMTP_POOL_SIZE: concurrent SMTP connections to the mailbox, for all instances together; empty: 3.')
param smtpPoolSize string = ''

@description('SMTP_RATE_LIMIT_PER_MINUTE: messages the mailbox starts per minute, for all instances together; empty: 30 for Microsoft 365, otherwise no limit.')
param smtpRateLimitPerMinute string = ''

@description('SMTP_RATE_LIMIT_MAX_WAIT_SECONDS: longest a message waits in an invocation for a sending slot.')
param smtpRateLimitMaxWaitSeconds string = '30'

@description('SMTP_THROTTLE_BACKOFF_SECONDS: pause after a throttling reply, doubled on each consecutive one.')
param smtpThrottleBackoffSeconds string = '60'

@description('SMTP_CONNECTION_TIMEOUT_MS: TCP connection timeout.')
param smtpConnectionTimeoutMs string = '20000'

@description('SMTP_GREETING_TIMEOUT_MS: server greeting timeout.')
param smtpGreetingTimeoutMs string = '20000'

@description('SMTP_SOCKET_TIMEOUT_MS: idle connection timeout.')
param smtpSocketTimeoutMs string = '60000'

@description('OAUTH2_PROVIDER: microsoft, generic or auto.')
param oauth2Provider string = 'auto'

@minLength(1)
@description('OAUTH2_TENANT_ID (required): Directory (tenant) ID of the Microsoft Entra tenant of the app registration and the mailbox.')
param oauth2TenantId string

@description('OAUTH2_AUTHORITY_HOST: Microsoft sign-in host; change it only for sovereign clouds.')
param oauth2AuthorityHost string = 'https://login.microsoftonline.com'

@description('OAUTH2_TOKEN_URL: token endpoint; empty: derived from the tenant (required for generic providers).')
param oauth2TokenUrl string = ''

@minLength(1)
@description('OAUTH2_CLIENT_ID (required): Application (client) ID of the app registration that has SMTP.SendAsApp.')
param oauth2ClientId string

@description('OAUTH2_AUTH_MODE: secret (client secret read from Key Vault by the managed identity), managed-identity-federation (no secret: the managed identity signs in for the app registration through a federated credential) or certificate (a Key Vault certificate, PEM, signs the client assertion).')
@allowed([
  'secret'
  'managed-identity-federation'
  'certificate'
])
param oauth2AuthMode string = 'secret'

@description('OAUTH2_CLIENT_SECRET_NAME: name of the Key Vault secret that holds the client secret Value (secret mode).')
param oauth2ClientSecretName string = 'smtp-relay-client-secret'

@description('OAUTH2_CLIENT_CERTIFICATE_NAME: name of the Key Vault certificate (content type application/x-pem-file) whose private key signs the client assertion (certificate mode).')
param oauth2ClientCertificateName string = 'smtp-relay-client-certificate'

@description('OAUTH2_SEND_CERTIFICATE_CHAIN: send the certificate chain (x5c) with each assertion, for subject-name-and-issuer trust (certificate mode).')
param oauth2SendCertificateChain string = 'false'

@description('RELAY_SENDERS: more senders beside the default one, as a JSON array (README, Several senders); secrets only by reference (a Key Vault secret name, federation, or the name of an app setting you add outside this template: it would not survive the next provision).')
param relaySenders string = ''

@description('OAUTH2_CLIENT_SECRET_CACHE_SECONDS: how long the secret read from Key Vault stays in memory.')
param oauth2ClientSecretCacheSeconds string = '3600'

@description('MONITOR_SCHEDULE: NCRONTAB schedule of the secret monitor timer (six fields, UTC).')
param monitorSchedule string = '0 */15 * * * *'

@description('ALERT_WARNING_DAYS: warn when the client secret expires within this many days.')
param alertWarningDays string = '30'

@description('ALERT_CRITICAL_DAYS: critical alert when the client secret expires within this many days.')
param alertCriticalDays string = '7'

@description('ALERT_EMAIL_TO: also send monitor alerts by e-mail through the relay itself.')
param alertEmailTo string = ''

@secure()
@description('ALERT_WEBHOOK_URL: also POST monitor alerts to this https incoming webhook (Teams, Slack). Stored as a Key Vault secret; the app setting is a Key Vault reference. Use `azd env set-secret ALERT_WEBHOOK_URL`.')
param alertWebhookUrl string = ''

@description('MONITOR_STATE_CONTAINER: blob container for the monitor\'s alert state and the rotation lease.')
param monitorStateContainer string = 'relay-monitor'

@description('ROTATION_ENABLED: the timer rotates the client secret through Microsoft Graph. Gives the managed identity Key Vault Secrets Officer instead of Secrets User.')
param rotationEnabled bool = false

@description('ROTATION_WINDOW_DAYS: rotate when the client secret expires within this many days.')
param rotationWindowDays string = '30'

@description('ROTATION_SECRET_LIFETIME_DAYS: lifetime of a client secret created by rotation.')
param rotationSecretLifetimeDays string = '180'

@description('ROTATION_GRACE_HOURS: hours the old client secret stays valid after rotation.')
param rotationGraceHours string = '24'

@description('GRAPH_URL: Microsoft Graph endpoint used by rotation and the graph transport.')
param graphUrl string = 'https://graph.microsoft.com'

@description('RELAY_TRANSPORT: smtp, graph (Microsoft Graph sendMail, application permission Mail.Send) or smtp-then-graph.')
param relayTransport string = 'smtp'

@description('GRAPH_SAVE_TO_SENT_ITEMS: keep a copy in Sent Items (Graph always does for MIME sends).')
param graphSaveToSentItems string = 'true'

@description('GRAPH_PERMISSION_GRANT: how Mail.Send is granted for the graph transport: auto, rbac (RBAC for Applications) or entra (consent + access policy).')
param graphPermissionGrant string = 'auto'

@description('OAUTH2_SCOPES: the one <resource>/.default scope to request.')
param oauth2Scopes string = 'https://outlook.office365.com/.default'

@description('OAUTH2_REFRESH_MARGIN_SECONDS: replace a cached access token this many seconds before it expires.')
param oauth2RefreshMarginSeconds string = '600'

@minLength(3)
@description('SMTP_USER (required): the authorized mailbox, e.g. relay@contoso.com.')
param smtpUser string

@description('MAIL_FROM: sender address of messages without "from"; empty: SMTP_USER.')
param mailFrom string = ''

@description('MAIL_ALLOWED_FROM: comma-separated other From addresses (the mailbox needs SendAs rights for each).')
param mailAllowedFrom string = ''

@description('MAIL_MAX_RECIPIENTS: most recipients per message; empty: 100 for smtp.gmail.com, otherwise 500.')
param mailMaxRecipients string = ''

@minLength(3)
@maxLength(56)
@description('RELAY_QUEUE_NAME: the queue applications send to (56 characters at most: the host adds -poison).')
param relayQueueName string = 'outbound-mail'

@minLength(3)
@maxLength(63)
@description('RELAY_DEADLETTER_QUEUE_NAME: queue of the dead-letter records.')
param relayDeadletterQueueName string = 'outbound-mail-deadletter'

@minLength(3)
@maxLength(63)
@description('RELAY_DEADLETTER_CONTAINER: blob container for dead-letter records too large for a queue message.')
param relayDeadletterContainer string = 'outbound-mail-deadletter'

@minLength(3)
@maxLength(63)
@description('RELAY_ATTACHMENT_CONTAINER: blob container of claim-check attachments.')
param relayAttachmentContainer string = 'outbound-mail-attachments'

@description('MAIL_MAX_ATTACHMENTS_MB: largest total size of one message\'s attachments in MiB.')
param mailMaxAttachmentsMb string = '25'

@description('RELAY_RETRY_FIRST_DELAY_SECONDS: wait after the first transient failure.')
param relayRetryFirstDelaySeconds string = '30'

@description('RELAY_RETRY_MAX_DELAY_SECONDS: longest wait between attempts.')
param relayRetryMaxDelaySeconds string = '900'

@description('RELAY_RETRY_MAX_AGE_SECONDS: a message still failing this long after it was first queued is dead-lettered.')
param relayRetryMaxAgeSeconds string = '86400'

@minLength(3)
@maxLength(63)
@description('RELAY_LEDGER_CONTAINER: blob container of the delivery ledger.')
param relayLedgerContainer string = 'outbound-mail-ledger'

@description('RELAY_LEDGER_LEASE_SECONDS: how long a claim on a message protects its send.')
param relayLedgerLeaseSeconds string = '60'

@minLength(3)
@maxLength(63)
@description('RELAY_COORDINATION_CONTAINER: blob container where the instances share each mailbox\'s limits (leased slot blobs, the sending window).')
param relayCoordinationContainer string = 'relay-coordination'

@description('RELAY_LIMITS_SCOPE: app (the mailbox limits hold for all instances together, through the coordination container) or instance (each instance alone: only with one instance); empty: app.')
param relayLimitsScope string = ''

@description('SMTP_DAILY_RECIPIENT_LIMIT: recipients the mailbox reaches per rolling 24 hours, for all instances together; empty: 10000 for Microsoft 365, otherwise not counted.')
param smtpDailyRecipientLimit string = ''

// ---------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var names = {
  resourceGroup: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  functionApp: !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}relay-${resourceToken}'
  plan: '${abbrs.webServerFarms}relay-${resourceToken}'
  identity: '${abbrs.managedIdentityUserAssignedIdentities}relay-${resourceToken}'
  storage: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
  keyVault: !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${resourceToken}'
  logAnalytics: '${abbrs.operationalInsightsWorkspaces}relay-${resourceToken}'
  appInsights: '${abbrs.insightsComponents}relay-${resourceToken}'
  actionGroup: '${abbrs.insightsActionGroups}relay-${resourceToken}'
}
// Flex Consumption reads the app package from this container (functionAppConfig.deployment.storage).
var deploymentContainerName = 'app-package-${take(toLower(names.functionApp), 32)}-${take(resourceToken, 7)}'
// The host moves a message here after maxDequeueCount failures (the relay dead-letters it first, so it stays empty).
var poisonQueueName = '${relayQueueName}-poison'

var queueServiceUri = 'https://${names.storage}.queue.${environment().suffixes.storage}'
var blobServiceUri = 'https://${names.storage}.blob.${environment().suffixes.storage}'
var keyVaultUri = 'https://${names.keyVault}${environment().suffixes.keyvaultDns}'
var usesClientSecret = oauth2AuthMode == 'secret'
// The certificate's private key is read through the Key Vault secret of the same name, with the same role.
var usesCertificate = oauth2AuthMode == 'certificate'
var readsCredentialFromKeyVault = usesClientSecret || usesCertificate
var hasAlertWebhook = !empty(alertWebhookUrl)
var alertWebhookSecretName = 'alert-webhook-url'
var alertWebhookSecrets = [
  {
    name: alertWebhookSecretName
    value: alertWebhookUrl
  }
]

// Must equal extensions.queues.maxDequeueCount in host.json, which the package carries; not a parameter on purpose.
var relayMaxDequeueCount = '5'

// The mailbox's limits hold for all instances together (RELAY_LIMITS_SCOPE=app, the default: connection slots
// and a sending window in RELAY_COORDINATION_CONTAINER), so SMTP_RATE_LIMIT_PER_MINUTE and SMTP_POOL_SIZE are
// no longer divided by maximumInstanceCount (README, Throughput and the provider's limits).

// ---------------------------------------------------------------------------------------------------------
// Every app setting of the Function App. Empty values are left out by app/relay.bicep (the relay reads an
// absent and an empty setting alike). Not set on purpose: OAUTH2_CLIENT_SECRET (the secret lives in Key Vault
// only), OAUTH2_ENABLED and SMTP_PASSWORD (password SMTP AUTH is retired), TLS_EXTRA_CA_FILE (a file path, not
// a deployment value), AzureWebJobsStorage and AzureWebJobsStorage__accountName (the service URIs are used),
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION (Flex Consumption sets the runtime in
// functionAppConfig and refuses or overrides them).
// ---------------------------------------------------------------------------------------------------------
var appSettings = {
  // Functions host and relay storage: identity-based AzureWebJobsStorage (the queue trigger's connection)
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  AzureWebJobsStorage__queueServiceUri: queueServiceUri
  AzureWebJobsStorage__blobServiceUri: blobServiceUri
  // Application Insights with Microsoft Entra authentication (local auth is off)
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
  // SMTP
  SMTP_HOST: smtpHost
  SMTP_PORT: smtpPort
  SMTP_SECURITY: smtpSecurity
  SMTP_POOL_SIZE: smtpPoolSize
  SMTP_RATE_LIMIT_PER_MINUTE: smtpRateLimitPerMinute
  SMTP_RATE_LIMIT_MAX_WAIT_SECONDS: smtpRateLimitMaxWaitSeconds
  SMTP_THROTTLE_BACKOFF_SECONDS: smtpThrottleBackoffSeconds
  SMTP_CONNECTION_TIMEOUT_MS: smtpConnectionTimeoutMs
  SMTP_GREETING_TIMEOUT_MS: smtpGreetingTimeoutMs
  SMTP_SOCKET_TIMEOUT_MS: smtpSocketTimeoutMs
  // OAuth2
  OAUTH2_PROVIDER: oauth2Provider
  OAUTH2_TENANT_ID: oauth2TenantId
  OAUTH2_AUTHORITY_HOST: oauth2AuthorityHost
  OAUTH2_TOKEN_URL: oauth2TokenUrl
  OAUTH2_CLIENT_ID: oauth2ClientId
  OAUTH2_AUTH_MODE: oauth2AuthMode
  KEYVAULT_URL: readsCredentialFromKeyVault ? keyVaultUri : ''
  OAUTH2_CLIENT_SECRET_NAME: usesClientSecret ? oauth2ClientSecretName : ''
  OAUTH2_CLIENT_CERTIFICATE_NAME: usesCertificate ? oauth2ClientCertificateName : ''
  OAUTH2_SEND_CERTIFICATE_CHAIN: usesCertificate ? oauth2SendCertificateChain : ''
  OAUTH2_CLIENT_SECRET_CACHE_SECONDS: oauth2ClientSecretCacheSeconds
  MANAGED_IDENTITY_CLIENT_ID: identity.outputs.clientId
  OAUTH2_SCOPES: oauth2Scopes
  OAUTH2_REFRESH_MARGIN_SECONDS: oauth2RefreshMarginSeconds
  // Secret monitor and rotation
  MONITOR_SCHEDULE: monitorSchedule
  ALERT_WARNING_DAYS: alertWarningDays
  ALERT_CRITICAL_DAYS: alertCriticalDays
  ALERT_EMAIL_TO: alertEmailTo
  ALERT_WEBHOOK_URL: hasAlertWebhook ? '@Microsoft.KeyVault(VaultName=${names.keyVault};SecretName=${alertWebhookSecretName})' : ''
  MONITOR_STATE_CONTAINER: monitorStateContainer
  ROTATION_ENABLED: rotationEnabled ? 'true' : 'false'
  ROTATION_WINDOW_DAYS: rotationWindowDays
  ROTATION_SECRET_LIFETIME_DAYS: rotationSecretLifetimeDays
  ROTATION_GRACE_HOURS: rotationGraceHours
  GRAPH_URL: graphUrl
  RELAY_TRANSPORT: relayTransport
  GRAPH_SAVE_TO_SENT_ITEMS: graphSaveToSentItems
  GRAPH_PERMISSION_GRANT: graphPermissionGrant
  // Mail
  SMTP_USER: smtpUser
  MAIL_FROM: mailFrom
  MAIL_ALLOWED_FROM: mailAllowedFrom
  RELAY_SENDERS: relaySenders
  MAIL_MAX_RECIPIENTS: mailMaxRecipients
  MAIL_MAX_ATTACHMENTS_MB: mailMaxAttachmentsMb
  // Queues, containers, retries, ledger
  RELAY_QUEUE_NAME: relayQueueName
  RELAY_DEADLETTER_QUEUE_NAME: relayDeadletterQueueName
  RELAY_DEADLETTER_CONTAINER: relayDeadletterContainer
  RELAY_ATTACHMENT_CONTAINER: relayAttachmentContainer
  RELAY_MAX_DEQUEUE_COUNT: relayMaxDequeueCount
  RELAY_RETRY_FIRST_DELAY_SECONDS: relayRetryFirstDelaySeconds
  RELAY_RETRY_MAX_DELAY_SECONDS: relayRetryMaxDelaySeconds
  RELAY_RETRY_MAX_AGE_SECONDS: relayRetryMaxAgeSeconds
  RELAY_LEDGER_CONTAINER: relayLedgerContainer
  RELAY_LEDGER_LEASE_SECONDS: relayLedgerLeaseSeconds
  RELAY_COORDINATION_CONTAINER: relayCoordinationContainer
  RELAY_LIMITS_SCOPE: relayLimitsScope
  SMTP_DAILY_RECIPIENT_LIMIT: smtpDailyRecipientLimit
}

// ---------------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

// The one identity of the app: host storage, deployment package, Key Vault, Application Insights, federation.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.6.0' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.16.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: names.logAnalytics
    location: location
    tags: tags
    skuName: 'PerGB2018'
    dataRetention: logRetentionDays
    forceCmkForQuery: false
  }
}

module appInsights 'br/public:avm/res/insights/component:0.8.0' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: names.appInsights
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    retentionInDays: logRetentionDays
    // Telemetry only with Microsoft Entra auth: APPLICATIONINSIGHTS_AUTHENTICATION_STRING + Monitoring Metrics Publisher.
    disableLocalAuth: true
  }
}

module plan 'br/public:avm/res/web/serverfarm:0.7.0' = {
  name: 'plan'
  scope: rg
  params: {
    name: names.plan
    location: location
    tags: tags
    kind: 'functionapp'
    skuName: 'FC1'
    reserved: true
  }
}

module storage 'br/public:avm/res/storage/storage-account:0.33.0' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: storageSkuName
    // Microsoft Entra only: no account keys, no SAS, no anonymous blobs.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      deleteRetentionPolicyEnabled: true
      deleteRetentionPolicyDays: 7
      containerDeleteRetentionPolicyEnabled: true
      containerDeleteRetentionPolicyDays: 7
      containers: [
        {
          name: deploymentContainerName
        }
        {
          name: relayLedgerContainer
        }
        {
          name: relayDeadletterContainer
        }
        {
          name: relayAttachmentContainer
        }
        {
          name: monitorStateContainer
        }
        {
          name: relayCoordinationContainer
        }
      ]
    }
    queueServices: {
      queues: [
        {
          name: relayQueueName
        }
        {
          name: relayDeadletterQueueName
        }
        {
          name: poisonQueueName
        }
      ]
    }
    // The relay never deletes attachments (several messages may share one, a retry needs it again) nor ledger
    // entries (they keep a redelivered message from being sent twice); these rules do, once they are old.
    // Dead-letter records never expire.
    managementPolicyRules: [
      {
        name: 'delete-old-attachments'
        enabled: true
        type: 'Lifecycle'
        definition: {
          actions: {
            baseBlob: {
              delete: {
                daysAfterModificationGreaterThan: attachmentRetentionDays
              }
            }
          }
          filters: {
            blobTypes: [
              'blockBlob'
            ]
            prefixMatch: [
              '${relayAttachmentContainer}/'
            ]
          }
        }
      }
      {
        name: 'delete-old-ledger-entries'
        enabled: true
        type: 'Lifecycle'
        definition: {
          actions: {
            baseBlob: {
              delete: {
                daysAfterModificationGreaterThan: ledgerRetentionDays
              }
            }
          }
          filters: {
            blobTypes: [
              'blockBlob'
            ]
            prefixMatch: [
              '${relayLedgerContainer}/'
            ]
          }
        }
      }
    ]
  }
}

module keyVault 'br/public:avm/res/key-vault/vault:0.14.0' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: tags
    sku: 'standard'
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionDays
    enablePurgeProtection: true
    enableVaultForDeployment: false
    enableVaultForTemplateDeployment: false
    enableVaultForDiskEncryption: false
    publicNetworkAccess: 'Enabled'
    // The client secret is NOT created here: the operator stores it after provisioning, with its expiry
    // (setup command). Only the optional alert webhook URL, a secret the operator handed to azd, is stored.
    secrets: hasAlertWebhook ? alertWebhookSecrets : []
  }
}

module relay 'app/relay.bicep' = {
  name: 'relay'
  scope: rg
  params: {
    name: names.functionApp
    location: location
    tags: tags
    planResourceId: plan.outputs.resourceId
    identityResourceId: identity.outputs.resourceId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: appSettings
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    queueName: relayQueueName
    attachmentContainerName: relayAttachmentContainer
    appInsightsName: appInsights.outputs.name
    keyVaultName: keyVault.outputs.name
    relayPrincipalId: identity.outputs.principalId
    relayReadsKeyVault: readsCredentialFromKeyVault || hasAlertWebhook
    rotationEnabled: rotationEnabled
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    operatorDataAccess: operatorDataAccess
    producerPrincipalIds: producerPrincipalIds
    producersUploadAttachments: producersUploadAttachments
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: names.functionApp
    appInsightsResourceId: appInsights.outputs.resourceId
    actionGroupName: names.actionGroup
    alertEmailAddresses: alertEmailAddresses
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: names.functionApp
    appInsightsResourceId: appInsights.outputs.resourceId
  }
}

// ---------------------------------------------------------------------------------------------------------
// Outputs (azd writes them into .azure/<environment>/.env)
// ---------------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = relay.outputs.name
output SERVICE_RELAY_NAME string = relay.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${relay.outputs.defaultHostname}'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output KEYVAULT_URL string = readsCredentialFromKeyVault ? keyVaultUri : ''
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_QUEUE_ENDPOINT string = queueServiceUri
output AZURE_STORAGE_BLOB_ENDPOINT string = blobServiceUri
output APPLICATIONINSIGHTS_NAME string = appInsights.outputs.name

// What a producer needs: the queue URL and the one role to assign on that queue.
output PRODUCER_QUEUE_URL string = '${queueServiceUri}/${relayQueueName}'
output PRODUCER_QUEUE_RESOURCE_ID string = rbac.outputs.queueResourceId
output PRODUCER_ROLE_NAME string = rbac.outputs.producerRoleName
output PRODUCER_ROLE_DEFINITION_ID string = rbac.outputs.producerRoleDefinitionId

// The app's managed identity, and what a federated credential on the app registration needs
// (OAUTH2_AUTH_MODE=managed-identity-federation; README, Secretless: managed-identity federation).
output AZURE_RELAY_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_RELAY_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output FEDERATED_CREDENTIAL_ISSUER string = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
output FEDERATED_CREDENTIAL_SUBJECT string = identity.outputs.principalId
output FEDERATED_CREDENTIAL_AUDIENCE string = 'api://AzureADTokenExchange'
