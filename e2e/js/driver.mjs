// driver.mjs runs the real npm clients (pusher-js 8, laravel-echo 2 and the
// pusher server SDK 5) for Quaver's end-to-end tests.
//
// It reads one JSON command per line on stdin and writes one JSON report per
// line on stdout. Every command carries an "id" and gets exactly one reply:
//   {"type":"reply","id":N,"ok":true,"result":...}
//   {"type":"reply","id":N,"ok":false,"error":"..."}
// Everything the clients see is reported as it happens, tagged with the
// client's name: connection states, every message received, channel events,
// Echo callbacks, errors, auth requests. internal/jsdriver is the Go side.
//
// The driver also serves the auth endpoints a Laravel app would serve
// (/broadcasting/auth and /broadcasting/user-auth, form-encoded), signing
// with the official pusher SDK, so the clients authorize over real HTTP.
//
// Diagnostics (pusher-js debug log, uncaught errors) go to stderr.
//
// Commands (fields besides id and cmd):
//   create {name, lib: pusher-js|echo, broadcaster: reverb|pusher, key, host,
//           port, options, sdk, channelData, userData, deny, denyUser,
//           badSignature, privateWithData, origin, query, webSocket}
//   createSdk {name, appId, key, secret, host, port, useTLS,
//              encryptionMasterKeyBase64}
//   state, connect, disconnect, signin {client}
//   subscribe, unsubscribe {client, channel}; bind {client, channel, event}
//   trigger {client, channel, event, data, times}   (channel.trigger)
//   sendEvent {client, event, data, channel}        (pusher.send_event)
//   userBind {client, event}; members {client, channel} (pusher-js's view)
//   echoSubscribe, echoListen, echoListenForWhisper, echoWhisper
//           {client, kind: channel|private|encryptedPrivate|join, channel,
//            event, data, times}
//   echoLeave, echoLeaveChannel {client, channel}; echoSocketId {client}
//   sdk.trigger {sdk, channels, event, data, params}
//   sdk.triggerBatch {sdk, batch}; sdk.sendToUser {sdk, userId, event, data}
//   sdk.get {sdk, path, params}; sdk.post {sdk, path, body}
//   sdk.terminateUserConnections {sdk, userId}
//   (every sdk.* takes clockSkewSeconds and answers {status, body}, HTTP
//   errors included)
// Reports: ready, reply, state, message, event (bind_global), bound (bind,
// with metadata), listen, whisper, subscribed, here, joining, leaving,
// echo_error, error, user_event, user_bound, signin_error, auth, uncaught,
// websocket (a standard WebSocket opened: its extensions and protocol).

import http from 'node:http';
import readline from 'node:readline';
import Pusher from 'pusher-js';
import Echo from 'laravel-echo';
import PusherSDK from 'pusher';

const started = Date.now();

function log(...parts) {
  process.stderr.write(`[driver +${Date.now() - started}ms] ${parts.join(' ')}\n`);
}

// safe turns anything (errors, events with cycles) into plain JSON.
function safe(value, depth = 0) {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (depth > 5) return '[deep]';
  if (value instanceof Error) {
    const out = { name: value.name, message: value.message };
    for (const k of ['status', 'code', 'type']) if (value[k] !== undefined) out[k] = safe(value[k], depth + 1);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => safe(v, depth + 1));
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('_') || k === 'target' || k === 'currentTarget' || k === 'srcElement') continue;
    const s = safe(v, depth + 1);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

function emit(report) {
  process.stdout.write(JSON.stringify({ ...report, t: Date.now() - started }) + '\n');
}

Pusher.logToConsole = false;
Pusher.log = (message) => log('pusher-js', message);

process.on('uncaughtException', (err) => {
  log('uncaught', err && err.stack ? err.stack : String(err));
  emit({ type: 'uncaught', error: safe(err) });
});
process.on('unhandledRejection', (err) => {
  log('unhandled rejection', err && err.stack ? err.stack : String(err));
  emit({ type: 'uncaught', error: safe(err) });
});

// ---------------------------------------------------------------------------
// Connection overrides. Node has no page, so a pusher-js client never sends
// an Origin header, and it always asks for protocol 7. A client created with
// "origin" or "query" gets a wsPath marker that this wrapper strips from the
// URL before connecting, adding the Origin header (as a browser on that page
// would) and replacing query parameters.
//
// pusher-js's Node build connects with faye-websocket, which offers no
// extension. A client created with webSocket: "standard" connects with the
// WHATWG WebSocket that Node ships instead (undici; Node 22, or Node 20
// with --experimental-websocket): the API pusher-js uses in browsers, and
// like Chromium it offers permessage-deflate. Its open is reported with
// the negotiated extensions.

