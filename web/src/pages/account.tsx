import { type FormEvent, useId, useState } from 'react';
import { type Address, getAddress, isAddress, isAddressEqual } from 'viem';
import { readContract } from 'viem/actions';
import { ratingTokenAbi } from '../../../src/chain/abis.js';
import { delegate, getDelegate, getVotingPower } from '../../../src/chain/governance.js';
import { ErrorNotice, Facts, Loading, Mono } from '../components.js';
import { useDao } from '../dao.js';
import { formatTokens } from '../format.js';
import { TxProgress, useTransaction } from '../tx.js';
import { useAsync } from '../use-async.js';
import { useWallet } from '../wallet.js';

export function AccountPage() {
  const { wallet } = useWallet();
  return (
    <>
      <h1>Your votes</h1>
      {wallet ? (
        <VotingPower account={wallet.address} />
      ) : (
        <p>Connect a wallet (the button at the top) to see your tokens and voting power, and to delegate.</p>
      )}
    </>
  );
}

function VotingPower({ account }: { account: Address }) {
  const { client, deployment, revision } = useDao();
  const token = deployment.contracts.RatingToken;
  const power = useAsync(async () => {
    const read = { address: token, abi: ratingTokenAbi } as const;
    const [balance, votes, delegatee, symbol] = await Promise.all([
      readContract(client, { ...read, functionName: 'balanceOf', args: [account] }),
      getVotingPower(client, { token, account }),
      getDelegate(client, { token, account }),
      readContract(client, { ...read, functionName: 'symbol' }),
    ]);
    return { balance, votes, delegatee, symbol };
  }, [client, token, account, revision]);

  if (!power.data) {
    return power.error ? <ErrorNotice error={power.error} retry={power.reload} /> : <Loading />;
  }
  const { balance, votes, delegatee, symbol } = power.data;
  const self = isAddressEqual(delegatee, account);
  const received = self ? votes - balance : votes;
  return (
    <>
      {power.error !== undefined && <ErrorNotice error={power.error} retry={power.reload} what="Not up to date:" />}
      <section aria-labelledby="power-heading" className="card">
        <h2 id="power-heading">Tokens and voting power</h2>
        <Facts
          items={[
            ['Account', <Mono key="a">{account}</Mono>],
            ['Balance', <span key="b" data-testid="balance">{`${formatTokens(balance)} ${symbol}`}</span>],
            ['Voting power now', <span key="v" data-testid="voting-power">{`${formatTokens(votes)} votes`}</span>],
            ...(received > 0n
              ? [['Delegated to you by others', `${formatTokens(received)} votes`] as [string, string]]
              : []),
          ]}
        />
        <p data-testid="delegation-status">
          {self ? (
            <>
              <strong>You vote with your own balance.</strong> A holder who never delegated already does: there is
              nothing to set up before voting. Delegate only to let someone else vote with your tokens.
            </>
          ) : (
            <>
              <strong>
                <Mono>{delegatee}</Mono> votes with your tokens.
              </strong>{' '}
              Your own votes on proposals count for nothing while you delegate; take them back at any time.
            </>
          )}
        </p>
      </section>
      <DelegateForm account={account} delegated={!self} />
    </>
  );
}

function DelegateForm({ account, delegated }: { account: Address; delegated: boolean }) {
  const { deployment } = useDao();
  const tx = useTransaction();
  const [text, setText] = useState('');
  const [invalid, setInvalid] = useState<string>();
  const inputId = useId();
  const hintId = useId();

  const send = (delegatee: Address) =>
    tx.run(
      'Delegation',
      ({ client, options }) => delegate(client, { token: deployment.contracts.RatingToken, delegatee }, options),
      () =>
        isAddressEqual(delegatee, account)
          ? 'You vote with your own balance again.'
          : `${delegatee} now votes with your tokens, from the next proposal on.`,
    );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = text.trim();
    if (!isAddress(value)) {
      setInvalid('Enter an Ethereum address: 0x followed by 40 hex digits.');
      return;
    }
    setInvalid(undefined);
    void send(getAddress(value));
  };

  return (
    <section aria-labelledby="delegate-heading" className="card">
      <h2 id="delegate-heading">Delegate</h2>
      <p className="muted">
        Voting power is counted when a proposal is made: a delegation counts for proposals made after it, not for votes
        already open.
      </p>
      <form onSubmit={submit} noValidate>
        <label htmlFor={inputId}>Let this address vote with your tokens</label>
        <div className="row">
          <input
            id={inputId}
            className="mono"
            value={text}
            onChange={(event) => setText(event.target.value)}
            placeholder="0x…"
            spellCheck={false}
            autoComplete="off"
            aria-invalid={invalid !== undefined}
            aria-describedby={invalid ? hintId : undefined}
          />
          <button type="submit" className="primary" disabled={tx.busy}>
            Delegate
          </button>
        </div>
        {invalid && (
          <p id={hintId} className="field-error" role="alert">
            {invalid}
          </p>
        )}
      </form>
      {delegated && (
        <p>
          <button type="button" onClick={() => void send(account)} disabled={tx.busy}>
            Vote with my own balance again
          </button>
        </p>
      )}
      <TxProgress state={tx.state} />
    </section>
  );
}
