// The rating server's dashboard: a plain ES module, no build step. It reads the server's JSON API (see
// docs/rating-server-api.md) and writes every value into the page as text, never as HTML: peer ids, reasons and
// tips come from strangers.
import cytoscape from '/dashboard/cytoscape.mjs';

/** Milliseconds between refreshes. */
const REFRESH_MS = 10_000;
const TOKEN_KEY = 'nrp-operator-token';
const RATING_COLOURS = { white: '#ffffff', gray: '#9aa0a6', black: '#1b1b1b' };
const UNRATED_COLOUR = '#b9d4f5';
const REPORTS_PAGE = 25;

const $ = (id) => document.getElementById(id);

// ─── The operator token ──────────────────────────────────────────────────────────────────────────────────────

/**
 * The token comes in the URL fragment (`#token=…`, printed by `nrp server start`), which the browser never sends
 * to the server; it is kept for this tab only and taken out of the address bar at once.
 */
function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token !== null) {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname);
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function showTokenStatus(message, problem = false) {
  const status = $('token-status');
  status.textContent = message;
  status.classList.toggle('problem', problem);
}

function describeToken() {
  if (token()) showTokenStatus('Operator token set: you can accept and reject tips.');
  else {
    showTokenStatus(
      'No operator token: you can look, but not accept or reject tips. Open the address `nrp server start` ' +
        'prints (it ends in #token=…), or paste the token from server.json above.',
      true,
    );
  }
}

// ─── The API ─────────────────────────────────────────────────────────────────────────────────────────────────

class ApiError extends Error {
  name = 'ApiError';
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** Fetches JSON from the API; throws an {@link ApiError} with the server's message for any error status. */
async function api(path, options = {}) {
  const headers = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.auth) headers.authorization = `Bearer ${token()}`;
  let response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(`The server does not answer (${error.message}).`, 0);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error ?? `HTTP ${response.status}`, response.status);
  return body;
}

// ─── Building the page ───────────────────────────────────────────────────────────────────────────────────────

/** An element with attributes and children; strings become text nodes. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'className') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A long identifier, shortened, with the whole of it in a tooltip and for screen readers. */
function shortId(text, keep = 6) {
  if (!text) return '';
  if (text.length <= keep * 2 + 1) return h('code', {}, text);
  return h('code', { title: text, 'aria-label': text }, `${text.slice(0, keep)}…${text.slice(-keep)}`);
}

function time(ms) {
  if (ms === undefined || ms === null) return '';
  const date = new Date(ms);
  return h('time', { datetime: date.toISOString() }, date.toLocaleString());
}

function ratingBadge(rating) {
  if (!rating) return h('span', { className: 'badge unrated' }, 'not rated');
  return h('span', { className: `badge ${rating}` }, rating);
}

/** What each table shows now, so a refresh that brings nothing new leaves it (and the keyboard focus) alone. */
const shown = new Map();

/** Whether `data` differs from what table `tableId` shows; remembers it. */
function changed(tableId, data) {
  const key = JSON.stringify(data);
  if (shown.get(tableId) === key) return false;
  shown.set(tableId, key);
  return true;
}

function setRows(tableId, rows, emptyText) {
  const body = $(tableId).tBodies[0];
  const columns = $(tableId).tHead.rows[0].cells.length;
  body.replaceChildren(
    ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: columns, className: 'empty' }, emptyText))]),
  );
}

function setMessage(id, message, problem = true) {
  const element = $(id);
  element.textContent = message ?? '';
  element.classList.toggle('problem', Boolean(message) && problem);
}

/** Runs a section's refresh, showing its error in the section rather than failing the page. */
async function section(messageId, refresh) {
  try {
    await refresh();
  } catch (error) {
    setMessage(messageId, error.message);
  }
}

// ─── Status ──────────────────────────────────────────────────────────────────────────────────────────────────

async function refreshStatus() {
  try {
    const status = await api('/status');
    const v = status.verdicts;
    $('summary').replaceChildren(
      'Server ',
      shortId(status.peerId, 8),
      ` enforces list version ${status.list.version} (${status.list.count} entries). `,
      `Snapshot ${v.seq}: ${v.black} black, ${v.gray} gray, ${v.white} white. `,
      `${status.topology.reporters} nodes reporting, ${status.topology.peers} peers, ${status.topology.edges} edges.`,
    );
  } catch (error) {
    $('summary').textContent = `Status unavailable: ${error.message}`;
  }
}