const overrides = new Map(); // marker → {origin, query, webSocket, name}
const markerPattern = /\/__driver\/([A-Za-z0-9_-]+)(?=\/app\/)/;
const runtime = Pusher.Runtime;
const FayeClient = runtime.getWebSocketAPI();
runtime.createWebSocket = (url) => {
  const m = markerPattern.exec(url);
  if (!m) return new FayeClient(url);
  const o = overrides.get(m[1]) || {};
  const u = new URL(url.replace(markerPattern, ''));
  for (const [k, v] of Object.entries(o.query || {})) {
    if (v === null) u.searchParams.delete(k);
    else u.searchParams.set(k, String(v));
  }
  if (o.webSocket === 'standard') {
    if (typeof WebSocket === 'undefined') {
      throw new Error('no standard WebSocket: run Node 22, or Node 20 with --experimental-websocket');
    }
    const ws = new WebSocket(u.toString());
    ws.addEventListener('open', () => {
      emit({ type: 'websocket', client: o.name, extensions: ws.extensions, protocol: ws.protocol });
    });
    return ws;
  }
  const headers = {};
  if (o.origin) headers.Origin = o.origin;
  return new FayeClient(u.toString(), [], { headers });
};

// ---------------------------------------------------------------------------
// State.

const sdks = new Map(); // name → {sdk, wrong}
const clients = new Map(); // name → client record

function sdkNamed(name) {
  const s = sdks.get(name || 'default');
  if (!s) throw new Error(`no sdk named ${name || 'default'}`);
  return s;
}

function clientNamed(name) {
  const c = clients.get(name);
  if (!c) throw new Error(`no client named ${name}`);
  return c;
}

