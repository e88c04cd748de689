import * as dagCbor from '@ipld/dag-cbor';
import { expect } from 'chai';
import { handleRequests } from '../../src/node/rpc.js';
import {
  decodeTipAck,
  encodeTipAck,
  sendTip,
  TIP_PROTOCOL,
  type TipAck,
  TipServerUnreachableError,
} from '../../src/node/tip-sender.js';
import { cidOf } from '../server/helpers/reports.js';
import { startHost, type TestHost } from './helpers/peers.js';

describe('tip acks and sendTip against a misbehaving server', function () {
  this.timeout(30_000);
  const hosts: TestHost[] = [];

  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.helia.stop();
  });

  it('encodes and decodes acks strictly', () => {
    const acks: TipAck[] = [
      { stored: true, id: 7, duplicate: false },
      { stored: false, reason: 'rate-limited', message: 'slow down' },
    ];
    for (const ack of acks) expect(decodeTipAck(encodeTipAck(ack))).to.deep.equal(ack);
    for (const bad of [
      { stored: true, id: 7 },
      { stored: true, id: -1, duplicate: false },
      { stored: false, reason: 'because', message: 'x' },
      { stored: false, reason: 'stale', message: 'x', extra: 1 },
      { stored: 'yes' },
      [1, 2],
    ]) {
      expect(() => decodeTipAck(dagCbor.encode(bad)), JSON.stringify(bad)).to.throw();
    }
    expect(() => encodeTipAck({ stored: false, reason: 'nope' as 'stale', message: 'x' })).to.throw();
  });

  it('reports a server that answers nonsense, or never answers, as unreachable', async () => {
    const [sender, liar, mute] = await Promise.all([startHost(), startHost(), startHost()]);
    hosts.push(sender, liar, mute);
    await handleRequests(liar.helia.libp2p, TIP_PROTOCOL, async () => dagCbor.encode({ stored: 'maybe' }));
    await handleRequests(mute.helia.libp2p, TIP_PROTOCOL, () => new Promise(() => {}), { timeoutMs: 60_000 });
    const fields = { privateKey: sender.key, cid: await cidOf('x'), category: 'malware', reason: 'r' };
    const nonsense = await sendTip(
      sender.helia.libp2p,
      { ...fields, server: { multiaddrs: liar.helia.libp2p.getMultiaddrs().map(String) } },
      { signal: AbortSignal.timeout(10_000) },
    ).catch((e: Error) => e);
    expect(nonsense).to.be.instanceOf(TipServerUnreachableError);
    expect((nonsense as Error).message).to.contain('not a tip ack');

    const silence = await sendTip(
      sender.helia.libp2p,
      { ...fields, server: { peerId: mute.id, multiaddrs: mute.helia.libp2p.getMultiaddrs().map(String) } },
      { signal: AbortSignal.timeout(1_000) },
    ).catch((e: Error) => e);
    // The caller's own deadline: an abort, as every libp2p call reports it.
    expect((silence as Error).name).to.match(/AbortError|TimeoutError/);
  });
});
