/**
 * Automatic rotation (ROTATION_ENABLED): when the secret enters the rotation
 * window, one instance (blob lease) adds a new client secret to the app
 * registration through Microsoft Graph, proves it by getting a token with it,
 * stores it as a new Key Vault version with its expiry, and removes the old
 * client secret only after the grace period (later ticks), so instances still
 * holding the old value keep working. A failed step leaves the old secret in use
 * and becomes an alert; a new client secret that could not be stored is removed again.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { MicrosoftOAuthSettings, OAuthSettings, RotationSettings } from '../settings';
import { isRelayError } from '../core/errors';
import { remedyText } from '../core/diagnoses';
import type { Logger } from '../core/log';
import { redact } from '../core/redact';
import type { ClientSecretProperties, ClientSecretProvider } from '../secrets/types';
import { MicrosoftTokenSource } from '../token/microsoftTokenSource';
import type { Finding } from './assessSecret';
import { GraphApplicationClient, type PasswordCredential } from './graphClient';
import type { MonitorState } from './monitorState';
import { acquireRotationLease } from './rotationLease';
import type { SecretRotationStep } from './secretMonitor';

const DAY_MS = 86_400_000;

export type RotationOAuth = Pick<OAuthSettings, 'clientId' | 'scopes'> &
  Pick<MicrosoftOAuthSettings, 'tenantId' | 'authorityHost' | 'disableInstanceDiscovery'>;

export interface SecretRotatorOptions {
  settings: RotationSettings;
  oauth: RotationOAuth;
  secretName: string;
  secrets: ClientSecretProvider;
  vault: Pick<SecretClient, 'setSecret'>;
  leaseContainer: ContainerClient;
  extraCa?: string;
  /** Waits between proofs of a new secret (Entra needs a moment to accept a new secret everywhere). */
  proofDelaysMs?: number[];
}

type Step = 'add' | 'prove' | 'store' | 'remove';

export class SecretRotator implements SecretRotationStep {
  constructor(private readonly options: SecretRotatorOptions) {}

  async run(input: { properties: ClientSecretProperties; state: MonitorState; now: number }, logger: Logger): Promise<Finding[]> {
    const { properties, state, now } = input;
    const findings: Finding[] = [];
    if (state.pendingRemoval && now >= Date.parse(state.pendingRemoval.notBefore)) {
      findings.push(...(await this.withLease(logger, () => this.removeOld(state, logger))));
    }
    const expiresOn = properties.expiresOn?.getTime();
    if (expiresOn === undefined || expiresOn - now > this.options.settings.windowDays * DAY_MS) return findings;
    findings.push(...(await this.withLease(logger, () => this.rotate(properties, state, now, logger))));
    return findings;
  }

  private async withLease(logger: Logger, work: () => Promise<Finding[]>): Promise<Finding[]> {
    const lease = await acquireRotationLease(this.options.leaseContainer, `rotation/${this.options.secretName}.lock`);
    if (!lease) {
      logger.info('another instance is rotating the client secret', { event: 'monitor.rotation_busy' });
      return [];
    }
    try {
      return await work();
    } finally {
      await lease.release();
    }
  }

  private async rotate(properties: ClientSecretProperties, state: MonitorState, now: number, logger: Logger): Promise<Finding[]> {
    const current = await this.options.secrets.reload();
    if (current.version !== properties.version) {
      logger.info('the client secret was rotated meanwhile; nothing to do', { event: 'monitor.rotation_skipped', version: current.version });
      return [];
    }
    const graph = this.graph(current.value);
    const endDateTime = new Date(now + this.options.settings.lifetimeDays * DAY_MS);
    let added: PasswordCredential & { secretText: string };
    try {
      added = await graph.addPassword(`oauth2-smtp-relay ${new Date(now).toISOString().slice(0, 10)}`, endDateTime);
    } catch (error) {
      return [this.failure('add', error)];
    }
    try {
      await this.prove(added.secretText);
    } catch (error) {
      await this.undo(graph, added.keyId, logger);
      return [this.failure('prove', error)];
    }
    let version: string | undefined;
    try {
      const stored = await this.options.vault.setSecret(this.options.secretName, added.secretText, {
        expiresOn: added.endDateTime ? new Date(added.endDateTime) : endDateTime,
        contentType: `client secret of application ${this.options.oauth.clientId}`,
        tags: { graphKeyId: added.keyId, rotatedBy: 'oauth2-smtp-relay' },
      });
      version = stored.properties.version;
    } catch (error) {
      await this.undo(graph, added.keyId, logger);
      return [this.failure('store', error)];
    }
    // Read it back: the relay's cache takes the new version and drops tokens made with the old one.
    await this.options.secrets.reload().catch(() => undefined);
    state.secretVersion = version ?? state.secretVersion;
    const oldKeyId = properties.tags?.graphKeyId ?? (await this.findOldKeyId(this.graph(added.secretText), current.value, added.keyId, properties.expiresOn));
    if (oldKeyId) {
      state.pendingRemoval = { keyId: oldKeyId, oldVersion: properties.version, notBefore: new Date(now + this.options.settings.graceMs).toISOString() };
    } else {
      logger.warn('rotated, but the old client secret could not be identified in the app registration: remove it by hand once unused', {
        event: 'monitor.old_secret_unknown',
        oldVersion: properties.version,
      });
    }
    logger.info('the client secret was rotated by the relay', {
      event: 'monitor.secret_rotated_by_relay',
      previousVersion: properties.version,
      version,
      keyId: added.keyId,
      expiresOn: added.endDateTime,
      oldSecretRemovalAfter: state.pendingRemoval?.notBefore,
    });
    return [];
  }

