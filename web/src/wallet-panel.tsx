import { useEffect, useId, useRef, useState } from 'react';
import type { Address } from 'viem';
import { developmentAccount } from '../../src/chain/clients.js';
import { short } from './format.js';
import { DEVELOPMENT_ACCOUNT_INDEXES, useWallet } from './wallet.js';

/** The wallet button in the header, and the panel it opens: a browser wallet, or a development account. */
export function WalletPanel() {
  const state = useWallet();
  const { wallet } = state;
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const button = useRef<HTMLButtonElement>(null);

  // Close the panel once a wallet is connected.
  useEffect(() => {
    if (wallet) setOpen(false);
  }, [wallet]);

  const label = wallet
    ? `${short(wallet.address, 4)}${wallet.kind === 'development' ? ` (development account ${wallet.index})` : ''}`
    : 'Connect wallet';
  return (
    <div className="wallet">
      <button
        ref={button}
        type="button"
        className={wallet ? 'wallet-button connected' : 'wallet-button primary'}
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen(!open)}
      >
        {wallet && <span className="sr-only">Wallet: </span>}
        {label}
      </button>
      <section
        id={panelId}
        className="wallet-panel"
        hidden={!open}
        aria-label="Wallet"
        onKeyDown={(event) => {
          if (event.key !== 'Escape') return;
          setOpen(false);
          button.current?.focus();
        }}
      >
        {open && <WalletChoices onDone={() => setOpen(false)} />}
      </section>
    </div>
  );
}

function WalletChoices({ onDone }: { onDone: () => void }) {
  const {
    wallet,
    hasInjected,
    developmentAccounts,
    connecting,
    error,
    connectInjected,
    connectDevelopment,
    disconnect,
  } = useWallet();
  const selectId = useId();
  const [index, setIndex] = useState(wallet?.kind === 'development' ? wallet.index : 0);
  const [addresses, setAddresses] = useState<Address[]>();

  // Deriving 20 accounts from the mnemonic takes a moment: after the panel has shown.
  useEffect(() => {
    if (!developmentAccounts) return;
    const timer = setTimeout(
      () => setAddresses(DEVELOPMENT_ACCOUNT_INDEXES.map((i) => developmentAccount(i).address)),
      0,
    );
    return () => clearTimeout(timer);
  }, [developmentAccounts]);

  return (
    <div className="stack">
      {wallet && (
        <div>
          <p>
            Connected:{' '}
            <span className="mono" data-testid="connected-address">
              {wallet.address}
            </span>
            {wallet.kind === 'development' ? ` — development account ${wallet.index}` : ' — browser wallet'}
          </p>
          <button
            type="button"
            onClick={() => {
              disconnect();
              onDone();
            }}
          >
            Disconnect
          </button>
        </div>
      )}
      <div>
        <h2 className="h4">Browser wallet</h2>
        {hasInjected ? (
          <button type="button" className="primary" onClick={() => void connectInjected()} disabled={connecting}>
            {connecting ? 'Waiting for your wallet…' : 'Connect browser wallet'}
          </button>
        ) : (
          <p className="muted">
            No browser wallet found. Install MetaMask or another Ethereum wallet extension, then reload this page.
          </p>
        )}
      </div>
      {developmentAccounts && (
        <div className="dev-accounts">
          <h2 className="h4">Development accounts (local chain only)</h2>
          <p className="small">
            Hardhat’s well-known test accounts. Their keys are public, so they sign here in the page: never use them on
            a real network. Accounts 0 to 4 hold the local DAO’s tokens.
          </p>
          <label htmlFor={selectId}>Development account</label>
          <div className="row">
            <select id={selectId} value={index} onChange={(event) => setIndex(Number(event.target.value))}>
              {DEVELOPMENT_ACCOUNT_INDEXES.map((i) => (
                <option key={i} value={i}>
                  {i} — {addresses ? short(addresses[i], 4) : '…'}
                </option>
              ))}
            </select>
            <button type="button" onClick={() => connectDevelopment(index)}>
              Use development account
            </button>
          </div>
        </div>
      )}
      {error && (
        <p role="alert" className="notice notice-error">
          {error}
        </p>
      )}
    </div>
  );
}