// ---------------------------------------------------------------------------
// The auth server: what Laravel's /broadcasting/auth and
// /broadcasting/user-auth do, per client: /c/{client}/broadcasting/auth.

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handleAuth(req, res) {
  const m = /^\/c\/([^/]+)\/broadcasting\/(auth|user-auth)$/.exec(new URL(req.url, 'http://x').pathname);
  const answer = (status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (!m || req.method !== 'POST') return answer(404, { message: 'not found' });
  const name = decodeURIComponent(m[1]);
  const kind = m[2] === 'auth' ? 'channel' : 'user';
  const form = new URLSearchParams(await readBody(req));
  const socketId = form.get('socket_id');
  const channel = form.get('channel_name');
  const report = {
    type: 'auth', client: name, kind, channel, socketId,
    contentType: req.headers['content-type'] || '',
    csrf: req.headers['x-csrf-token'] || '',
  };
  const c = clients.get(name);
  if (!c) {
    emit({ ...report, status: 404 });
    return answer(404, { message: 'unknown client' });
  }
  const a = c.auth;
  try {
    if (kind === 'channel' && (a.deny || []).includes(channel)) {
      emit({ ...report, status: 403 });
      return answer(403, { message: 'This action is unauthorized.' });
    }
    if (kind === 'user' && a.denyUser) {
      emit({ ...report, status: 403 });
      return answer(403, { message: 'This action is unauthorized.' });
    }
    const s = sdkNamed(a.sdk);
    const signer = a.badSignature ? s.wrong : s.sdk;
    let body;
    if (kind === 'user') {
      if (!a.userData) throw new Error(`client ${name} has no userData`);
      body = signer.authenticateUser(socketId, a.userData);
    } else if (channel.startsWith('presence-') || (a.privateWithData && a.channelData)) {
      // Presence channels sign channel_data; an app may also pass data for
      // a private channel, which the SDK then signs and returns the same way.
      if (!a.channelData) throw new Error(`client ${name} has no channelData`);
      body = signer.authorizeChannel(socketId, channel, a.channelData);
    } else {
      body = signer.authorizeChannel(socketId, channel);
    }
    emit({ ...report, status: 200 });
    return answer(200, body);
  } catch (err) {
    log('auth failed', err.stack || err);
    emit({ ...report, status: 500, error: String(err.message || err) });
    return answer(500, { message: String(err.message || err) });
  }
}

const authServer = http.createServer((req, res) => {
  handleAuth(req, res).catch((err) => {
    log('auth handler', err.stack || err);
    res.writeHead(500);
    res.end();
  });
});
await new Promise((resolve) => authServer.listen(0, '127.0.0.1', resolve));
const authBase = `http://127.0.0.1:${authServer.address().port}`;

// ---------------------------------------------------------------------------
// Clients.

function pusherOptions(cmd, name) {
  const base = {
    wsHost: cmd.host,
    wsPort: cmd.port,
    wssPort: cmd.port,
    forceTLS: false,
    enabledTransports: ['ws', 'wss'],
  };
  if (cmd.origin || cmd.query || cmd.webSocket) {
    const marker = name.replace(/[^A-Za-z0-9_-]/g, '_') + '_' + overrides.size;
    overrides.set(marker, { origin: cmd.origin, query: cmd.query, webSocket: cmd.webSocket, name });
    base.wsPath = `/__driver/${marker}`;
  }
  return base;
}

function watchConnection(name, pusher) {
  const conn = pusher.connection;
  emit({ type: 'state', client: name, previous: 'initialized', current: conn.state, socketId: conn.socket_id || '' });
  conn.bind('state_change', ({ previous, current }) => {
    emit({ type: 'state', client: name, previous, current, socketId: conn.socket_id || '' });
  });
  conn.bind('error', (err) => emit({ type: 'error', client: name, error: safe(err) }));
  conn.bind('message', (ev) => {
    emit({ type: 'message', client: name, event: ev.event, channel: ev.channel || '', data: safe(ev.data), user_id: ev.user_id || '' });
  });
  pusher.user.bind_global((event, data) => emit({ type: 'user_event', client: name, event, data: safe(data) }));
  pusher.user.bind('pusher:signin_error', (err) => emit({ type: 'signin_error', client: name, error: safe(err) }));
}

function create(cmd) {
  const name = cmd.name;
  if (!name) throw new Error('create needs a name');
  if (clients.has(name)) throw new Error(`client ${name} exists`);
  const auth = {
    sdk: cmd.sdk,
    channelData: cmd.channelData,
    userData: cmd.userData,
    deny: cmd.deny,
    denyUser: cmd.denyUser,
    badSignature: cmd.badSignature,
    privateWithData: cmd.privateWithData,
  };
  const c = { name, lib: cmd.lib, auth, echoChannels: new Map(), pusherChannels: new Map() };
  const clientPath = `${authBase}/c/${encodeURIComponent(name)}/broadcasting`;
  // Registered before the constructor connects, so the auth server knows
  // the client when the first request arrives.
  clients.set(name, c);
  try {
    if (cmd.lib === 'echo') {
      c.echo = new Echo({
        broadcaster: cmd.broadcaster || 'reverb',
        key: cmd.key,
        Pusher,
        authEndpoint: `${clientPath}/auth`,
        userAuthentication: { endpoint: `${clientPath}/user-auth`, headers: {} },
        csrfToken: 'driver-csrf-token',
        ...(cmd.broadcaster === 'pusher' ? { cluster: 'mt1' } : {}),
        ...pusherOptions(cmd, name),
        ...(cmd.options || {}),
      });
      c.pusher = c.echo.connector.pusher;
    } else if (cmd.lib === 'pusher-js' || !cmd.lib) {
      c.pusher = new Pusher(cmd.key, {
        cluster: 'mt1',
        channelAuthorization: { endpoint: `${clientPath}/auth`, transport: 'ajax' },
        userAuthentication: { endpoint: `${clientPath}/user-auth`, transport: 'ajax' },
        ...pusherOptions(cmd, name),
        ...(cmd.options || {}),
      });
    } else {
      throw new Error(`unknown lib ${cmd.lib}`);
    }
  } catch (err) {
    clients.delete(name);
    throw err;
  }
  watchConnection(name, c.pusher);
  return { authEndpoint: `${clientPath}/auth` };
}

// pusherChannel subscribes (once) and reports everything the channel emits.
function pusherChannel(c, channel) {
  let ch = c.pusherChannels.get(channel);
  if (ch) return ch;
  ch = c.pusher.subscribe(channel);
  c.pusherChannels.set(channel, ch);
  ch.bind_global((event, data) => emit({ type: 'event', client: c.name, channel, event, data: safe(data) }));
  return ch;
}

function echoChannel(c, kind, channel) {
  if (!c.echo) throw new Error(`client ${c.name} is not an Echo client`);
  let ch;
  switch (kind) {
    case 'channel': ch = c.echo.channel(channel); break;
    case 'private': ch = c.echo.private(channel); break;
    case 'encryptedPrivate': ch = c.echo.encryptedPrivate(channel); break;
    case 'join': case 'presence': ch = c.echo.join(channel); break;
    default: throw new Error(`unknown Echo channel kind ${kind}`);
  }
  const full = ch.name;
  if (!c.echoChannels.has(full)) {
    c.echoChannels.set(full, ch);
    const base = { client: c.name, channel: full };
    ch.error((err) => emit({ type: 'echo_error', ...base, error: safe(err) }));
    ch.subscribed(() => emit({ type: 'subscribed', ...base }));
    ch.subscription.bind_global((event, data) => emit({ type: 'event', ...base, event, data: safe(data) }));
    if (typeof ch.here === 'function') {
      ch.here((users) => emit({ type: 'here', ...base, users: safe(users) }));
      ch.joining((user) => emit({ type: 'joining', ...base, user: safe(user) }));
      ch.leaving((user) => emit({ type: 'leaving', ...base, user: safe(user) }));
    }
  }
  return ch;
}

// ---------------------------------------------------------------------------
// The server SDK.

function createSdk(cmd) {
  const options = {
    appId: cmd.appId,
    key: cmd.key,
    secret: cmd.secret,
    host: cmd.host,
    port: String(cmd.port),
    useTLS: !!cmd.useTLS,
    timeout: cmd.timeout || 10000,
  };
  if (cmd.encryptionMasterKeyBase64) options.encryptionMasterKeyBase64 = cmd.encryptionMasterKeyBase64;
  const sdk = new PusherSDK(options);
  const wrong = new PusherSDK({ ...options, secret: options.secret + '-wrong' });
  sdks.set(cmd.name || 'default', { sdk, wrong });
  return {};
}

// sdkCall runs one SDK request and answers {status, body}; HTTP errors are
// results too. clockSkewSeconds moves the SDK's clock while it signs (the
// signing is synchronous, so nothing else sees the moved clock).
async function sdkCall(cmd, call) {
  const { sdk } = sdkNamed(cmd.sdk);
  const realNow = Date.now;
  let pending;
  if (cmd.clockSkewSeconds) Date.now = () => realNow() + cmd.clockSkewSeconds * 1000;
  try {
    pending = call(sdk);
  } finally {
    Date.now = realNow;
  }
  try {
    const res = await pending;
    const text = await res.text();
    let body = text;
    try { body = JSON.parse(text); } catch { /* keep the text */ }
    return { status: res.status, body };
  } catch (err) {
    if (err && err.status) {
      let body = err.body;
      try { body = JSON.parse(err.body); } catch { /* keep the text */ }
      return { status: err.status, body, error: err.message };
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Commands.

const commands = {
  create,
  createSdk,

  state({ client }) {
    const c = clientNamed(client);
    return { state: c.pusher.connection.state, socketId: c.pusher.connection.socket_id || '' };
  },
  connect({ client }) { clientNamed(client).pusher.connect(); return {}; },
  disconnect({ client }) { clientNamed(client).pusher.disconnect(); return {}; },

  // pusher-js API.
  subscribe({ client, channel }) { pusherChannel(clientNamed(client), channel); return {}; },
  unsubscribe({ client, channel }) {
    const c = clientNamed(client);
    c.pusher.unsubscribe(channel);
    c.pusherChannels.delete(channel);
    return {};
  },
  bind({ client, channel, event }) {
    const c = clientNamed(client);
    const ch = c.pusher.channel(channel) || pusherChannel(c, channel);
    ch.bind(event, (data, metadata) => emit({ type: 'bound', client, channel, event, data: safe(data), metadata: safe(metadata) || {} }));
    return {};
  },
  // trigger sends a client event on a subscribed channel, times times in
  // one go (default once).
  trigger({ client, channel, event, data, times }) {
    const c = clientNamed(client);
    const ch = c.pusher.channel(channel);
    if (!ch) throw new Error(`client ${client} has no channel ${channel}`);
    let sent = 0;
    for (let i = 0; i < (times || 1); i++) if (ch.trigger(event, data)) sent++;
    return { sent };
  },
  // sendEvent is pusher.send_event: any frame, subscribed or not.
  sendEvent({ client, event, data, channel }) {
    return { sent: clientNamed(client).pusher.send_event(event, data, channel) };
  },
  signin({ client }) {
    const c = clientNamed(client);
    if (c.echo) c.echo.connector.signin();
    else c.pusher.signin();
    return {};
  },
  // members is what pusher-js believes a presence channel holds.
  members({ client, channel }) {
    const ch = clientNamed(client).pusher.channel(channel);
    if (!ch || !ch.members) throw new Error(`client ${client} has no presence channel ${channel}`);
    return { count: ch.members.count, ids: Object.keys(ch.members.members).sort(), me: ch.members.myID };
  },
  userBind({ client, event }) {
    clientNamed(client).pusher.user.bind(event, (data) => emit({ type: 'user_bound', client, event, data: safe(data) }));
    return {};
  },

  // Laravel Echo API. kind is channel, private, encryptedPrivate or join.
  echoSubscribe({ client, kind, channel }) {
    return { channel: echoChannel(clientNamed(client), kind, channel).name };
  },
  echoListen({ client, kind, channel, event }) {
    const ch = echoChannel(clientNamed(client), kind, channel);
    ch.listen(event, (data, metadata) => emit({ type: 'listen', client, channel: ch.name, event, data: safe(data), metadata: safe(metadata) || {} }));
    return { channel: ch.name };
  },
  echoListenForWhisper({ client, kind, channel, event }) {
    const ch = echoChannel(clientNamed(client), kind, channel);
    ch.listenForWhisper(event, (data, metadata) => emit({ type: 'whisper', client, channel: ch.name, event, data: safe(data), metadata: safe(metadata) || {} }));
    return { channel: ch.name };
  },
  echoWhisper({ client, kind, channel, event, data, times }) {
    const ch = echoChannel(clientNamed(client), kind, channel);
    for (let i = 0; i < (times || 1); i++) ch.whisper(event, times ? { ...data, n: i } : data);
    return { channel: ch.name };
  },
  echoLeave({ client, channel }) {
    const c = clientNamed(client);
    c.echo.leave(channel);
    for (const full of [channel, `private-${channel}`, `private-encrypted-${channel}`, `presence-${channel}`]) c.echoChannels.delete(full);
    return {};
  },
  echoLeaveChannel({ client, channel }) {
    const c = clientNamed(client);
    c.echo.leaveChannel(channel);
    c.echoChannels.delete(channel);
    return {};
  },
  echoSocketId({ client }) { return { socketId: clientNamed(client).echo.socketId() || '' }; },

  // Server SDK.
  'sdk.trigger': (cmd) => sdkCall(cmd, (s) => s.trigger(cmd.channels, cmd.event, cmd.data, cmd.params)),
  'sdk.triggerBatch': (cmd) => sdkCall(cmd, (s) => s.triggerBatch(cmd.batch)),
  'sdk.sendToUser': (cmd) => sdkCall(cmd, (s) => s.sendToUser(cmd.userId, cmd.event, cmd.data)),
  'sdk.get': (cmd) => sdkCall(cmd, (s) => s.get({ path: cmd.path, params: cmd.params || {} })),
  'sdk.post': (cmd) => sdkCall(cmd, (s) => s.post({ path: cmd.path, body: cmd.body })),
  'sdk.terminateUserConnections': (cmd) => sdkCall(cmd, (s) => s.terminateUserConnections(cmd.userId)),
};

async function handle(line) {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    emit({ type: 'reply', id: 0, ok: false, error: `invalid command JSON: ${err.message}` });
    return;
  }
  const fn = commands[cmd.cmd];
  try {
    if (!fn) throw new Error(`unknown command ${cmd.cmd}`);
    const result = await fn(cmd);
    emit({ type: 'reply', id: cmd.id, ok: true, result: safe(result) ?? {} });
  } catch (err) {
    log(`command ${cmd.cmd} failed:`, err && err.stack ? err.stack : String(err));
    emit({ type: 'reply', id: cmd.id, ok: false, error: String(err && err.message ? err.message : err) });
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() !== '') handle(line);
});
rl.on('close', () => {
  for (const c of clients.values()) {
    try { c.pusher.disconnect(); } catch { /* exiting */ }
  }
  authServer.close();
  process.exit(0);
});

emit({ type: 'ready', authBase, node: process.version });
