import { type ReactNode, useEffect, useRef } from 'react';
import { DaoProvider, useDao } from './dao.js';
import { short } from './format.js';
import { AccountPage } from './pages/account.js';
import { ListPage } from './pages/list.js';
import { ListsPage } from './pages/lists.js';
import { OverviewPage } from './pages/overview.js';
import { ProposalPage } from './pages/proposal.js';
import { ProposalsPage } from './pages/proposals.js';
import { ProposePage } from './pages/propose.js';
import { ServersPage } from './pages/servers.js';
import { href, type Route, useRoute } from './router.js';
import { useWallet, WalletProvider } from './wallet.js';
import { WalletPanel } from './wallet-panel.js';

export function App() {
  return (
    <DaoProvider>
      <WalletProvider>
        <Shell />
      </WalletProvider>
    </DaoProvider>
  );
}

const NAV: { label: string; path: string; matches: (route: Route) => boolean }[] = [
  { label: 'Overview', path: '', matches: (r) => r.path.length === 0 },
  { label: 'Proposals', path: 'proposals', matches: (r) => r.path[0] === 'proposals' || r.path[0] === 'propose' },
  { label: 'Lists', path: 'lists', matches: (r) => r.path[0] === 'lists' },
  { label: 'Rating servers', path: 'servers', matches: (r) => r.path[0] === 'servers' },
  { label: 'Your votes', path: 'account', matches: (r) => r.path[0] === 'account' },
];

function Shell() {
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const routeKey = route.path.join('/');

  // A new page: start at its top, with focus on its content, as a screen reader user expects after a link.
  const firstRoute = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: on route changes only.
  useEffect(() => {
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    window.scrollTo(0, 0);
    main.current?.focus({ preventScroll: true });
  }, [routeKey]);

  return (
    <>
      <button type="button" className="skip-link" onClick={() => main.current?.focus()}>
        Skip to content
      </button>
      <header className="top">
        <div className="top-inner">
          <a className="brand" href="#/">
            <span aria-hidden="true">◈</span> NRP governance
          </a>
          <nav aria-label="Main">
            <ul>
              {NAV.map((item) => (
                <li key={item.label}>
                  <a href={`#/${item.path}`} aria-current={item.matches(route) ? 'page' : undefined}>
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <WalletPanel />
        </div>
      </header>
      <Banners />
      <main id="main" ref={main} tabIndex={-1} className="page">
        <Page route={route} />
      </main>
      <Footer />
    </>
  );
}

function Page({ route }: { route: Route }): ReactNode {
  const { health } = useDao();
  if (health.state === 'wrong-chain') {
    return (
      <>
        <h1>Wrong chain</h1>
        <p>The pages are hidden: they would show another chain’s contracts as if they were this DAO’s.</p>
      </>
    );
  }
  const [section, id] = route.path;
  switch (section) {
    case undefined:
      return <OverviewPage />;
    case 'proposals':
      return id ? <ProposalPage id={id} /> : <ProposalsPage state={route.query.get('state') ?? undefined} />;
    case 'propose':
      return <ProposePage />;
    case 'lists':
      return id ? <ListPage address={id} /> : <ListsPage />;
    case 'servers':
      return <ServersPage />;
    case 'account':
      return <AccountPage />;
    default:
      return (
        <>
          <h1>Page not found</h1>
          <p>
            There is no page at this address. <a href={href()}>Go to the overview.</a>
          </p>
        </>
      );
  }
}

/** Problems that concern every page: the chain cannot be reached or is the wrong one; the wallet's chain. */
function Banners() {
  const { health, deployment } = useDao();
  const { wrongChain, wallet, switchChain } = useWallet();
  return (
    <div className="banners">
      {health.state === 'unreachable' && (
        <div role="alert" className="notice notice-error banner">
          <strong>No connection to the chain.</strong> {health.message} The app keeps trying every few seconds; what it
          shows may be out of date meanwhile.
        </div>
      )}
      {health.state === 'wrong-chain' && (
        <div role="alert" className="notice notice-error banner">
          <strong>Wrong chain.</strong> {health.message}
        </div>
      )}
      {wrongChain && wallet?.kind === 'injected' && (
        <div role="alert" className="notice notice-warning banner">
          <strong>Your wallet is on the wrong chain.</strong> It is on chain {wallet.chainId}, but this DAO is on chain{' '}
          {deployment.chainId}, so it cannot sign for it.{' '}
          <button type="button" onClick={() => void switchChain()}>
            Switch network
          </button>
        </div>
      )}
    </div>
  );
}

function Footer() {
  const { deployment, blockNumber, now, ipfs, isLocalChain } = useDao();
  return (
    <footer className="footer">
      <dl className="facts">
        <div>
          <dt>Chain</dt>
          <dd>
            {deployment.chainId}
            {isLocalChain ? ' (local development chain)' : ''}
          </dd>
        </div>
        <div>
          <dt>Latest block</dt>
          <dd>
            {blockNumber === undefined ? '…' : `${blockNumber} at ${new Date(Number(now) * 1000).toLocaleString()}`}
          </dd>
        </div>
        <div>
          <dt>Governor</dt>
          <dd className="mono">{short(deployment.contracts.RatingGovernor)}</dd>
        </div>
        {ipfs && (
          <div>
            <dt>This computer’s IPFS node</dt>
            <dd>
              <span className="mono">{short(ipfs.peerId, 8)}</span>, {ipfs.connections}{' '}
              {ipfs.connections === 1 ? 'peer' : 'peers'}
            </dd>
          </div>
        )}
      </dl>
    </footer>
  );
}
