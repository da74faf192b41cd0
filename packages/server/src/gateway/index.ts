export { createGateway, type GatewayOptions } from './create-gateway.ts';
export { serverGroups } from './tls-listener.ts';
