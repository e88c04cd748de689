import type { Address, Hex } from 'viem';
import { decodeDaoCall } from '../../chain/decode-call.js';
import { getProposal, listProposals, type Proposal } from '../../chain/governance.js';
import { decodePublishVersion } from '../../chain/lists.js';
import { inspectListChange, type ListChangeInspection } from '../../lists/inspect.js';
import type { CliContext } from '../context.js';
import { CliError, InspectionFailedError } from '../errors.js';
import { formatTime, formatTokens, parseProposalId, short } from '../format.js';
import { fail } from './governance.js';

export async function list(ctx: CliContext, options: { governor?: string; state?: string }) {
  const governor = await ctx.contract('RatingGovernor', options.governor);
  const client = await ctx.publicClient();
  const all = await listProposals(client, { governor, fromBlock: await ctx.fromBlock() }).catch(fail);
  const shown = options.state ? all.filter((p) => p.state === options.state) : all;
  ctx.output.result(shown.map(summary), (rows) => {
    if (rows.length === 0) {
      ctx.output.line(options.state ? `No ${options.state} proposals.` : 'No proposals yet.');
      return;
    }
    for (const p of rows) {
      ctx.output.line(`${p.proposalId}`);
      ctx.output.line(`  ${p.state.padEnd(9)} ${p.title}`);
      ctx.output.line(
        `  for ${formatTokens(p.votes.for)}, against ${formatTokens(p.votes.against)}, abstain ${formatTokens(p.votes.abstain)}` +
          (p.state === 'active' ? `; voting ends ${formatTime(p.deadline)}` : ''),
      );
    }
  });
}

function summary(p: Proposal) {
  return {
    proposalId: p.proposalId,
    state: p.state,
    title: p.description.split('\n')[0],
    proposer: p.proposer,
    votes: p.votes,
    quorum: p.quorum,
    deadline: p.deadline,
    eta: p.eta,
  };
}

interface InspectedCall {
  target: Address;
  value: bigint;
  contract?: string;
  call?: string;
  listChange?: ListChangeInspection;
}

export async function inspect(ctx: CliContext, idText: string, options: { governor?: string }) {
  let proposalId: bigint;
  try {
    proposalId = parseProposalId(idText);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const governor = await ctx.contract('RatingGovernor', options.governor);
  const client = await ctx.publicClient();
  const proposal = await getProposal(client, { governor, proposalId, fromBlock: await ctx.fromBlock() }).catch(fail);

  const problems: string[] = [];
  const warnings: string[] = [];
  const calls: InspectedCall[] = [];
  for (const [i, target] of proposal.targets.entries()) {
    const data = proposal.calldatas[i] as Hex;
    const value = proposal.values[i];
    const decoded = decodeKnownCall(data);
    const call: InspectedCall = { target, value, contract: decoded?.contract, call: decoded?.text };
    if (!decoded) {
      problems.push(
        `Call ${i + 1} to ${target} (selector ${data.slice(0, 10)}) is not a call this tool knows; inspect it by other means.`,
      );
    } else if (decoded.name === 'publishVersion') {
      let published: ReturnType<typeof decodePublishVersion>;
      try {
        published = decodePublishVersion(data);
      } catch {
        problems.push(`Call ${i + 1} publishes a list version whose payload CID is not a CID.`);
        calls.push(call);
        continue;
      }
      const source = await ctx.blockSource();
      call.listChange = await ctx.output.progress(`Inspecting call ${i + 1}`, (onProgress) =>
        inspectListChange(client, source, target, published, {
          chainId: client.chain.id,
          onProgress,
          signal: AbortSignal.timeout(120_000),
        }),
      );
      problems.push(...call.listChange.problems.map((p) => `Call ${i + 1}: ${p}`));
      warnings.push(...call.listChange.warnings.map((w) => `Call ${i + 1}: ${w}`));
    }
    if (value > 0n) warnings.push(`Call ${i + 1} sends ${formatTokens(value)} ETH from the timelock.`);
    calls.push(call);
  }

  ctx.output.result({ ...summary(proposal), description: proposal.description, calls, problems, warnings }, () => {
    const out = ctx.output;
    out.line(`Proposal ${proposalId}`);
    out.line(
      `  state:   ${proposal.state}${proposal.state === 'active' ? `, voting ends ${formatTime(proposal.deadline)}` : ''}`,
    );
    out.line(`  by:      ${proposal.proposer}`);
    out.line(
      `  votes:   for ${formatTokens(proposal.votes.for)}, against ${formatTokens(proposal.votes.against)}, ` +
        `abstain ${formatTokens(proposal.votes.abstain)}` +
        (proposal.quorum !== null ? `; quorum ${formatTokens(proposal.quorum)}` : ''),
    );
    if (proposal.eta !== null) out.line(`  eta:     ${formatTime(proposal.eta)}`);
    out.line('');
    for (const line of proposal.description.split('\n')) out.line(`  | ${line}`);
    for (const [i, call] of calls.entries()) {
      out.line('');
      out.line(`Call ${i + 1}: ${call.contract ?? 'unknown contract'} at ${call.target}`);
      out.line(`  ${call.call ?? '(cannot decode)'}`);
      if (call.listChange) printListChange(ctx, call.listChange);
    }
    out.line('');
    for (const warning of warnings) out.line(`WARNING: ${warning}`);
  });
  if (problems.length > 0) {
    throw new InspectionFailedError(
      `DO NOT VOTE FOR THIS PROPOSAL AS IT STANDS. It does not match what it claims:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  ctx.output.line('OK: every call was decoded and every payload matches its proposal.');
}

function printListChange(ctx: CliContext, report: ListChangeInspection) {
  const out = ctx.output;
  const { call, header } = report;
  out.line(
    `  version ${call.parentVersion} → ${call.parentVersion + 1n} of a list now at version ${report.currentVersion}`,
  );
  if (!header) return;
  out.line(`  payload ${call.payloadCid}: root and ${call.count} entries recomputed and matching`);
  const describe = (entry: ListChangeInspection['added'][number]) => {
    const m = entry.metadata;
    const facts = [m?.category, m?.reason && `“${m.reason}”`, m?.tips?.length ? `tips: ${m.tips.join(', ')}` : '']
      .filter(Boolean)
      .join('  ');
    return `    ${entry.id}${facts ? `  ${facts}` : ''}`;
  };
  out.line(`  adds ${report.added.length}:`);
  for (const entry of report.added) out.line(describe(entry));
  out.line(`  removes ${report.removed.length}:`);
  for (const entry of report.removed) out.line(describe(entry));
}

function decodeKnownCall(data: Hex): { contract: string; name: string; text: string } | undefined {
  const call = decodeDaoCall(data);
  if (!call) return undefined;
  const shown = call.args.map((a) => (typeof a === 'string' && a.length > 42 ? short(a, 10) : String(a)));
  return { contract: call.contract, name: call.functionName, text: `${call.functionName}(${shown.join(', ')})` };
}
