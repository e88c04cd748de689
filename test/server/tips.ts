import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dagCbor from '@ipld/dag-cbor';
import { expect } from 'chai';
import { createTip, encodeTip, MAX_TIP_BYTES, MAX_TIP_REASON_BYTES, type Tip } from '../../src/node/protocol/tip.js';
import { request } from '../../src/node/rpc.js';
import {
  decodeTipAck,
  InvalidTipServerError,
  sendTip,
  TIP_PROTOCOL,
  type TipAck,
  TipRefusedError,
  TipServerUnreachableError,
} from '../../src/node/tip-sender.js';
import type { RatingServer, RatingServerInit } from '../../src/server/server.js';
import { ServerStore } from '../../src/server/store.js';
import { parseTipReference, type RejectedTipEvent, type TipView, tipReference } from '../../src/server/tips.js';
import { type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { freePort, startHost, type TestHost } from '../node/helpers/peers.js';
import { startTestServer } from './helpers/api-server.js';
import { cidOf } from './helpers/reports.js';

describe('TipDesk: tip-offs at a rating server', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-tips-'));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    await removeDir(dir);
  });

  async function start(dao: ViemDao, init: Partial<RatingServerInit> = {}): Promise<RatingServer> {
    // The server's own inference defaults (the helper's grace is for the API tests' relays).
    const server = await startTestServer(dao, join(dir, 'server'), { inference: undefined, ...init });
    cleanups.push(() => server.stop());
    return server;
  }

  async function host(): Promise<TestHost> {
    const h = await startHost();
    cleanups.push(() => h.helia.stop());
    return h;
  }

  async function token(): Promise<string> {
    return JSON.parse(await readFile(join(dir, 'server', 'server.json'), 'utf8')).token;
  }

  async function http(
    server: RatingServer,
    method: string,
    path: string,
    init: { body?: unknown; form?: string; raw?: string; token?: string } = {},
  ) {
    const headers: Record<string, string> = {};
    let body: string | undefined;
    if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = init.form;
    } else if (init.raw !== undefined) {
      headers['content-type'] = 'application/json';
      body = init.raw;
    } else if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.body);
    }
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const response = await fetch(`${server.httpUrl}${path}`, { method, headers, body });
    // biome-ignore lint/suspicious/noExplicitAny: JSON of several shapes, checked field by field.
    const json = (await response.json()) as any;
    return { status: response.status, body: json };
  }

  /** Sends raw bytes over the tip protocol and decodes the ack. */
  async function sendRaw(from: TestHost, server: RatingServer, bytes: Uint8Array): Promise<TipAck> {
    const response = await request(from.helia.libp2p, server.helia.libp2p.getMultiaddrs(), TIP_PROTOCOL, bytes, {
      signal: AbortSignal.timeout(10_000),
    });
    return decodeTipAck(response);
  }

  function target(server: RatingServer) {
    return { peerId: server.peerId, multiaddrs: server.getMultiaddrs() };
  }

  function send(
    from: TestHost,
    server: RatingServer,
    fields: Partial<Parameters<typeof sendTip>[1]> & { cid: Tip['cid'] },
  ) {
    return sendTip(
      from.helia.libp2p,
      {
        server: target(server),
        privateKey: from.key,
        category: 'malware',
        reason: 'A ransomware dropper',
        ...fields,
      },
      { signal: AbortSignal.timeout(10_000) },
    );
  }

  it('takes a signed tip over /nrp/tip/1.0.0, lists it, and lets the operator decide it once; all of it survives a restart', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    let server = await start(dao);
    const sender = await host();
    const cid = await cidOf('bad file');
    const received: TipView[] = [];
    server.tips.addEventListener('tip', ({ detail }) => received.push(detail.tip));

    const sent = await send(sender, server, { cid, reason: 'Seen on a forum, see the thread' });
    expect(sent).to.deep.include({ duplicate: false, server: server.peerId });
    expect(received.map((tip) => tip.id)).to.deep.equal([sent.id]);
    // The very same signed tip again is the same tip.
    expect(await sendRaw(sender, server, encodeTip(sent.tip))).to.deep.equal({
      stored: true,
      id: sent.id,
      duplicate: true,
    });
    const other = await send(sender, server, { cid: await cidOf('other file'), category: 'csam' });

    const listed = await http(server, 'GET', '/tips');
    expect(listed.status).to.equal(200);
    expect(listed.body.tips.map((tip: TipView) => tip.id)).to.deep.equal([other.id, sent.id]);
    expect(listed.body.tips[1]).to.deep.include({
      id: sent.id,
      cid: cid.toString(),
      category: 'malware',
      reason: 'Seen on a forum, see the thread',
      sender: sender.id,
      source: 'libp2p',
      time: sent.tip.time,
      status: 'pending',
    });
    expect(listed.body.tips[1].receivedAt).to.be.a('number');
    expect(listed.body.tips[1]).to.not.have.property('decidedAt');

    const operator = await token();
    const unauthorised = await http(server, 'POST', `/tips/${sent.id}/accept`);
    expect(unauthorised.status).to.equal(401);
    expect(server.tips.get(sent.id)?.status, 'no decision without the token').to.equal('pending');
    const accepted = await http(server, 'POST', `/tips/${sent.id}/accept`, { token: operator });
    expect(accepted.status).to.equal(200);
    expect(accepted.body).to.deep.include({ id: sent.id, status: 'accepted' });
    expect(accepted.body.decidedAt).to.be.a('number');
    const rejected = await http(server, 'POST', `/tips/${other.id}/reject`, { token: operator });
    expect(rejected.body).to.deep.include({ id: other.id, status: 'rejected' });

    // A decision is final; an unknown or malformed id is refused.
    for (const [path, status, error] of [
      [`/tips/${sent.id}/reject`, 409, 'already accepted'],
      [`/tips/${sent.id}/accept`, 409, 'already accepted'],
      [`/tips/${other.id}/accept`, 409, 'already rejected'],
      ['/tips/9999/accept', 404, 'No tip has id 9999'],
      ['/tips/0/reject', 400, 'not a tip id'],
      ['/tips/abc/accept', 400, 'not a tip id'],
    ] as const) {
      const response = await http(server, 'POST', path, { token: operator });
      expect(response.status, path).to.equal(status);
      expect(response.body.error, path).to.contain(error);
    }
    expect((await http(server, 'GET', '/tips?status=accepted')).body.tips.map((t: TipView) => t.id)).to.deep.equal([
      sent.id,
    ]);
    expect((await http(server, 'GET', '/tips?status=pending')).body.tips).to.deep.equal([]);
    expect((await http(server, 'GET', '/tips?limit=1')).body.tips.map((t: TipView) => t.id)).to.deep.equal([other.id]);
    expect((await http(server, 'GET', `/tips?before=${other.id}`)).body.tips.map((t: TipView) => t.id)).to.deep.equal([
      sent.id,
    ]);
    expect((await http(server, 'GET', '/status')).body.store.tips).to.deep.equal({
      pending: 0,
      accepted: 1,
      rejected: 1,
    });

    await server.stop();
    server = await start(dao);
    expect((await http(server, 'GET', '/tips')).body.tips).to.deep.equal([rejected.body, accepted.body]);
  });

  it('refuses forged, mis-sent, stale, future, oversized and malformed tips with a reason code, stores none and keeps serving', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    // Eleven tips from one peer: more than the default burst.
    const server = await start(dao, { tips: { rateLimit: false } });
    const sender = await host();
    const stranger = await host();
    const cid = await cidOf('bad file');
    const rejections: RejectedTipEvent[] = [];
    server.tips.addEventListener('rejected', ({ detail }) => rejections.push(detail));
    const kept = await send(sender, server, { cid, reason: 'kept' });

    const refusal = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => expect.fail('the tip was stored'),
        (e: Error) => e,
      );
      expect(error).to.be.instanceOf(TipRefusedError);
      return error as TipRefusedError;
    };

    // A forged signature: one bit flipped.
    const tip = await createTip(sender.key, { cid, category: 'malware', reason: 'forged' });
    const forged = { ...tip, signature: tip.signature.slice() };
    forged.signature[0] ^= 1;
    expect(await sendRaw(sender, server, encodeTip(forged))).to.deep.include({
      stored: false,
      reason: 'bad-signature',
    });
    // Signed by one peer, sent by another.
    const misSent = await refusal(send(sender, server, { cid, privateKey: stranger.key }));
    expect(misSent.name).to.equal('TipRefusedError');
    expect(misSent.reason).to.equal('wrong-sender');
    expect(misSent.message).to.contain(stranger.id);
    // Stale and from the future.
    expect((await refusal(send(sender, server, { cid, time: Date.now() - 11 * 60_000 }))).reason).to.equal('stale');
    expect((await refusal(send(sender, server, { cid, time: Date.now() + 5 * 60_000 }))).reason).to.equal('future');
    // Blank fields pass the codec (non-empty) but say nothing.
    expect((await refusal(send(sender, server, { cid, reason: '   ' }))).reason).to.equal('malformed');
    // Not a tip at all.
    expect(await sendRaw(sender, server, new TextEncoder().encode('{"cid": "nope"}'))).to.deep.include({
      stored: false,
      reason: 'malformed',
    });
    expect(await sendRaw(sender, server, dagCbor.encode({ ...tip, extra: 1 }))).to.deep.include({
      stored: false,
      reason: 'malformed',
    });
    // Over the limits: a reason too long, a message too large; and far too large, which resets the stream.
    const longReason = dagCbor.encode({ ...tip, reason: 'x'.repeat(MAX_TIP_REASON_BYTES + 1) });
    expect(longReason.length).to.be.lessThanOrEqual(MAX_TIP_BYTES);
    expect(await sendRaw(sender, server, longReason)).to.deep.include({ stored: false, reason: 'too-large' });
    const large = dagCbor.encode({ ...tip, reason: 'x'.repeat(MAX_TIP_BYTES) });
    expect(large.length).to.be.greaterThan(MAX_TIP_BYTES);
    expect(await sendRaw(sender, server, large)).to.deep.include({ stored: false, reason: 'too-large' });
    const huge = new Uint8Array(200_000);
    await sendRaw(sender, server, huge).then(
      () => expect.fail('a huge message was answered'),
      () => {},
    );

    expect(rejections.map((r) => r.reason)).to.deep.equal([
      'bad-signature',
      'wrong-sender',
      'stale',
      'future',
      'malformed',
      'malformed',
      'malformed',
      'too-large',
      'too-large',
    ]);
    expect(rejections[0].from).to.equal(sender.id);
    // Nothing was stored but the good tip, and the server still takes tips.
    expect(server.tips.list().map((t) => t.id)).to.deep.equal([kept.id]);
    const after = await send(sender, server, { cid, reason: 'still serving' });
    expect(after.duplicate).to.equal(false);
    expect(server.tips.list().map((t) => t.reason)).to.deep.equal(['still serving', 'kept']);
  });

  it('rate-limits a flooding peer and caps the pending queue, while others still get through', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao, { tips: { rateLimit: { burst: 3, perSecond: 0.001 }, maxPending: 5 } });
    const flooder = await host();
    const other = await host();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, async (_, i) => send(flooder, server, { cid: await cidOf(`flood ${i}`) })),
    );
    const stored = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as TipRefusedError] : []));
    expect(stored).to.have.length(3);
    expect(refused.map((e) => [e.name, e.reason])).to.deep.equal(Array(3).fill(['TipRefusedError', 'rate-limited']));
    expect(refused[0].message).to.contain(flooder.id);
    expect(server.tips.list()).to.have.length(3);

    await send(other, server, { cid: await cidOf('other 1') });
    await send(other, server, { cid: await cidOf('other 2') });
    // Five pending: the queue is full for everyone until the operator decides.
    const full = await send(other, server, { cid: await cidOf('other 3') }).catch((e: TipRefusedError) => e);
    expect(full).to.be.instanceOf(TipRefusedError);
    expect((full as TipRefusedError).reason).to.equal('queue-full');
    const viaForm = await http(server, 'POST', '/tips', {
      body: { cid: (await cidOf('form')).toString(), category: 'spam', reason: 'form' },
    });
    expect(viaForm.status).to.equal(503);
    const [oldest] = server.tips.list().slice(-1);
    server.tips.reject(oldest.id);
    const third = await send(await host(), server, { cid: await cidOf('other 3') });
    expect(third.duplicate).to.equal(false);
    expect(server.tips.list({ status: 'pending' })).to.have.length(5);
  });

  it('takes tips from the HTTP form as JSON or form data, and refuses malformed bodies with a JSON 400', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao, { tips: { httpRateLimit: { burst: 20, perSecond: 0.001 } } });
    const cid = (await cidOf('form file')).toString();

    const json = await http(server, 'POST', '/tips', { body: { cid, category: 'phishing', reason: 'A fake bank' } });
    expect(json).to.deep.equal({ status: 200, body: { id: json.body.id, duplicate: false } });
    const again = await http(server, 'POST', '/tips', { body: { cid, category: 'phishing', reason: 'A fake bank' } });
    expect(again.body).to.deep.equal({ id: json.body.id, duplicate: true });
    const cidV0 = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG';
    const form = await http(server, 'POST', '/tips', {
      form: new URLSearchParams({ cid: ` ${cidV0} `, category: 'malware', reason: 'Dropper & loader' }).toString(),
    });
    expect(form.status).to.equal(200);
    expect(form.body.duplicate).to.equal(false);
    const [newest, first] = (await http(server, 'GET', '/tips')).body.tips as TipView[];
    expect(newest).to.deep.include({
      id: form.body.id,
      cid: cidV0,
      reason: 'Dropper & loader',
      sender: 'http',
      source: 'http',
    });
    expect(first).to.deep.include({ id: json.body.id, cid, category: 'phishing', sender: 'http', status: 'pending' });

    const cases: [string, { body?: unknown; raw?: string; form?: string }, number, RegExp][] = [
      ['not JSON', { raw: '{"cid": ' }, 400, /not valid JSON/],
      ['a list', { body: [cid] }, 400, /object/],
      ['null', { raw: 'null' }, 400, /object/],
      ['no cid', { body: { category: 'x', reason: 'y' } }, 400, /"cid"/],
      ['a number as reason', { body: { cid, category: 'x', reason: 5 } }, 400, /"reason"/],
      ['an empty form field', { form: `cid=${cid}&category=&reason=y` }, 400, /"category"/],
      ['not a CID', { body: { cid: 'bafynope', category: 'x', reason: 'y' } }, 400, /not a CID/],
      ['an extra field', { body: { cid, category: 'x', reason: 'y', sender: 'me' } }, 400, /"sender"/],
      ['a long category', { body: { cid, category: 'c'.repeat(65), reason: 'y' } }, 400, /"category" is over 64/],
      ['a long reason', { body: { cid, category: 'x', reason: 'r'.repeat(4097) } }, 400, /"reason" is over 4096/],
      ['a huge body', { body: { cid, category: 'x', reason: 'r'.repeat(70_000) } }, 413, /larger than/],
    ];
    for (const [what, init, status, error] of cases) {
      const response = await http(server, 'POST', '/tips', init);
      expect(response.status, what).to.equal(status);
      expect(response.body.error, what).to.match(error);
    }
    for (const [path, error] of [
      ['/tips?status=maybe', /status must be/],
      ['/tips?proposed=yes', /proposed must be/],
      ['/tips?limit=0', /limit must be/],
      ['/tips?limit=1001', /limit must be/],
      ['/tips?before=x', /before must be/],
      ['/tips?colour=red', /unknown query parameter/],
    ] as const) {
      const response = await http(server, 'GET', path);
      expect(response.status, path).to.equal(400);
      expect(response.body.error, path).to.match(error);
    }
    // Nothing of that was stored, and the form still works.
    expect(server.tips.list()).to.have.length(2);
    const later = await http(server, 'POST', '/tips', { body: { cid, category: 'phishing', reason: 'Another view' } });
    expect(later.body.duplicate).to.equal(false);
  });

  it('rate-limits the HTTP form per client address', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao, { tips: { httpRateLimit: { burst: 2, perSecond: 0.001 } } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const cid = (await cidOf(`form ${i}`)).toString();
      statuses.push((await http(server, 'POST', '/tips', { body: { cid, category: 'x', reason: 'y' } })).status);
    }
    expect(statuses).to.deep.equal([200, 200, 429, 429]);
    expect(server.tips.list()).to.have.length(2);
  });

  it('marks accepted tips as proposed, once, for the operator only', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao);
    const sender = await host();
    const operator = await token();
    const a = await send(sender, server, { cid: await cidOf('a') });
    const b = await send(sender, server, { cid: await cidOf('b') });
    server.tips.accept(a.id);

    const mark = (body: unknown, auth = operator) => http(server, 'POST', '/tips/proposed', { body, token: auth });
    expect((await mark({ ids: [a.id], proposal: '123' }, '')).status).to.equal(401);
    for (const [body, status, error] of [
      [{ ids: [a.id, b.id], proposal: '123' }, 409, `Tip ${b.id} is pending`],
      [{ ids: [a.id, 999], proposal: '123' }, 404, 'No tip has id 999'],
      [{ ids: [], proposal: '123' }, 400, 'ids must be'],
      [{ ids: ['1'], proposal: '123' }, 400, 'ids must be'],
      [{ ids: [a.id], proposal: 'x' }, 400, 'proposal must be'],
      [[a.id], 400, 'must be an object'],
    ] as const) {
      const response = await mark(body);
      expect(response.status, JSON.stringify(body)).to.equal(status);
      expect(response.body.error, JSON.stringify(body)).to.contain(error);
    }
    // All or nothing: the failed attempts marked nothing.
    expect(server.tips.get(a.id)).to.not.have.property('proposedAt');
    const marked = await mark({ ids: [a.id], proposal: '123' });
    expect(marked.status).to.equal(200);
    expect(marked.body.tips[0]).to.deep.include({ id: a.id, status: 'accepted', proposal: '123' });
    expect(marked.body.tips[0].proposedAt).to.be.a('number');
    expect((await mark({ ids: [a.id], proposal: '456' })).status).to.equal(409);
    expect((await http(server, 'GET', '/tips?status=accepted&proposed=false')).body.tips).to.deep.equal([]);
    expect((await http(server, 'GET', '/tips?status=accepted&proposed=true')).body.tips).to.have.length(1);
  });

  it('sendTip fails with named errors for a server that is unreachable, takes no tips, or is named wrongly', async () => {
    const sender = await host();
    const bystander = await host();
    const cid = await cidOf('x');
    const fields = { privateKey: sender.key, cid, category: 'malware', reason: 'r' };
    const options = { signal: AbortSignal.timeout(10_000) };
    const port = await freePort();
    const nobody = await sendTip(
      sender.helia.libp2p,
      { ...fields, server: { peerId: bystander.id, multiaddrs: [`/ip4/127.0.0.1/tcp/${port}`] } },
      options,
    ).catch((e: Error) => e);
    expect(nobody).to.be.instanceOf(TipServerUnreachableError);
    expect((nobody as Error).message).to.contain('cannot connect');
    const noTips = await sendTip(
      sender.helia.libp2p,
      { ...fields, server: { multiaddrs: bystander.helia.libp2p.getMultiaddrs().map(String) } },
      options,
    ).catch((e: Error) => e);
    expect(noTips).to.be.instanceOf(TipServerUnreachableError);
    expect((noTips as Error).message).to.contain('does not take tips');
    for (const server of [
      { peerId: 'not-a-peer' },
      { multiaddrs: ['not an address'] },
      { peerId: sender.id, multiaddrs: bystander.helia.libp2p.getMultiaddrs().map(String) },
      {},
    ]) {
      const error = await sendTip(sender.helia.libp2p, { ...fields, server }, options).catch((e: Error) => e);
      expect(error, JSON.stringify(server)).to.be.instanceOf(InvalidTipServerError);
    }
  });

  it('names tips in payloads by server, id and sender', () => {
    const ref = tipReference('12D3KooWServer', { id: 7, sender: 'http' });
    expect(ref).to.equal('nrp-tip:12D3KooWServer/7/http');
    expect(parseTipReference(ref)).to.deep.equal({ server: '12D3KooWServer', id: 7, sender: 'http' });
    expect(parseTipReference('tip 7')).to.equal(undefined);
  });

  it('stores HTTP tips once per content and text, and keeps signed ones apart (store, migration 2)', () => {
    const store = ServerStore.open(':memory:');
    try {
      const http = {
        sender: 'http',
        source: 'http' as const,
        cid: 'bafyx',
        category: 'c',
        reason: 'r',
        bytes: new Uint8Array(1),
      };
      const first = store.addTip({ ...http, time: 1, receivedAt: 1 });
      expect(store.addTip({ ...http, time: 2, receivedAt: 2 })).to.deep.equal({ id: first.id, duplicate: true });
      const otherReason = store.addTip({ ...http, reason: 'r2', time: 3, receivedAt: 3 });
      expect(otherReason.duplicate).to.equal(false);
      const signed = store.addTip({ ...http, sender: '12D3KooWX', source: undefined, time: 1, receivedAt: 4 });
      expect(signed.duplicate).to.equal(false);
      expect(store.tip(signed.id)).to.include({ source: 'libp2p' });
      expect(store.recentTips().map((t) => t.id)).to.deep.equal([signed.id, otherReason.id, first.id]);
      expect(store.countTips('pending')).to.equal(3);
    } finally {
      store.close();
    }
  });
});
