/**
 * The policy documents the demo's rating servers and the protest fork publish. A registration names its policy by
 * CID, so the text a server is held to cannot change under the token holders who activated it.
 */

/** Rating server 1: the DAO's main server, which most nodes follow at high priority. */
export const SERVER_1_POLICY = `# Rating policy of demo server 1 (main)

- Enforces the DAO's illegal-data list, at the version in force on chain.
- Rates black the first hop that cannot explain where listed data came from,
  and every distributor of listed data that does not report to this server;
  an origin that reports and shared only before the listing took effect (10
  minutes of grace) is rated gray.
- Recomputes its verdicts every 2 seconds in the demo; verdicts last 24 hours
  after the peer's last offer of listed data.
- Appeals: by a token-holder vote that removes the entry from the list.
`;

/**
 * Rating server 2's policy in numbers (its configuration's `inference` section): stricter than server 1's
 * defaults. An origin that reports is black even for offers made before the listing took effect, and offers
 * after it weigh eight times as much as those before (server 1: four).
 */
export const SERVER_2_INFERENCE = { reportingOriginGrace: false, afterWeight: 8 } as const;

/** Rating server 2: a second, independent operator, which nodes follow at low priority. */
export const SERVER_2_POLICY = `# Rating policy of demo server 2 (community)

- Enforces the same list as server 1, and publishes its verdicts on its own
  schedule: every 3 seconds in the demo.
- Stricter about origins: a node that cannot say where it got listed data is
  rated black even if it shared it before the listing took effect (server 1
  rates that gray). Sharing after the listing weighs eight times as much as
  before (server 1: four).
- Intended as a second opinion: nodes are advised to follow it at low
  priority, so its black verdicts delay a peer rather than cut it off.
- Appeals: by e-mail to the operator, answered within a week, or by vote.
`;

/** The protest fork's list: the parent minus the disputed entry. */
export const FORK_LIST_POLICY = `# Policy of the protest fork of the demo list

This list is the DAO's list at version 1 minus one entry that its token
holders consider unjust: a game patch listed as malware. Everything else the
parent lists stays listed here, under the same rules as the parent's policy.
`;

/** The fork's rating server. */
export const FORK_SERVER_POLICY = `# Rating policy of the protest fork's server

- Enforces the protest fork's list, not the DAO's.
- Otherwise rates exactly as demo server 1 does.
`;
