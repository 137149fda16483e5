/** The client secret as the token sources use it, wherever it is kept. */
export interface ClientSecret {
  value: string;
  /** Key Vault version id; absent for a secret from a setting. */
  version?: string;
}

/** What Key Vault says about the current version, for the monitor (never the value). */
export interface ClientSecretProperties {
  version?: string;
  enabled: boolean;
  expiresOn?: Date;
  notBefore?: Date;
  createdOn?: Date;
  updatedOn?: Date;
  tags?: Record<string, string>;
}

export interface ClientSecretProvider {
  /** A setting has no versions or properties; Key Vault has both; a certificate file can be read again. */
  readonly store: 'setting' | 'key-vault' | 'file';
  /** Set when the value is a client certificate's PEM (OAUTH2_AUTH_MODE=certificate), for alert and check texts. */
  readonly credential?: 'certificate' | 'service-account-key';
  /** Where the secret comes from, for logs and alerts (no value). */
  readonly description: string;
  /** For a Key Vault secret: the vault and the secret's name, which remedies name. */
  readonly keyVault?: { vaultUrl: string; secretName: string };
  /** The secret, from memory while its cache lifetime lasts. Rejects with a RelayError. */
  current(): Promise<ClientSecret>;
  /**
   * The latest version, read from the store now (after the token endpoint refused
   * the one we had, or by the monitor). Rejects with a RelayError.
   */
  reload(): Promise<ClientSecret & { properties?: ClientSecretProperties }>;
  /** Called when a version other than the cached one is read. */
  onChange(listener: (secret: ClientSecret, previous: ClientSecret | undefined) => void): void;
}
