import { type FormEvent, useId, useState } from 'react';
import { type Address, getAddress, isAddress } from 'viem';
import { propose } from '../../../src/chain/governance.js';
import { getListInfo, publishVersionCall } from '../../../src/chain/lists.js';
import { type ParsedEntry, parseEntryList, type SkippedLine } from '../../../src/lists/denylist.js';
import { entryIdToHex } from '../../../src/lists/entry-id.js';
import { buildNextVersion, type NextListVersion } from '../../../src/lists/next-version.js';
import { unpackIds } from '../../../src/lists/set-ops.js';
import { fetchVerifiedVersion, MemoryBlocks, publishBlocks } from '../blocks.js';
import { ErrorNotice, Loading, Mono } from '../components.js';
import { useDao } from '../dao.js';
import { EntryTable } from '../list-change-review.js';
import { href, useRoute } from '../router.js';
import { TxProgress, useTransaction } from '../tx.js';
import { useWallet } from '../wallet.js';

interface Review {
  list: Address;
  next: NextListVersion;
  blocks: MemoryBlocks;
  skipped: { what: string; line: SkippedLine }[];
}

/** A new list version proposed from the browser: entries pasted or uploaded, checked, built, pinned, proposed. */
export function ProposePage() {
  const { client, deployment } = useDao();
  const { wallet } = useWallet();
  const route = useRoute();
  const asked = route.query.get('list');
  const list = asked && isAddress(asked) ? getAddress(asked) : deployment.contracts.IllegalDataList;
  const [add, setAdd] = useState('');
  const [remove, setRemove] = useState('');
  const [category, setCategory] = useState('');
  const [reason, setReason] = useState('');
  const [tips, setTips] = useState('');
  const [review, setReview] = useState<Review>();
  const [reviewing, setReviewing] = useState(false);
  const [reviewError, setReviewError] = useState<unknown>();
  const [description, setDescription] = useState('');
  const tx = useTransaction();
  const ids = { category: useId(), reason: useId(), tips: useId(), description: useId() };

  // Any edit makes the review stale: the proposal must be exactly what was reviewed.
  const edit =
    <T,>(set: (value: T) => void) =>
    (value: T) => {
      set(value);
      setReview(undefined);
      if (tx.state.phase !== 'idle' && !tx.busy) tx.reset();
    };

  const runReview = async (event: FormEvent) => {
    event.preventDefault();
    setReviewing(true);
    setReviewError(undefined);
    setReview(undefined);
    try {
      const skipped: Review['skipped'] = [];
      const parse = (text: string, what: string): ParsedEntry[] => {
        const parsed = parseEntryList(text);
        for (const line of parsed.skipped) skipped.push({ what, line });
        return parsed.entries;
      };
      const toAdd = parse(add, 'to add');
      const toRemove = parse(remove, 'to remove');
      if (toAdd.length === 0 && toRemove.length === 0) {
        throw new Error('Nothing to propose: give at least one CID or entry id to add or to remove.');
      }
      const info = await getListInfo(client, { list });
      if (info.executor !== deployment.contracts.TimelockController) {
        throw new Error(
          `List ${list} is governed by another timelock (${info.executor}), so this DAO’s Governor cannot change it.`,
        );
      }
      const current =
        info.currentVersion > 0n
          ? (await fetchVerifiedVersion(client, { list, version: info.currentVersion, metadata: true })).payload
          : undefined;
      const blocks = new MemoryBlocks();
      const next = await buildNextVersion(blocks, {
        chainId: client.chain.id,
        list,
        currentVersion: info.currentVersion,
        current,
        add: toAdd,
        remove: toRemove,
        category: category.trim() || undefined,
        reason: reason.trim() || undefined,
        tips: splitTips(tips),
      });
      setReview({ list, next, blocks, skipped });
      setDescription(next.description);
    } catch (error) {
      setReviewError(error);
    } finally {
      setReviewing(false);
    }
  };

  const submit = () => {
    if (!review) return;
    const { next, blocks } = review;
    void tx.run(
      'Proposal',
      async ({ client: signer, step, signing, options }) => {
        step('Checking that the list has not moved since the review…');
        const { currentVersion } = await getListInfo(client, { list: review.list });
        if (currentVersion !== next.call.parentVersion) {
          throw new Error(
            `The list moved to version ${currentVersion} since your review; review the change again, so it builds on it.`,
          );
        }
        step('Sending the payload to this computer’s IPFS node…', 0, blocks.blocks.size);
        await publishBlocks(blocks, next.payload.cid, {
          onProgress: (done, total) => step('Sending the payload to this computer’s IPFS node…', done, total),
        });
        signing();
        return propose(
          signer,
          {
            governor: deployment.contracts.RatingGovernor,
            calls: [publishVersionCall(review.list, next.call)],
            description: description.trim() || next.description,
          },
          options,
        );
      },
      (result) => (
        <>
          <a href={href('proposals', result.proposalId)} data-testid="new-proposal-link">
            Open the proposal to vote on it
          </a>
          . Its payload is pinned on this computer’s IPFS node: keep nrp web (or <code>nrp ipfs serve</code>) running
          while the vote runs, so that voters can fetch it.
        </>
      ),
    );
  };

  return (
    <>
      <h1>Propose a list change</h1>
      <p>
        List <Mono>{list}</Mono>. The new version is the current one plus the entries you add and minus those you
        remove. Entries are CIDs, <code>0x</code> entry ids, or IPIP-383 denylist rules, one per line; lines starting
        with <code>#</code> are comments.
      </p>
      <form onSubmit={(event) => void runReview(event)} className="stack">
        <EntriesInput label="Entries to add" value={add} onChange={edit(setAdd)} name="add" />
        <EntriesInput label="Entries to remove" value={remove} onChange={edit(setRemove)} name="remove" />
        <div className="field-grid">
          <div>
            <label htmlFor={ids.category}>Category of the added entries</label>
            <input
              id={ids.category}
              list={`${ids.category}-options`}
              value={category}
              onChange={(event) => edit(setCategory)(event.target.value)}
            />
            <datalist id={`${ids.category}-options`}>
              <option value="malware" />
              <option value="phishing" />
              <option value="csam" />
              <option value="terrorism" />
            </datalist>
          </div>
          <div>
            <label htmlFor={ids.tips}>Tip-off references (optional, comma-separated)</label>
            <input id={ids.tips} value={tips} onChange={(event) => edit(setTips)(event.target.value)} />
          </div>
        </div>
        <div>
          <label htmlFor={ids.reason}>Reason, shown to voters with every added entry</label>
          <textarea id={ids.reason} rows={2} value={reason} onChange={(event) => edit(setReason)(event.target.value)} />
        </div>
        <div>
          <button type="submit" className="primary" disabled={reviewing || tx.busy}>
            Review the change
          </button>
        </div>
      </form>
      {reviewing && <Loading>Fetching the current version and building the new one…</Loading>}
      {reviewError !== undefined && <ErrorNotice error={reviewError} what="Cannot build this change:" />}
      {review && (
        <section aria-labelledby="review-heading" className="card stack" data-testid="change-review">
          <h2 id="review-heading">Review</h2>
          <ReviewSummary review={review} />
          <div>
            <label htmlFor={ids.description}>Proposal description (voters read it; its first line is the title)</label>
            <textarea
              id={ids.description}
              rows={6}
              value={description}
              onChange={(event) => setDescription(event.target.value)}
            />
          </div>
          <div>
            <button type="button" className="primary" onClick={submit} disabled={tx.busy || !wallet}>
              Submit the proposal
            </button>
            {!wallet && <p className="muted">Connect a wallet to make the proposal.</p>}
          </div>
        </section>
      )}
      <TxProgress state={tx.state} />
    </>
  );
}

