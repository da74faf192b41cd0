export { PLATFORM_VERSION, type Platform, type StartOptions, startPlatform } from './platform.ts';
