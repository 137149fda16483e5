/** The doctor's own remedies, for what no other entry covers. */
import type { Remedy } from './entry';

export const DOCTOR_REMEDIES = {
  /** A classified failure no diagnosis covers and that names no remedy. */
  see_provider_reply: 'See the provider reply.',
  /** A check threw something that is not a classified failure. */
  doctor_unexpected_error: 'Run the doctor again; if it persists, report this message.',
} as const satisfies Record<string, Remedy>;
