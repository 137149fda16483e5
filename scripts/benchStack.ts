/**
 * The local stack in a process of its own, for the benchmark: the SMTP server,
 * token endpoint and Azurite then cost the benchmark process nothing, so its
 * CPU time and memory are the relay's (or the baseline's). Prints the stack's
 * settings as one JSON line and runs until stdin closes. The client secret is
 * served by the KeyVaultDouble (there is no Key Vault emulator), so the figures
 * include the relay's Key Vault reads.
 */
import { startLocalStack, LOCAL_TENANT_ID } from '../local/stack';
import { KeyVaultDouble, VAULT_RESOURCE } from '../local/doubles/keyVaultDouble';

// The relay reads its client secret from Key Vault, as in Azure; this client of the
// local token endpoint stands in for the Function App's managed identity.
const VAULT_READER = { clientId: 'be7c0000-0000-4000-8000-00000000f00d', secret: 'bench~vault.reader_0123456789' };
const SECRET_NAME = 'relay-client-secret';

async function main(): Promise<void> {
  const stack = await startLocalStack({ inMemory: true });
  stack.tokenServer.setClientSecret(VAULT_READER.clientId, VAULT_READER.secret);
  const vault = await KeyVaultDouble.start({
    tls: stack.certs,
    authority: `${stack.tokenServer.url}/${LOCAL_TENANT_ID}`,
    verifyToken: async (token) => (await stack.tokenServer.verifyTokenForResource(token, VAULT_RESOURCE)).ok,
  });
  vault.setSecret(SECRET_NAME, { value: stack.clientSecret, expiresOn: new Date(Date.now() + 180 * 86_400_000) });
  const { OAUTH2_CLIENT_SECRET: _inVault, ...settings } = stack.settings;
  // The SMTP server keeps messages in memory for tests; the benchmark does not need them.
  setInterval(() => stack.smtpServer.received.splice(0), 1000).unref();
  process.stdout.write(
    JSON.stringify({
      settings: { ...settings, KEYVAULT_URL: vault.url, OAUTH2_CLIENT_SECRET_NAME: SECRET_NAME },
      vaultReader: { tenantId: LOCAL_TENANT_ID, authorityHost: stack.tokenServer.url, caPem: stack.certs.caPem, ...VAULT_READER },
    }) + '\n',
  );
  process.stdin.resume();
  // The benchmark closes stdin to stop the stack.
  const stop = async () => {
    await vault.close();
    await stack.close();
  };
  process.stdin.on('end', () => {
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
