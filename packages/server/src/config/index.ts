export { ConfigError, loadSettings, type SettingSources } from './load-settings.ts';
export {
  DEFAULT_SETTINGS,
  SETTINGS,
  type SettingName,
  type SettingSpec,
  type Settings,
} from './settings.ts';
