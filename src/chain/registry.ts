import { type Address, bytesToHex, encodeFunctionData, type Hex, hexToBytes, parseEventLogs } from 'viem';
import { readContract, simulateContract } from 'viem/actions';
import { ratingServerRegistryAbi } from './abis.js';
import { decodeContractError } from './describe-error.js';
import { decodeEnum, encodeEnum, SERVER_STATUSES, type ServerStatus } from './enums.js';
import { MissingEventError, UnknownServerError } from './errors.js';
import type { ProposalCall } from './governance.js';
import { type BlockRangeParameters, getEventLogsInPages, type LogPosition, logPosition } from './logs.js';
import {
  type ReadClient,
  type SigningClient,
  sendSimulatedRequest,
  type TransactionOptions,
  type TransactionResult,
} from './transactions.js';

export { SERVER_STATUSES, type ServerStatus } from './enums.js';

/** A rating server's registration. */
export interface RatingServer {
  serverId: bigint;
  /** The account that applied; it alone may update endpoints and rotate the key. */
  operator: Address;
  status: ServerStatus;
  /** Block timestamps, in seconds. */
  registeredAt: number;
  updatedAt: number;
  /** The illegal-data list the server enforces. */
  list: Address;
  /** libp2p peer id bytes; for an Ed25519 key they embed the public key that signs the server's verdicts. */
  peerId: Uint8Array;
  /** CID of the server's rating policy. */
  policyCid: string;
  multiaddrs: string[];
}

// ─── Reading ─────────────────────────────────────────────────────────────────────────────────────────────────

export interface GetServerParameters {
  registry: Address;
  serverId: bigint;
}

export type GetServerReturnType = RatingServer;

/**
 * A rating server's registration. Throws {@link UnknownServerError} for an id never registered.
 *
 * @example
 * const server = await getServer(publicClient, { registry, serverId: 1n });
 * if (server.status === 'active') dial(server.multiaddrs);
 */
export async function getServer(
  client: ReadClient,
  { registry, serverId }: GetServerParameters,
): Promise<GetServerReturnType> {
  const server = await readContract(client, {
    address: registry,
    abi: ratingServerRegistryAbi,
    functionName: 'getServer',
    args: [serverId],
  }).catch((err: unknown) => {
    if (decodeContractError(err)?.errorName === 'RatingServerRegistryUnknownServer') {
      throw new UnknownServerError(registry, serverId);
    }
    throw err;
  });
  return {
    serverId,
    operator: server.operator,
    status: decodeEnum(SERVER_STATUSES, server.status, 'server status'),
    registeredAt: server.registeredAt,
    updatedAt: server.updatedAt,
    list: server.list,
    peerId: hexToBytes(server.peerId),
    policyCid: server.policyCid,
    multiaddrs: [...server.multiaddrs],
  };
}

export interface GetServersParameters {
  registry: Address;
  /** Only servers with this status. Default: every server ever registered. */
  status?: ServerStatus;
  signal?: AbortSignal;
}

export type GetServersReturnType = RatingServer[];

/**
 * Rating servers, by id: all of them, or those with `status`.
 *
 * @example
 * const active = await getServers(publicClient, { registry, status: 'active' });
 */
