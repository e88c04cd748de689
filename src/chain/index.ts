// The chain client of Node Rating P2P: viem clients and plain actions on the DAO's contracts.
export * from './abis.js';
export * from './clients.js';
export * from './deployment.js';
export * from './describe-error.js';
export * from './enums.js';
export * from './errors.js';
export * from './governance.js';
export * from './lists.js';
export * from './logs.js';
export * from './registry.js';
export * from './transactions.js';