// ─── The graph ───────────────────────────────────────────────────────────────────────────────────────────────

let cy;
let graphKey = '';

function createGraph() {
  cy = cytoscape({
    container: $('graph'),
    elements: [],
    wheelSensitivity: 0.3,
    style: [
      {
        selector: 'node',
        style: {
          'background-color': 'data(colour)',
          'border-width': 2,
          'border-color': '#3c4043',
          shape: 'data(shape)',
          width: 26,
          height: 26,
          label: 'data(label)',
          'font-size': 9,
          color: '#202124',
          'text-valign': 'bottom',
          'text-margin-y': 4,
        },
      },
      { selector: 'node:selected', style: { 'border-color': '#0b57d0', 'border-width': 5 } },
      { selector: 'edge', style: { width: 2, 'line-color': '#80868b', 'curve-style': 'straight' } },
      { selector: 'edge[?stale]', style: { 'line-style': 'dashed', opacity: 0.5 } },
    ],
  });
  cy.on('tap', 'node', (event) => showPeer(event.target.id()));
  // Cytoscape caches where its container is on the page, and notices scrolling and its own resizing, not text
  // above it growing: without this, clicks would land beside the nodes after the tables fill in.
  new ResizeObserver(() => cy.resize()).observe(document.body);
}

async function refreshGraph() {
  const topology = await api('/topology');
  const nodes = topology.nodes.map((node) => ({
    group: 'nodes',
    data: {
      id: node.peer,
      label: `${node.peer.slice(-6)}`,
      colour: node.rating ? RATING_COLOURS[node.rating] : UNRATED_COLOUR,
      shape: node.reporting ? 'ellipse' : 'diamond',
      rating: node.rating ?? 'unrated',
      reporting: node.reporting,
    },
  }));
  const edges = topology.edges.map((edge) => ({
    group: 'edges',
    data: { id: `${edge.a}|${edge.b}`, source: edge.a, target: edge.b, stale: !edge.live },
  }));
  const key = [...nodes.map((n) => n.data.id), ...edges.map((e) => e.data.id)].join(',');
  if (key !== graphKey) {
    // The peers or edges changed: lay the graph out again. Otherwise only colours and shapes are updated, so
    // the picture does not jump at every refresh.
    graphKey = key;
    const selected = cy.$('node:selected').map((node) => node.id());
    cy.elements().remove();
    cy.add([...nodes, ...edges]);
    for (const id of selected) cy.getElementById(id).select();
    cy.layout({ name: 'cose', animate: false, fit: true, padding: 30, nodeDimensionsIncludeLabels: true }).run();
  } else {
    for (const element of [...nodes, ...edges]) cy.getElementById(element.data.id).data(element.data);
  }
  const graph = $('graph');
  graph.dataset.nodes = String(nodes.length);
  graph.dataset.edges = String(edges.length);
  const reporting = topology.nodes.filter((node) => node.reporting).length;
  $('graph-summary').textContent =
    nodes.length === 0
      ? 'No peers yet: nodes appear once they report.'
      : `${nodes.length} peers (${reporting} reporting), ${edges.length} attested edges.`;
}

// ─── One peer ────────────────────────────────────────────────────────────────────────────────────────────────