export async function getServers(
  client: ReadClient,
  { registry, status, signal }: GetServersParameters,
): Promise<GetServersReturnType> {
  const read = { address: registry, abi: ratingServerRegistryAbi } as const;
  let serverIds: bigint[];
  if (status === undefined) {
    const count = await readContract(client, { ...read, functionName: 'serverCount' });
    serverIds = Array.from({ length: Number(count) }, (_, index) => BigInt(index + 1));
  } else {
    const ids = await readContract(client, {
      ...read,
      functionName: 'serverIdsByStatus',
      args: [encodeEnum(SERVER_STATUSES, status)],
    });
    serverIds = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
  signal?.throwIfAborted();
  return Promise.all(serverIds.map((serverId) => getServer(client, { registry, serverId })));
}

export interface GetServerByPeerIdParameters {
  registry: Address;
  peerId: Uint8Array;
  signal?: AbortSignal;
}

export type GetServerByPeerIdReturnType = RatingServer | null;

/**
 * The live (not removed) server registered with `peerId`, or null.
 *
 * @example
 * const server = await getServerByPeerId(publicClient, { registry, peerId: peer.toMultihash().bytes });
 */
export async function getServerByPeerId(
  client: ReadClient,
  { registry, peerId, signal }: GetServerByPeerIdParameters,
): Promise<GetServerByPeerIdReturnType> {
  const serverId = await readContract(client, {
    address: registry,
    abi: ratingServerRegistryAbi,
    functionName: 'serverIdOf',
    args: [bytesToHex(peerId)],
  });
  signal?.throwIfAborted();
  return serverId === 0n ? null : getServer(client, { registry, serverId });
}

export interface IsActiveServerKeyParameters {
  registry: Address;
  peerId: Uint8Array;
}

/**
 * Whether `peerId` is the key of an active server, that is whether verdicts it signs count.
 *
 * @example
 * if (!(await isActiveServerKey(publicClient, { registry, peerId: verdict.signer }))) return;
 */
export async function isActiveServerKey(
  client: ReadClient,
  { registry, peerId }: IsActiveServerKeyParameters,
): Promise<boolean> {
  return readContract(client, {
    address: registry,
    abi: ratingServerRegistryAbi,
    functionName: 'isActive',
    args: [bytesToHex(peerId)],
  });
}

// ─── Events ──────────────────────────────────────────────────────────────────────────────────────────────────

type RegistryEventItem = Extract<(typeof ratingServerRegistryAbi)[number], { type: 'event' }>;
const registryEvents = ratingServerRegistryAbi.filter((item): item is RegistryEventItem => item.type === 'event');

/** One registry event, decoded, with where it is. Switch on `eventName`. */
export type RegistryLog = LogPosition & { registry: Address; serverId: bigint } & (
    | {
        eventName: 'ServerRegistered';
        operator: Address;
        list: Address;
        peerId: Uint8Array;
        policyCid: string;
        multiaddrs: string[];
      }
    | { eventName: 'ServerStatusChanged'; previous: ServerStatus; current: ServerStatus }
    | { eventName: 'ServerEndpointsUpdated'; multiaddrs: string[] }
    | { eventName: 'ServerKeyRotated'; previousPeerId: Uint8Array; peerId: Uint8Array }
  );

export interface GetRegistryLogsParameters extends BlockRangeParameters {
  registry: Address;
}

export type GetRegistryLogsReturnType = RegistryLog[];

/**
 * Every registry event in a block range, oldest first: registrations, status changes, endpoint updates and
 * key rotations, read in pages of at most `maxBlockRange` blocks.
 *
 * @example
 * for (const log of await getRegistryLogs(publicClient, { registry, fromBlock })) {
 *   if (log.eventName === 'ServerStatusChanged') console.log(log.serverId, log.previous, '→', log.current);
 * }
 */
export async function getRegistryLogs(
  client: ReadClient,
  { registry, ...range }: GetRegistryLogsParameters,
): Promise<GetRegistryLogsReturnType> {
  const logs = await getEventLogsInPages(client, { ...range, address: registry, events: registryEvents });
  return logs.map((log): RegistryLog => {
    const common = { registry, serverId: log.args.serverId, ...logPosition(log) };
    switch (log.eventName) {
      case 'ServerRegistered':
        return {
          ...common,
          eventName: log.eventName,
          operator: log.args.operator,
          list: log.args.list,
          peerId: hexToBytes(log.args.peerId),
          policyCid: log.args.policyCid,
          multiaddrs: [...log.args.multiaddrs],
        };
      case 'ServerStatusChanged':
        return {
          ...common,
          eventName: log.eventName,
          previous: decodeEnum(SERVER_STATUSES, log.args.previous, 'server status'),
          current: decodeEnum(SERVER_STATUSES, log.args.current, 'server status'),
        };
      case 'ServerEndpointsUpdated':
        return { ...common, eventName: log.eventName, multiaddrs: [...log.args.multiaddrs] };
      case 'ServerKeyRotated':
        return {
          ...common,
          eventName: log.eventName,
          previousPeerId: hexToBytes(log.args.previousPeerId),
          peerId: hexToBytes(log.args.peerId),
        };
      default:
        // Unreachable while the ABI has these four events; a new one must be added above.
        throw new Error(`Unexpected registry event ${(log as { eventName: string }).eventName}.`);
    }
  });
}

// ─── Operator actions ────────────────────────────────────────────────────────────────────────────────────────

export interface RegisterServerParameters {
  registry: Address;
  /** The server's libp2p peer id bytes. */
  peerId: Uint8Array;
  /** Where nodes reach the server: 1 to 16 multiaddrs. */
  multiaddrs: readonly string[];
  /** CID of the server's rating policy. */
  policyCid: string;
  /** The illegal-data list the server enforces. */
  list: Address;
}

export interface RegisterServerReturnType extends TransactionResult {
  /** The new server's id; it starts as 'applied' until a vote activates it. */
  serverId: bigint;
}

/**
 * Applies for registration as a rating server; the signing account becomes its operator.
 *
 * @example
 * const { serverId } = await registerServer(walletClient, {
 *   registry, list, peerId: peerId.toMultihash().bytes, multiaddrs: ['/ip4/203.0.113.5/tcp/4001'], policyCid,
 * });
 */
export async function registerServer(
  client: SigningClient,
  { registry, peerId, multiaddrs, policyCid, list }: RegisterServerParameters,
  options: TransactionOptions = {},
): Promise<RegisterServerReturnType> {
  options.signal?.throwIfAborted();
  const { request } = await simulateContract(client, {
    account: client.account,
    address: registry,
    abi: ratingServerRegistryAbi,
    functionName: 'register',
    args: [bytesToHex(peerId), multiaddrs, policyCid, list],
  });
  const result = await sendSimulatedRequest(client, request, options);
  // The id comes from the event, not the simulation: another registration may have been mined in between.
  const [registered] = parseEventLogs({
    abi: ratingServerRegistryAbi,
    eventName: 'ServerRegistered',
    logs: result.receipt.logs.filter((log) => log.address.toLowerCase() === registry.toLowerCase()),
  });
  if (!registered) throw new MissingEventError('ServerRegistered', result.hash);
  return { ...result, serverId: registered.args.serverId };
}

export interface UpdateServerEndpointsParameters {
  registry: Address;
  serverId: bigint;
  multiaddrs: readonly string[];
}

/**
 * Replaces a server's multiaddrs. Operator only.
 *
 * @example
 * await updateServerEndpoints(walletClient, { registry, serverId, multiaddrs: ['/dns4/rating.example.org/tcp/4001'] });
 */
export async function updateServerEndpoints(
  client: SigningClient,
  { registry, serverId, multiaddrs }: UpdateServerEndpointsParameters,
  options: TransactionOptions = {},
): Promise<TransactionResult> {
  options.signal?.throwIfAborted();
  const { request } = await simulateContract(client, {
    account: client.account,
    address: registry,
    abi: ratingServerRegistryAbi,
    functionName: 'updateEndpoints',
    args: [serverId, multiaddrs],
  });
  return sendSimulatedRequest(client, request, options);
}

export interface RotateServerKeyParameters {
  registry: Address;
  serverId: bigint;
  /** The new libp2p peer id bytes. */
  peerId: Uint8Array;
}

/**
 * Replaces a server's key. Operator only. An active server goes back to 'applied' until a new vote.
 *
 * @example
 * await rotateServerKey(walletClient, { registry, serverId, peerId: newPeerId.toMultihash().bytes });
 */
export async function rotateServerKey(
  client: SigningClient,
  { registry, serverId, peerId }: RotateServerKeyParameters,
  options: TransactionOptions = {},
): Promise<TransactionResult> {
  options.signal?.throwIfAborted();
  const { request } = await simulateContract(client, {
    account: client.account,
    address: registry,
    abi: ratingServerRegistryAbi,
    functionName: 'rotateKey',
    args: [serverId, bytesToHex(peerId)],
  });
  return sendSimulatedRequest(client, request, options);
}

// ─── Governance calls ────────────────────────────────────────────────────────────────────────────────────────

const STATUS_FUNCTIONS = { active: 'activate', suspended: 'suspend', removed: 'remove' } as const;

/**
 * A proposal call that moves a server to `status`: 'active' (from applied or suspended), 'suspended' (from
 * active) or 'removed' (from anything but removed).
 *
 * @example
 * await propose(walletClient, {
 *   governor, calls: [serverStatusCall(registry, 1n, 'active')], description: 'Activate rating server 1',
 * });
 */
export function serverStatusCall(
  registry: Address,
  serverId: bigint,
  status: keyof typeof STATUS_FUNCTIONS,
): ProposalCall {
  const data: Hex = encodeFunctionData({
    abi: ratingServerRegistryAbi,
    functionName: STATUS_FUNCTIONS[status],
    args: [serverId],
  });
  return { target: registry, data, value: 0n };
}