function splitTips(text: string): string[] | undefined {
  const tips = text
    .split(',')
    .map((tip) => tip.trim())
    .filter(Boolean);
  return tips.length > 0 ? tips : undefined;
}

function ReviewSummary({ review }: { review: Review }) {
  const { next, skipped } = review;
  const { call, change } = next;
  const added = unpackIds(change.added).map((id) => {
    const hex = entryIdToHex(id);
    const metadata = change.metadata.get(hex);
    return metadata ? { id: hex, metadata } : { id: hex };
  });
  const removed = unpackIds(change.removed).map((id) => ({ id: entryIdToHex(id) }));
  return (
    <>
      <p data-testid="review-summary">
        Version {String(call.parentVersion)} → <strong>{String(call.parentVersion + 1n)}</strong>:{' '}
        <strong>
          +{call.added} −{call.removed}
        </strong>
        , {call.count} entries in all. Payload <Mono>{next.payload.cid.toString()}</Mono> ({next.payload.blocks}{' '}
        {next.payload.blocks === 1 ? 'block' : 'blocks'}).
      </p>
      {change.alreadyListed.length > 0 && (
        <p className="notice notice-warning">
          {change.alreadyListed.length} of the entries to add {change.alreadyListed.length === 1 ? 'is' : 'are'} listed
          already, and left as they are.
        </p>
      )}
      {change.notListed.length > 0 && (
        <p className="notice notice-warning">
          {change.notListed.length} of the entries to remove {change.notListed.length === 1 ? 'is' : 'are'} not listed,
          so there is nothing to remove for {change.notListed.length === 1 ? 'it' : 'them'}.
        </p>
      )}
      {skipped.length > 0 && (
        <div className="notice notice-warning">
          <p>These lines were skipped:</p>
          <ul>
            {skipped.map(({ what, line }) => (
              <li key={`${what}-${line.line}`}>
                Entries {what}, line {line.line}: “{line.text}” — {line.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
      <EntryTable caption={`Added (${added.length})`} entries={added} testId="review-added" />
      <EntryTable caption={`Removed (${removed.length})`} entries={removed} testId="review-removed" />
    </>
  );
}

/** A list of entries, typed or pasted, or read from a file (such as an IPIP-383 denylist). */
function EntriesInput({
  label,
  value,
  onChange,
  name,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  name: string;
}) {
  const textId = useId();
  const fileId = useId();
  const [fileError, setFileError] = useState<string>();
  return (
    <div>
      <label htmlFor={textId}>{label}</label>
      <textarea
        id={textId}
        name={name}
        rows={4}
        className="mono"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        spellCheck={false}
        placeholder="bafkrei…&#10;QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
      />
      <div className="row small">
        <label htmlFor={fileId}>or read them from a file:</label>
        <input
          id={fileId}
          type="file"
          accept=".txt,.deny,.csv,text/plain"
          onChange={(event) => {
            const file = event.target.files?.[0];
            if (!file) return;
            setFileError(undefined);
            file.text().then(
              (text) => onChange(value.trim() ? `${value.trimEnd()}\n${text}` : text),
              () => setFileError(`Cannot read ${file.name}.`),
            );
          }}
        />
      </div>
      {fileError && (
        <p role="alert" className="field-error">
          {fileError}
        </p>
      )}
    </div>
  );
}
