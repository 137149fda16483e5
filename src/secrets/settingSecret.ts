/**
 * The client secret from a setting (OAUTH2_CLIENT_SECRET), as for local runs:
 * nothing to reload, so a refused secret stays refused until the setting changes.
 */
import { registerSecret } from '../core/redact';
import type { ClientSecret, ClientSecretProvider } from './types';

export class SettingSecretProvider implements ClientSecretProvider {
  readonly store = 'setting';
  readonly description = 'the OAUTH2_CLIENT_SECRET setting';
  private readonly secret: ClientSecret;

  constructor(value: string) {
    registerSecret(value);
    this.secret = { value };
  }

  async current(): Promise<ClientSecret> {
    return this.secret;
  }

  async reload(): Promise<ClientSecret> {
    return this.secret;
  }

  onChange(): void {
    // A setting does not change while the process runs.
  }
}
