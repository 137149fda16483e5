/** The settings as the README table and local.settings.json.example show them, derived from the spec. */
import { SETTING_NAMES, rangeText, settingSpec, type SettingSpec } from './spec';

export interface SettingDescription {
  name: string;
  /** The value used when the setting is absent or empty. */
  default?: string;
  description: string;
  /** When the setting must be given (absent: optional). */
  required?: string;
}

/** Every setting the relay reads, with its default and a one-line explanation (copies: callers may change them). */
export function describeSettings(): SettingDescription[] {
  return SETTING_NAMES.map((name) => {
    const spec = settingSpec(name);
    const preset = describedDefault(spec);
    const described: SettingDescription =
      preset === undefined ? { name, description: descriptionOf(spec) } : { name, default: preset, description: descriptionOf(spec) };
    if (spec.required !== undefined) described.required = spec.required;
    return described;
  });
}

function descriptionOf(spec: SettingSpec): string {
  return spec.type === 'integer' ? spec.description.replace('{range}', rangeText(spec)) : spec.description;
}

function describedDefault(spec: SettingSpec): string | undefined {
  const preset = spec.default;
  if (preset === undefined) return undefined;
  return typeof preset === 'object' ? preset.described : String(preset);
}
