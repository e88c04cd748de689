import { expect } from 'chai';
import { PeerAddressError, pinnedToPeer } from '../../src/ipfs/peer-address.js';

describe('pinnedToPeer', () => {
  const peer = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN';
  const other = '12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5';

  it('appends the peer id to an address without one, and keeps one that names it', () => {
    expect(pinnedToPeer('/ip4/192.0.2.1/tcp/4100', peer).toString()).to.equal(`/ip4/192.0.2.1/tcp/4100/p2p/${peer}`);
    expect(pinnedToPeer(`/ip4/192.0.2.1/tcp/4100/p2p/${peer}`, peer).toString()).to.equal(
      `/ip4/192.0.2.1/tcp/4100/p2p/${peer}`,
    );
    expect(pinnedToPeer('/dns4/rating.example.org/tcp/4100', undefined).toString()).to.equal(
      '/dns4/rating.example.org/tcp/4100',
    );
  });

  it('refuses what is not a multiaddr, and an address of another peer', () => {
    expect(() => pinnedToPeer('192.0.2.1:4100', peer))
      .to.throw(PeerAddressError)
      .with.property('message', '192.0.2.1:4100 is not a multiaddr');
    expect(() => pinnedToPeer(`/ip4/192.0.2.1/tcp/4100/p2p/${other}`, peer))
      .to.throw(PeerAddressError)
      .with.property('message')
      .that.contains(`is the address of another peer than ${peer}`);
  });
});
