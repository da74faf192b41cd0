export { CorsSettings, type CorsSettingsOptions } from './cors-settings.ts';