async function showPeer(peer) {
  const details = $('details');
  details.dataset.peer = peer;
  const node = cy?.getElementById(peer);
  if (node && node.length > 0) {
    cy.$('node:selected').unselect();
    node.select();
  }
  const heading = h('h3', { id: 'details-title' }, 'Selected peer');
  details.replaceChildren(heading, h('p', {}, h('code', { className: 'wrap' }, peer)), h('p', {}, 'Loading…'));
  let view;
  try {
    view = await api(`/evidence?peer=${encodeURIComponent(peer)}`);
  } catch (error) {
    if (details.dataset.peer !== peer) return;
    const data = node && node.length > 0 ? node.data() : undefined;
    details.replaceChildren(
      heading,
      h('p', {}, h('code', { className: 'wrap' }, peer)),
      h('p', {}, error.status === 404 ? 'No verdict on this peer.' : error.message),
      data ? h('p', {}, data.reporting ? 'Reports to this server.' : 'Does not report to this server.') : null,
    );
    return;
  }
  if (details.dataset.peer !== peer) return;
  details.replaceChildren(
    heading,
    h('p', {}, h('code', { className: 'wrap' }, peer)),
    h(
      'dl',
      {},
      h('dt', {}, 'Rating'),
      h('dd', {}, ratingBadge(view.rating)),
      h('dt', {}, 'Score'),
      h('dd', {}, view.score.toFixed(2)),
      h('dt', {}, 'Reason'),
      h('dd', { className: 'reason' }, view.reason),
      h('dt', {}, 'Expires'),
      h('dd', {}, time(view.expiresAt)),
    ),
    h('h4', {}, `Evidence (${view.evidence.length})`),
    h('ul', { className: 'evidence' }, view.evidence.map(evidenceItem)),
  );
}

function evidenceItem(item) {
  const link = h('a', { href: `/evidence/${encodeURIComponent(item.ref)}` }, item.ref);
  if (item.kind !== 'sighting') {
    return h('li', {}, link, item.kind === 'missing' ? ': no longer stored' : ': not a reference this server reads');
  }
  return h(
    'li',
    {},
    link,
    ': ',
    shortId(item.fromPeer),
    ' offered ',
    shortId(item.cid, 8),
    ' to ',
    shortId(item.reporter),
    ' at ',
    time(item.advertTime),
    h('br'),
    h('small', {}, 'advert signature ', shortId(item.advertSignature, 10)),
  );
}

// ─── Verdicts ────────────────────────────────────────────────────────────────────────────────────────────────

async function refreshVerdicts() {
  const view = await api('/verdicts');
  setMessage('verdicts-message', `Snapshot ${view.seq}, issued ${new Date(view.issuedAt).toLocaleString()}.`, false);
  if (!changed('verdicts-table', view.verdicts)) return;
  const rows = view.verdicts.map((verdict) =>
    h(
      'tr',
      { 'data-peer': verdict.peer, 'data-rating': verdict.rating },
      h('td', {}, shortId(verdict.peer)),
      h('td', {}, ratingBadge(verdict.rating)),
      h('td', { className: 'number' }, verdict.score.toFixed(2)),
      h('td', { className: 'reason' }, verdict.reason),
      h(
        'td',
        {},
        verdict.evidence.map((ref, i) => [
          i > 0 ? ' ' : '',
          h('a', { href: `/evidence/${encodeURIComponent(ref)}` }, ref),
        ]),
      ),
      h('td', {}, time(verdict.expiresAt)),
      h(
        'td',
        {},
        h(
          'button',
          { type: 'button', 'aria-label': `Details of ${verdict.peer}`, onclick: () => showPeer(verdict.peer) },
          'Details',
        ),
      ),
    ),
  );
  setRows('verdicts-table', rows, 'No verdicts: no peer has been seen offering listed content.');
}

// ─── Tips ────────────────────────────────────────────────────────────────────────────────────────────────────

