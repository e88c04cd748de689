import { readContract } from 'viem/actions';
import { timelockControllerAbi } from '../../../src/chain/abis.js';
import { getGovernorSettings, getVotingPower, listProposals } from '../../../src/chain/governance.js';
import { getListInfo, getListVersion } from '../../../src/chain/lists.js';
import { ErrorNotice, Facts, Loading } from '../components.js';
import { useDao } from '../dao.js';
import { duration, formatTokens } from '../format.js';
import { href } from '../router.js';
import { useAsync } from '../use-async.js';
import { useWallet } from '../wallet.js';

export function OverviewPage() {
  const { client, deployment, revision } = useDao();
  const { wallet } = useWallet();
  const { contracts } = deployment;
  const overview = useAsync(
    async (signal) => {
      const [settings, delay, proposals, info] = await Promise.all([
        getGovernorSettings(client, { governor: contracts.RatingGovernor }),
        readContract(client, {
          address: contracts.TimelockController,
          abi: timelockControllerAbi,
          functionName: 'getMinDelay',
        }),
        listProposals(client, { governor: contracts.RatingGovernor, fromBlock: BigInt(deployment.fromBlock), signal }),
        getListInfo(client, { list: contracts.IllegalDataList }),
      ]);
      const version =
        info.currentVersion > 0n ? await getListVersion(client, { list: contracts.IllegalDataList }) : undefined;
      return { settings, delay, proposals, info, version };
    },
    [client, deployment, revision],
  );
  const power = useAsync(
    async () =>
      wallet ? getVotingPower(client, { token: contracts.RatingToken, account: wallet.address }) : undefined,
    [client, wallet, revision],
  );

  return (
    <>
      <h1>Governance</h1>
      <p className="lead">
        Token holders decide what the network deletes: they vote on each version of the illegal-data list and on which
        rating servers count. Check what a change really lists before you vote: this app does it in your browser.
      </p>
      {overview.error !== undefined && <ErrorNotice error={overview.error} retry={overview.reload} />}
      {!overview.data && !overview.error && <Loading />}
      {overview.data && (
        <div className="grid">
          <section className="card" aria-labelledby="you-heading">
            <h2 id="you-heading">You</h2>
            {wallet ? (
              <p>
                {power.data === undefined ? '…' : <strong>{formatTokens(power.data)} votes</strong>}.{' '}
                <a href={href('account')}>Your votes and delegation</a>
              </p>
            ) : (
              <p>Connect a wallet to vote. Holding tokens is enough: you need not delegate to yourself first.</p>
            )}
          </section>
          <section className="card" aria-labelledby="proposals-heading">
            <h2 id="proposals-heading">Proposals</h2>
            <p>
              {overview.data.proposals.filter((p) => p.state === 'active').length} open for voting,{' '}
              {overview.data.proposals.filter((p) => p.state === 'succeeded' || p.state === 'queued').length} passed and
              waiting to be executed, {overview.data.proposals.length} in all.
            </p>
            <p>
              <a href={href('proposals')}>All proposals</a> · <a href={href('propose')}>Propose a list change</a>
            </p>
          </section>
          <section className="card" aria-labelledby="list-heading">
            <h2 id="list-heading">The list</h2>
            <p>
              {overview.data.version
                ? `Version ${overview.data.version.version}: ${overview.data.version.count} entries.`
                : 'No version published yet.'}{' '}
              <a href={href('lists', contracts.IllegalDataList)}>Versions, entries and checks</a>
            </p>
          </section>
          <section className="card" aria-labelledby="rules-heading">
            <h2 id="rules-heading">Rules</h2>
            <Facts
              items={[
                [
                  'Voting opens',
                  overview.data.settings.votingDelay === 0
                    ? 'at once'
                    : `after ${duration(overview.data.settings.votingDelay)}`,
                ],
                ['Voting lasts', duration(overview.data.settings.votingPeriod)],
                ['Quorum', `${overview.data.settings.quorumPercent}% of the supply (for and abstain count)`],
                ['Late quorum', `voting stays open ${duration(overview.data.settings.voteExtension)} after it`],
                ['Timelock delay', duration(Number(overview.data.delay))],
              ]}
            />
          </section>
        </div>
      )}
    </>
  );
}
