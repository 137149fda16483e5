/**
 * Reads settings from the environment, collecting every problem instead of stopping
 * at the first one, so an operator fixes the whole setup in one go. Parsing, defaults
 * and ranges come from the spec (spec.ts); problem texts echo values only through
 * echoSetting(), and never contain a secret setting's value.
 */
import type { DiagnosisId } from '../core/diagnoses';
import { echoSetting } from '../core/echo';
import { registerSecret } from '../core/redact';
import { isEmailAddress } from '../message/address';
import { STORAGE_NAME } from './formats';
import {
  SECRET_SETTINGS,
  SETTINGS,
  rangeText,
  settingSpec,
  type AnyChoiceName,
  type BooleanName,
  type ChoiceName,
  type Derived,
  type DerivedIntegerName,
  type IntegerName,
  type OptionOf,
  type SettingName,
  type StorageName,
} from './spec';

export type Environment = Record<string, string | undefined>;

export interface ConfigProblem {
  setting: string;
  problem: string;
  /** The catalogue entry that explains the problem, named by the rule that finds it (the doctor's finding follows it). */
  diagnosis?: DiagnosisId;
}

const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';

export class SettingsReader {
  readonly problems: ConfigProblem[] = [];
  /** Settings already reported, so that checks depending on them stay quiet instead of adding follow-on noise. */
  private readonly reported = new Set<string>();
  /** The values of the secret settings, which no problem text may contain. */
  private readonly secrets: string[] = [];

  constructor(private readonly env: Environment) {
    for (const name of SECRET_SETTINGS) {
      const value = env[name]?.trim();
      if (value) this.secrets.push(value);
      // Registered before any problem is written, so the same secret pasted into another setting too is told as one (echoSetting).
      if (value && settingSpec(name).secret === 'value' && !value.startsWith(KEY_VAULT_REFERENCE)) registerSecret(value);
    }
  }

  report(setting: SettingName, problem: string, diagnosis?: DiagnosisId): void {
    this.reported.add(setting);
    const item: ConfigProblem = { setting, problem: this.withoutSecrets(problem) };
    if (diagnosis !== undefined) item.diagnosis = diagnosis;
    this.problems.push(item);
  }

  /**
   * A problem inside a structured setting, named by its path (`RELAY_SENDERS[1].credential.keyVaultSecret`);
   * `setting` is the setting it belongs to, marked as reported.
   */
  reportAt(setting: SettingName, path: string, problem: string, diagnosis?: DiagnosisId): void {
    this.reported.add(setting);
    const item: ConfigProblem = { setting: path, problem: this.withoutSecrets(problem) };
    if (diagnosis !== undefined) item.diagnosis = diagnosis;
    this.problems.push(item);
  }

  /**
   * The value of an app setting a structured setting names as its secret (a sender's
   * `credential.secretSetting`): registered with the redactor and kept out of every problem,
   * like the spec's own secret settings. Undefined when absent or an unresolved Key Vault reference.
   */
  referencedSecret(name: string): { value?: string; unresolved?: boolean } {
    const value = this.env[name]?.trim();
    if (!value) return {};
    if (value.startsWith(KEY_VAULT_REFERENCE)) return { unresolved: true };
    this.secrets.push(value);
    registerSecret(value);
    return { value };
  }

  /** Defence in depth: echoSetting() shows only values safe by shape, but a short password can look like a host name. */
  private withoutSecrets(text: string): string {
    let out = text;
    for (const secret of this.secrets) {
      if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join('[redacted]');
    }
    return out;
  }

  /** Whether a problem was already reported for the setting. */
  hasProblem(name: SettingName): boolean {
    return this.reported.has(name);
  }

  /** The trimmed value; undefined when absent, empty, or an unresolved Key Vault reference (reported once). */
  get(name: SettingName): string | undefined {
    const value = this.env[name]?.trim();
    if (!value) return undefined;
    if (value.startsWith(KEY_VAULT_REFERENCE)) {
      if (!this.reported.has(name)) {
        this.report(
          name,
          'is an unresolved Key Vault reference: the app\'s managed identity cannot read the secret (grant it the "Key Vault Secrets User" role or an access policy) or the reference is malformed (@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>/))',
          'secret_unreadable',
        );
      }
      return undefined;
    }
    return value;
  }

  /** Like get(), reporting a missing value (unless a problem with it was already reported). */
  required(name: SettingName, what: string): string | undefined {
    const value = this.get(name);
    if (value === undefined && !this.reported.has(name)) this.report(name, `is missing: ${what}`);
    return value;
  }

  /** The value in the setting's range; its default when absent or wrong (undefined when its section derives the default). */
  integer(name: IntegerName): number;
  integer(name: IntegerName | DerivedIntegerName): number | undefined;
  integer(name: IntegerName | DerivedIntegerName): number | undefined {
    const spec = SETTINGS[name];
    const fallback = typeof spec.default === 'number' ? spec.default : undefined;
    const text = this.get(name);
    if (text === undefined) return fallback;
    if (!/^[0-9]+$/.test(text)) {
      this.report(name, `${echoSetting(text)} is not a whole number`);
      return fallback;
    }
    const value = Number(text);
    if (value < spec.min || value > spec.max) {
      this.report(name, `${value} is out of range (${rangeText(spec)})`);
      return fallback;
    }
    return value;
  }

  /** One of the setting's options (case-insensitive); its default when absent or wrong (undefined when its section derives the default). */
  choice<N extends ChoiceName>(name: N): OptionOf<N>;
  choice<N extends AnyChoiceName>(name: N): OptionOf<N> | undefined;
  choice<N extends AnyChoiceName>(name: N): OptionOf<N> | undefined {
    const options: readonly OptionOf<N>[] = SETTINGS[name].options;
    const preset: OptionOf<N> | Derived<OptionOf<N>, never> = SETTINGS[name].default;
    const fallback = typeof preset === 'string' ? preset : undefined;
    const text = this.get(name);
    if (text === undefined) return fallback;
    const value = options.find((option) => option === text.toLowerCase());
    if (value === undefined) {
      this.report(name, `${echoSetting(text)} is not one of ${options.join(', ')}`);
      return fallback;
    }
    return value;
  }

  /** true or false (case-insensitive); the default when absent or wrong. */
  boolean(name: BooleanName): boolean {
    const text = this.get(name);
    const fallback = SETTINGS[name].default;
    if (text === undefined) return fallback;
    const value = text.toLowerCase();
    if (value !== 'true' && value !== 'false') {
      this.report(name, `${echoSetting(text)} is not one of true, false`);
      return fallback;
    }
    return value === 'true';
  }

  /**
   * A queue or container name; the default when absent. A wrong name is reported and
   * kept, so the checks that compare names still see it.
   */
  storageName(name: StorageName): string {
    const spec = SETTINGS[name];
    const value = this.get(name);
    if (value === undefined) return spec.default;
    if (!STORAGE_NAME.test(value)) {
      this.report(
        name,
        `${echoSetting(value)} is not a valid ${spec.kind} name (3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit)`,
      );
    }
    return value;
  }

  /** The address when it is a plain local@domain; otherwise reported and undefined. */
  emailAddress(name: SettingName, value: string | undefined): string | undefined {
    if (value === undefined || isEmailAddress(value)) return value;
    this.report(name, `${echoSetting(value)} is not an e-mail address (expected local@domain, without a display name)`);
    return undefined;
  }
}