async function refreshTips() {
  let pending;
  let accepted;
  let rejected;
  try {
    [pending, accepted, rejected] = await Promise.all(
      ['pending', 'accepted', 'rejected'].map((status) => api(`/tips?status=${status}&limit=100`)),
    );
  } catch (error) {
    if (error.status === 404) {
      setMessage('tips-message', 'This server does not take tips.', false);
      setRows('pending-tips-table', [], 'No tips.');
      setRows('decided-tips-table', [], 'No tips.');
      return;
    }
    throw error;
  }
  if (!changed('tips', [pending, accepted, rejected])) return;
  setRows(
    'pending-tips-table',
    pending.tips.map((tip) =>
      h(
        'tr',
        { 'data-tip': tip.id },
        h('td', { className: 'number' }, tip.id),
        h('td', {}, shortId(tip.cid, 8)),
        h('td', {}, tip.category),
        h('td', { className: 'reason' }, tip.reason),
        h('td', {}, shortId(tip.sender)),
        h('td', {}, time(tip.receivedAt)),
        h(
          'td',
          { className: 'actions' },
          h(
            'button',
            { type: 'button', 'aria-label': `Accept tip ${tip.id}`, onclick: () => decide(tip, 'accept') },
            'Accept',
          ),
          h(
            'button',
            { type: 'button', 'aria-label': `Reject tip ${tip.id}`, onclick: () => decide(tip, 'reject') },
            'Reject',
          ),
        ),
      ),
    ),
    'No tips wait for a decision.',
  );
  const decided = [...accepted.tips, ...rejected.tips].sort((x, y) => (y.decidedAt ?? 0) - (x.decidedAt ?? 0));
  setRows(
    'decided-tips-table',
    decided.map((tip) =>
      h(
        'tr',
        { 'data-tip': tip.id, 'data-status': tip.status },
        h('td', { className: 'number' }, tip.id),
        h('td', {}, shortId(tip.cid, 8)),
        h('td', {}, tip.category),
        h('td', { className: 'reason' }, tip.reason),
        h('td', {}, shortId(tip.sender)),
        h(
          'td',
          {},
          h('span', { className: `badge ${tip.status}` }, tip.status),
          tip.proposal ? h('small', {}, ` in proposal ${tip.proposal}`) : '',
        ),
        h('td', {}, time(tip.decidedAt)),
      ),
    ),
    'No tip decided yet.',
  );
}

async function decide(tip, decision) {
  if (!token()) {
    setMessage('tips-message', `Tip ${tip.id} is still pending: set the operator token first.`);
    describeToken();
    $('token-input').focus();
    return;
  }
  try {
    const updated = await api(`/tips/${encodeURIComponent(tip.id)}/${decision}`, { method: 'POST', auth: true });
    setMessage('tips-message', `Tip ${updated.id} ${updated.status}.`, false);
  } catch (error) {
    if (error.status === 401) {
      setMessage('tips-message', `Tip ${tip.id} is still pending: the operator token is wrong (401).`);
      showTokenStatus(
        'The server refused the operator token (401). Open the address `nrp server start` printed, or paste the ' +
          'token from server.json.',
        true,
      );
    } else {
      setMessage('tips-message', `Could not ${decision} tip ${tip.id}: ${error.message}`);
    }
  }
  await section('tips-message', refreshTips);
}

// ─── Reports ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Pages read back: the `before` of each, so "Newest" goes back to the top. */
let reportsBefore;
let reportsNext;

async function refreshReports() {
  const query = new URLSearchParams({ limit: String(REPORTS_PAGE) });
  if (reportsBefore !== undefined) query.set('before', reportsBefore);
  const view = await api(`/reports?${query}`);
  reportsNext = view.next;
  $('reports-older').disabled = reportsNext === undefined;
  $('reports-newest').disabled = reportsBefore === undefined;
  setMessage('reports-message', '');
  if (!changed('reports-table', view.reports)) return;
  setRows(
    'reports-table',
    view.reports.map((report) =>
      h(
        'tr',
        {},
        h('td', { className: 'number' }, report.id),
        h('td', {}, shortId(report.reporter)),
        h('td', { className: 'number' }, report.seq),
        h('td', {}, time(report.time)),
        h('td', {}, time(report.receivedAt)),
        h('td', { className: 'number' }, report.edges),
        h('td', { className: 'number' }, report.sightings),
      ),
    ),
    'No reports yet.',
  );
}

// ─── The list ────────────────────────────────────────────────────────────────────────────────────────────────

async function refreshList() {
  const view = await api('/list?limit=100');
  setMessage('list-message', `List ${view.address}, version ${view.current} in force.`, false);
  if (!changed('list-table', view.versions)) return;
  setRows(
    'list-table',
    view.versions.map((version) =>
      h(
        'tr',
        { 'data-version': version.version },
        h('td', { className: 'number' }, version.version),
        h('td', {}, version.status),
        h('td', { className: 'number' }, version.count),
        h('td', { className: 'number' }, version.added),
        h('td', { className: 'number' }, version.removed),
        h('td', {}, time(version.publishedAt)),
        h('td', {}, version.payloadCid ? shortId(version.payloadCid, 8) : 'not a CID'),
        h('td', {}, version.stored ? 'yes' : 'no'),
      ),
    ),
    'No version published yet.',
  );
}

