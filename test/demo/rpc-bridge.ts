import { expect } from 'chai';
import { serveProviderOverHttp } from '../../src/demo/rpc-bridge.js';
import { connection } from '../helpers/dao.js';

async function post(url: string, body: string) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: response.status, json: (await response.json()) as unknown };
}

describe('demo RPC bridge', () => {
  it('serves the in-process chain over HTTP: single calls, batches, errors, and bodies that are not JSON', async () => {
    const bridge = await serveProviderOverHttp(connection.provider);
    try {
      expect(bridge.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const single = await post(bridge.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId' }));
      expect(single.json).to.deep.equal({ jsonrpc: '2.0', id: 1, result: '0x7a69' });

      const batch = await post(
        bridge.url,
        JSON.stringify([
          { jsonrpc: '2.0', id: 'a', method: 'eth_chainId', params: [] },
          { jsonrpc: '2.0', id: 'b', method: 'no_such_method', params: [] },
        ]),
      );
      const [ok, failed] = batch.json as { id: string; result?: string; error?: { code: number; message: string } }[];
      expect(ok).to.include({ id: 'a', result: '0x7a69' });
      expect(failed.id).to.equal('b');
      expect(failed.error?.code).to.be.a('number');
      expect(failed.error?.message).to.match(/no_such_method|not supported/i);

      const garbage = await post(bridge.url, '{"jsonrpc": "2.0", "id": 1, "method": ');
      expect(garbage.json).to.deep.equal({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });

      // The bridge still answers after a bad request.
      const again = await post(bridge.url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'eth_chainId' }));
      expect(again.json).to.deep.include({ id: 2, result: '0x7a69' });
    } finally {
      await bridge.close();
    }
    await fetch(bridge.url, { method: 'POST', body: '{}' }).then(
      () => expect.fail('the bridge should be closed'),
      (error: Error) => expect(error).to.be.instanceOf(TypeError),
    );
  });
});
