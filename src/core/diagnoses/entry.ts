/**
 * The two shapes of the catalogue's entries (src/core/diagnoses.ts) and the
 * portal paths several of their texts name.
 */
import type { SetupStepId } from '../setupSteps';

/** A row of the troubleshooting table: a way the setup can be wrong. */
export interface Diagnosis {
  /** What the operator or the provider sees: an AADSTS number, an SMTP reply, a claim. */
  symptom: string;
  /** What is wrong, in plain words. */
  finding: string;
  /** The setup steps that fix it, most likely first. */
  steps: SetupStepId[];
  /** What to do; `<vault>`-style placeholders are filled in by remedyOf(). */
  fix: string;
}

/**
 * A remedy with no row of its own (a message's own fault, a storage or Key Vault
 * detail, a monitor alert): its text, or a function of the values it names
 * (a container, a limit, a queue).
 */
export type Remedy = string | ((params: never) => string);

export const APP_REGISTRATION = 'Microsoft Entra admin center → App registrations → <your app>';
export const MANAGE_EMAIL_APPS = 'Microsoft 365 admin center → Active users → <mailbox> → Mail → Manage email apps';
