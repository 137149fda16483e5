/**
 * The storage connection (AzureWebJobsStorage, the Functions host's own setting): a
 * connection string, or the identity-based settings (service URIs or an account name,
 * signed in with the managed identity).
 */
import { echoSetting } from '../core/echo';
import { registerSecret } from '../core/redact';
import { GUID, parseUrl } from './formats';
import type { SettingsReader } from './reader';
import { SETTINGS, STORAGE_CONNECTION_SETTING } from './spec';
import type { StorageConnection } from './types';

/** The well-known Azurite account (public, documented; not a secret). */
const AZURITE_CONNECTION_STRING =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;' +
  'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;' +
  'BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;' +
  'TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';

export function readStorageConnection(reader: SettingsReader): StorageConnection | undefined {
  const name = STORAGE_CONNECTION_SETTING;
  const connectionString = reader.get(name);
  const queueUriText = reader.get('AzureWebJobsStorage__queueServiceUri');
  const blobUriText = reader.get('AzureWebJobsStorage__blobServiceUri');
  const accountName = reader.get('AzureWebJobsStorage__accountName');
  const clientId = reader.get('AzureWebJobsStorage__clientId');
  const identityBased = queueUriText !== undefined || blobUriText !== undefined || accountName !== undefined;

  if (connectionString !== undefined) {
    if (identityBased) {
      reader.report(name, `contradicts ${name}__queueServiceUri/__blobServiceUri/__accountName: use either a connection string or the identity-based settings`);
      return undefined;
    }
    return readConnectionString(reader, connectionString);
  }
  if (!identityBased) {
    if (!reader.hasProblem(name)) {
      reader.report(
        name,
        `is missing: a storage connection string (UseDevelopmentStorage=true for Azurite), or use ${name}__queueServiceUri for a managed identity`,
      );
    }
    return undefined;
  }

  const problemsBefore = reader.problems.length;
  let queueServiceUri: string | undefined;
  if (queueUriText !== undefined) {
    queueServiceUri = readServiceUri(reader, 'AzureWebJobsStorage__queueServiceUri', queueUriText);
  } else if (accountName !== undefined) {
    if (/^[a-z0-9]{3,24}$/.test(accountName)) queueServiceUri = `https://${accountName}.queue.core.windows.net`;
    else reader.report('AzureWebJobsStorage__accountName', `${echoSetting(accountName)} is not a storage account name (3 to 24 lower-case letters and digits)`);
  } else {
    reader.report('AzureWebJobsStorage__queueServiceUri', `is missing: the queue service URI (https://<account>.queue.core.windows.net)`);
  }
  let blobServiceUri: string | undefined;
  if (blobUriText !== undefined) {
    blobServiceUri = readServiceUri(reader, 'AzureWebJobsStorage__blobServiceUri', blobUriText);
  } else if (queueServiceUri !== undefined) {
    blobServiceUri = SETTINGS.AzureWebJobsStorage__blobServiceUri.default.rule(queueServiceUri);
    if (blobServiceUri === undefined)
      reader.report('AzureWebJobsStorage__blobServiceUri', 'is missing and cannot be derived from the queue service URI (no ".queue." in it)');
  }
  if (clientId !== undefined && !GUID.test(clientId)) {
    reader.report('AzureWebJobsStorage__clientId', `${echoSetting(clientId)} is not a managed identity client ID (a GUID)`);
  }
  if (reader.problems.length > problemsBefore || queueServiceUri === undefined || blobServiceUri === undefined) return undefined;
  return clientId === undefined ? { kind: 'identity', queueServiceUri, blobServiceUri } : { kind: 'identity', queueServiceUri, blobServiceUri, clientId };
}

function readServiceUri(
  reader: SettingsReader,
  setting: 'AzureWebJobsStorage__queueServiceUri' | 'AzureWebJobsStorage__blobServiceUri',
  text: string,
): string | undefined {
  const url = parseUrl(text);
  if (url === undefined || url.protocol !== 'https:') {
    reader.report(setting, `${echoSetting(text)} must be an https:// service URI`);
    return undefined;
  }
  return text.replace(/\/+$/, '');
}

/** Checks the shape of a connection string without ever echoing it (it holds the account key). */
function readConnectionString(reader: SettingsReader, text: string): StorageConnection | undefined {
  const parts = new Map<string, string>();
  for (const pair of text.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) parts.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    return { kind: 'connectionString', connectionString: AZURITE_CONNECTION_STRING };
  }
  registerSecret(parts.get('accountkey'));
  registerSecret(parts.get('sharedaccesssignature'));
  const problems: string[] = [];
  if (!parts.has('accountkey') && !parts.has('sharedaccesssignature')) problems.push('has neither AccountKey nor SharedAccessSignature');
  if (!parts.has('accountname') && !(parts.has('queueendpoint') && parts.has('blobendpoint'))) {
    problems.push('needs AccountName (or both QueueEndpoint and BlobEndpoint)');
  }
  if (problems.length > 0) {
    reader.report(
      STORAGE_CONNECTION_SETTING,
      `is not a usable storage connection string: it ${problems.join(' and ')} (copy it from the storage account's Access keys, or use UseDevelopmentStorage=true locally)`,
    );
    return undefined;
  }
  return { kind: 'connectionString', connectionString: text };
}
