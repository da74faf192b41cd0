export { ConfigError, loadSettings, type SettingSources } from './load-settings.ts';
export {
  SETTINGS,
  type SettingName,
  type SettingSpec,
  type Settings,
} from './settings.ts';
