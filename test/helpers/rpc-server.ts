import { type RpcBridge, serveProviderOverHttp } from '../../src/demo/rpc-bridge.js';
import { connection } from './dao.js';

/**
 * Serves the in-process Hardhat chain over HTTP on 127.0.0.1, so the `nrp`
 * command (in this process or a child) reaches the same chain the tests
 * control with snapshots and time travel.
 */
export function serveChainOverHttp(): Promise<RpcBridge> {
  return serveProviderOverHttp(connection.provider);
}