  private async removeOld(state: MonitorState, logger: Logger): Promise<Finding[]> {
    const pending = state.pendingRemoval!;
    const current = await this.options.secrets.current();
    try {
      await this.graph(current.value).removePassword(pending.keyId);
    } catch (error) {
      // Already gone (removed by hand): nothing left to do.
      if (!(isRelayError(error) && /NotFound|No password credential|does not exist/i.test(error.providerReply ?? ''))) {
        return [this.failure('remove', error)];
      }
    }
    delete state.pendingRemoval;
    logger.info('the old client secret was removed from the app registration', {
      event: 'monitor.old_secret_removed',
      keyId: pending.keyId,
      oldVersion: pending.oldVersion,
    });
    return [];
  }

  /** The old secret's entry: the one whose hint (first characters of the value) matches, when that is unambiguous. */
  private async findOldKeyId(graph: GraphApplicationClient, oldValue: string, newKeyId: string, oldExpiry?: Date): Promise<string | undefined> {
    const passwords = await graph.listPasswords().catch(() => [] as PasswordCredential[]);
    let candidates = passwords.filter((item) => item.keyId !== newKeyId && item.hint !== undefined && oldValue.startsWith(item.hint));
    if (candidates.length > 1 && oldExpiry) {
      candidates = candidates.filter((item) => item.endDateTime && Math.abs(Date.parse(item.endDateTime) - oldExpiry.getTime()) < DAY_MS);
    }
    return candidates.length === 1 ? candidates[0]!.keyId : undefined;
  }

  private async prove(secret: string): Promise<void> {
    const delays = this.options.proofDelaysMs ?? [5_000, 15_000];
    for (let attempt = 0; ; attempt++) {
      try {
        await new MicrosoftTokenSource({ ...this.options.oauth, clientSecret: secret }, { extraCa: this.options.extraCa }).fetchToken();
        return;
      } catch (error) {
        const delay = delays[attempt];
        const propagating = isRelayError(error) && error.reason === 'invalid_client_secret';
        if (delay === undefined || !propagating) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async undo(graph: GraphApplicationClient, keyId: string, logger: Logger): Promise<void> {
    await graph.removePassword(keyId).catch((error: unknown) =>
      logger.warn('the unused new client secret could not be removed; remove it by hand', {
        event: 'monitor.rotation_cleanup_failed',
        keyId,
        error: redact(error instanceof Error ? error.message : String(error)),
      }),
    );
  }

  private graph(secret: string): GraphApplicationClient {
    const { graphUrl } = this.options.settings;
    return new GraphApplicationClient({
      graphUrl,
      appId: this.options.oauth.clientId,
      extraCa: this.options.extraCa,
      token: async () =>
        (
          await new MicrosoftTokenSource(
            { ...this.options.oauth, clientSecret: secret, scopes: [`${graphUrl}/.default`] },
            { extraCa: this.options.extraCa },
          ).fetchToken()
        ).token,
    });
  }

  private failure(step: Step, error: unknown): Finding {
    const failure = isRelayError(error) ? error : undefined;
    const what: Record<Step, string> = {
      add: 'adding a new client secret through Microsoft Graph',
      prove: 'getting a token with the new client secret',
      store: 'storing the new client secret in Key Vault',
      remove: 'removing the old client secret after the grace period',
    };
    return {
      key: `rotation:failed:${step}`,
      alert: {
        name: 'secret_rotation_failed',
        severity: step === 'remove' ? 'warning' : 'critical',
        summary:
          step === 'remove'
            ? `Automatic rotation could not remove the old client secret (${what[step]} failed); it stays valid until it expires.`
            : `Automatic rotation failed at ${what[step]}; the current client secret stays in use.`,
        remedy: failure?.remedy ?? (step === 'store' ? remedyText('rotation_store_denied') : undefined),
        details: {
          step,
          reason: failure?.reason,
          message: failure?.message ?? redact(error instanceof Error ? error.message : String(error)),
          providerReply: failure?.providerReply,
        },
      },
    };
  }
}
