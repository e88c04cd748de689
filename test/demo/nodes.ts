import { expect } from 'chai';
import { parseNodeLine } from '../../src/demo/nodes.js';

const CID = 'bafkreie2zxl5cantb7qztgu3qconic5jdfmu5rsgrjztkxmvl3psjhzvte';
const PEER = '12D3KooWQzi9s9cV89KoqUJXPEAjVKd4RSjZSpvGQWcuvELwVoWv';
const line = (text: string) => ({ at: 42, stream: 'stderr' as const, text });

describe('demo node output', () => {
  it('reads the events `nrp node start` prints', () => {
    expect(parseNodeLine(line(`content ${CID} from ${PEER}`))).to.deep.equal({
      kind: 'received',
      at: 42,
      cid: CID,
      from: PEER,
    });
    expect(parseNodeLine(line(`content ${CID} added here`))).to.deep.equal({ kind: 'added', at: 42, cid: CID });
    expect(parseNodeLine(line(`REFUSED listed ${CID} offered by ${PEER}; evidence kept`))).to.deep.equal({
      kind: 'refused',
      at: 42,
      cid: CID,
      from: PEER,
    });
    expect(
      parseNodeLine(line('list 0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0 at version 2 (31 entries)')),
    ).to.deep.equal({
      kind: 'list',
      at: 42,
      list: '0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0',
      version: 2n,
      count: 31,
    });
  });

  it('ignores every other line', () => {
    for (const text of [
      '',
      'Node 12D3KooW… running on /tmp/x',
      `content ${CID}`,
      `content ${CID} from`,
      'list sync: Could not fetch the payload',
      'list 0x123 at version 1 (1 entries)',
      `  content ${CID} added here`,
    ]) {
      expect(parseNodeLine(line(text)), text).to.equal(undefined);
    }
  });
});
