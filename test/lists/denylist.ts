import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import { DenylistHeaderError, formatDenylist, parseEntryList } from '../../src/lists/denylist.js';
import { entryId, entryIdToHex, ipip383DoubleHash, ipip383LegacyHash } from '../../src/lists/entry-id.js';

const V0 = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG';
const RAW = 'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja';

describe('entry lists and IPIP-383 denylists', () => {
  it('reads CIDs and entry ids, one per line, ignoring blanks and comments', () => {
    const id = entryIdToHex(entryId(RAW));
    const { entries, skipped } = parseEntryList(`# to add\n${V0}\n\n  ${id}  \n${RAW} trailing words\n`);
    expect(skipped).to.deep.equal([]);
    expect(entries.map((e) => e.form).sort()).to.deep.equal(['cid', 'entry-id']);
    expect(entries.map((e) => entryIdToHex(e.id)).sort()).to.deep.equal(
      [entryIdToHex(entryId(V0)), id].sort(),
      'the CID given twice (once as a CID, once as its id) is kept once',
    );
    const fromCid = entries.find((e) => e.form === 'cid');
    expect(fromCid?.ipip383).to.deep.equal(ipip383DoubleHash(V0));
  });

  it('returns entries sorted and deduplicated, CIDv0 and v1 counting once', () => {
    const v1 = CID.parse(V0).toV1().toString();
    const { entries } = parseEntryList(`${RAW}\n${V0}\n${v1}\n`);
    expect(entries).to.have.length(2);
    expect(Buffer.compare(Buffer.from(entries[0].id), Buffer.from(entries[1].id))).to.equal(-1);
  });

  it('reads a compact denylist with a header, taking what names whole content and explaining the rest', () => {
    const text = [
      'version: 1',
      'name: Example list',
      'hints:',
      '  double_hash_fn: sha256',
      '---',
      `/ipfs/${V0}`,
      '//QmX9dhRcQcKUw3Ws8485T5a9dtjrSCQaUAHnG4iK9i4ceM',
      '//d9d295bde21f422d471a90f2a37ec53049fdf3e5fa3ee2e8f20e10003da429e7',
      `/ipfs/${RAW}/some/path`,
      `/ipfs/${RAW}/*`,
      '/ipns/domain.example',
      'not a rule',
      '//zzzz',
    ].join('\n');
    const { entries, skipped, header } = parseEntryList(text);
    expect(header?.name).to.equal('Example list');
    const forms = Object.fromEntries(entries.map((e) => [e.form, entryIdToHex(e.id)]));
    expect(forms.cid).to.equal(entryIdToHex(entryId(V0)));
    expect(forms.ipip383).to.equal(entryIdToHex(ipip383DoubleHash('QmVTF1yEejXd9iMgoRTFDxBv7HAz9kuZcQNBzHrceuK9HR')));
    expect(forms['ipip383-legacy']).to.equal(
      entryIdToHex(ipip383LegacyHash('bafybeiefwqslmf6zyyrxodaxx4vwqircuxpza5ri45ws3y5a62ypxti42e')),
    );
    expect(skipped.map((s) => s.line)).to.deep.equal([9, 10, 11, 12, 13]);
    expect(skipped[0].reason).to.match(/path/);
    expect(skipped[2].reason).to.match(/IPNS/);
    expect(skipped[3].reason).to.match(/not a CID/);
  });

  it('undoes a rule with a later negated rule', () => {
    const { entries } = parseEntryList(`${V0}\n${RAW}\n!/ipfs/${V0}\n`);
    expect(entries.map((e) => entryIdToHex(e.id))).to.deep.equal([entryIdToHex(entryId(RAW))]);
  });

  it('skips double hashes of an unsupported hash function', () => {
    const { entries, skipped } = parseEntryList(
      'hints:\n  double_hash_fn: blake3\n---\n//QmX9dhRcQcKUw3Ws8485T5a9dtjrSCQaUAHnG4iK9i4ceM\n',
    );
    expect(entries).to.have.length(0);
    expect(skipped[0].reason).to.match(/sha256/);
  });

  it('rejects a header that is not YAML, by name', () => {
    expect(() => parseEntryList('name: [unclosed\n---\n')).to.throw(DenylistHeaderError);
    expect(() => parseEntryList('- a list\n---\n')).to.throw(DenylistHeaderError);
  });

  it('exports double-hashed rules that read back to the same entries, and says what it could not export', () => {
    const imported = parseEntryList(
      `${V0}\n//QmX9dhRcQcKUw3Ws8485T5a9dtjrSCQaUAHnG4iK9i4ceM\n//d9d295bde21f422d471a90f2a37ec53049fdf3e5fa3ee2e8f20e10003da429e7\n`,
    ).entries;
    const byIdOnly = { id: entryId(RAW), form: 'entry-id' as const };
    const { text, written, unexportable } = formatDenylist([...imported, byIdOnly], { name: 'Exported' });
    expect(written).to.equal(3);
    expect(unexportable).to.deep.equal([byIdOnly.id]);
    expect(text).to.not.contain(V0, 'the export never names content in the clear');

    const reread = parseEntryList(text);
    expect(reread.header?.name).to.equal('Exported');
    expect(reread.header?.hints?.double_hash_fn).to.equal('sha256');
    const doubleHashes = new Set(reread.entries.map((e) => entryIdToHex(e.id)));
    expect(doubleHashes).to.deep.equal(
      new Set([
        entryIdToHex(ipip383DoubleHash(V0)),
        entryIdToHex(ipip383DoubleHash('QmVTF1yEejXd9iMgoRTFDxBv7HAz9kuZcQNBzHrceuK9HR')),
        '0xd9d295bde21f422d471a90f2a37ec53049fdf3e5fa3ee2e8f20e10003da429e7',
      ]),
    );
  });
});