// ─── Proposed versions ───────────────────────────────────────────────────────────────────────────────────────

/** What each status of a proposed payload means for the operator. */
const PAYLOAD_STATUS = { kept: 'kept here', waiting: 'not fetched yet', refused: 'refused' };

async function refreshProposals() {
  const view = await api('/proposals');
  setMessage(
    'proposals-message',
    view.governor
      ? `Following Governor ${view.governor}: payloads of versions proposed for this list are kept while the vote runs.`
      : 'No Governor configured (chain.governor): proposed payloads are kept only when asked (POST /payloads).',
    false,
  );
  if (!changed('proposals-table', view.proposals)) return;
  setRows(
    'proposals-table',
    view.proposals.map((proposal) =>
      h(
        'tr',
        { 'data-proposal': proposal.proposalId, 'data-status': proposal.status },
        h('td', {}, shortId(proposal.proposalId)),
        h('td', { className: 'number' }, proposal.version),
        h('td', { className: 'number' }, proposal.count),
        h('td', {}, shortId(proposal.cid, 8)),
        h('td', {}, PAYLOAD_STATUS[proposal.status] ?? proposal.status),
        h('td', { className: 'number' }, proposal.attempts),
        h('td', {}, proposal.error ?? ''),
      ),
    ),
    'No version of this list is in the vote.',
  );
}

// ─── The registry ────────────────────────────────────────────────────────────────────────────────────────────

async function refreshRegistry() {
  const view = await api('/registry?limit=100');
  setMessage(
    'registry-message',
    view.note ?? `Registry ${view.registry}, read ${new Date(view.readAt).toLocaleTimeString()}.`,
    false,
  );
  if (!changed('registry-table', view.servers)) return;
  setRows(
    'registry-table',
    view.servers.map((server) =>
      h(
        'tr',
        { 'data-server': server.serverId },
        h('td', { className: 'number' }, server.serverId),
        h('td', {}, server.status),
        h('td', {}, shortId(server.peerId), server.self ? h('strong', {}, ' (this server)') : ''),
        h('td', {}, shortId(server.operator)),
        h('td', {}, shortId(server.list)),
        h('td', {}, shortId(server.policyCid, 8)),
        h(
          'td',
          {},
          h(
            'ul',
            { className: 'plain' },
            server.multiaddrs.map((address) => h('li', {}, h('code', { className: 'wrap' }, address))),
          ),
        ),
        h('td', {}, time(server.updatedAt)),
      ),
    ),
    view.registry ? 'No servers registered.' : 'No registry configured.',
  );
}

// ─── Refreshing ──────────────────────────────────────────────────────────────────────────────────────────────

let refreshing;

function refresh() {
  refreshing ??= Promise.all([
    refreshStatus(),
    section('graph-summary', refreshGraph),
    section('verdicts-message', refreshVerdicts),
    section('tips-message', refreshTips),
    section('reports-message', refreshReports),
    section('list-message', refreshList),
    section('proposals-message', refreshProposals),
    section('registry-message', refreshRegistry),
  ]).finally(() => {
    refreshing = undefined;
    $('refreshed').textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
    document.body.dataset.refreshed = String(Date.now());
  });
  return refreshing;
}

function start() {
  takeTokenFromFragment();
  describeToken();
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token-input').value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    $('token-input').value = '';
    describeToken();
  });
  $('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    describeToken();
  });
  window.addEventListener('hashchange', () => {
    takeTokenFromFragment();
    describeToken();
  });
  $('reports-older').addEventListener('click', () => {
    if (reportsNext === undefined) return;
    reportsBefore = reportsNext;
    section('reports-message', refreshReports);
  });
  $('reports-newest').addEventListener('click', () => {
    reportsBefore = undefined;
    section('reports-message', refreshReports);
  });
  createGraph();
  // For tests and the curious: the graph and a refresh on demand.
  window.nrpDashboard = { cy, refresh, showPeer };
  refresh();
  setInterval(() => {
    if (!document.hidden) refresh();
  }, REFRESH_MS);
}

start();
