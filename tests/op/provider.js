// One Logto-shaped OpenID provider: node-oidc-provider configured so that, on the wire, it answers
// the way a Logto tenant does (see README.md beside this file). `server.js` is its command line;
// a process may hold many providers (`server.js --many`), each with its own port, state and clock.
//
// Import this module only after taming the console (server.js does): oidc-provider writes its
// notices with console.info, and stdout carries only the ready line.
import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import http from 'node:http';
import Provider, { errors as oidcErrors } from 'oidc-provider';
import { exportJWK, generateKeyPair } from 'jose';

const DEBUG = process.env.OP_DEBUG === '1';

// Time, movable by tests (POST /__op/clock): token lifetimes and rotation windows pass without
// waiting. oidc-provider's epoch time, its store's expiry and this file all read Date.now, so
// Date.now answers with the clock of the provider whose request is running (each provider's
// requests run inside its own clock's context); outside any request it is the real time.
const clocks = new AsyncLocalStorage();
const realDateNow = Date.now.bind(Date);
Date.now = () => realDateNow() + (clocks.getStore()?.offsetMs ?? 0);

/**
 * Starts a provider listening on `host`:`port` (0: any free port).
 *
 * `config` is what `--config` files hold (signing_alg or signing_key, resources, clients, users,
 * organizations, ttl, refresh_rotation); `demo` registers the demo app of `demo.sh`.
 * Resolves to `{ issuer, port, close }` once it answers; `close()` stops it and ends its
 * connections. Rejects when it cannot listen (`err.code`, e.g. EADDRINUSE).
 */
export async function startProvider({ host = '127.0.0.1', port = 0, config = {}, demo = false } = {}) {
  const clock = { offsetMs: 0 };
  // ---------------------------------------------------------------------------------------------
  // Settings that tests change at runtime

  const settings = {
    // Logto's defaults: access and ID tokens 1 h, refresh tokens 14 days.
    ttl: { AccessToken: 3600, IdToken: 3600, RefreshToken: 14 * 24 * 3600, ...(config.ttl ?? {}) },
    refreshRotation: config.refresh_rotation ?? 'seventy_percent',
    // The JWKS publishes each key's `alg` (Logto does); off, a client must tell the algorithm a
    // key is for from its type and curve alone.
    jwksAlg: true,
    // Logto's custom JWT claims (Console > Custom JWT): added to every access token.
    customJwt: null,
  };

  // resource indicator -> { scopes: [...] }
  const resources = new Map(Object.entries(config.resources ?? {}).map(([k, v]) => [k, { scopes: [...(v.scopes ?? [])] }]));
  // Logto's reserved resource for organization tokens is always known.
  const ORG_RESOURCE = 'urn:logto:resource:organizations';
  const ORG_SCOPE = 'urn:logto:scope:organizations';
  const ORG_AUDIENCE_PREFIX = 'urn:logto:organization:';
  const ORG_ROLES_SCOPE = 'urn:logto:scope:organization_roles';

  // Organizations, as an organization template gives them: id -> { name, description, roles }, where
  // roles is role name -> { scopes: [organization permission], resource_scopes: {indicator: [scope]} }.
  const organizations = new Map();

  function addOrganization(input) {
    if (typeof input.id !== 'string' || input.id === '') throw new Error('organization id is required');
    const roles = {};
    for (const [name, role] of Object.entries(input.roles ?? {})) {
      roles[name] = { scopes: [...(role.scopes ?? [])], resource_scopes: checkPermissions(role.resource_scopes ?? {}) };
    }
    const organization = { id: input.id, name: input.name ?? input.id, description: input.description ?? null, roles };
    organizations.set(organization.id, organization);
    return organization;
  }

  // Every organization permission the template defines: the scopes of Logto's organizations resource.
  function organizationScopes() {
    const all = new Set();
    for (const organization of organizations.values()) {
      for (const role of Object.values(organization.roles)) for (const scope of role.scopes) all.add(scope);
    }
    return [...all];
  }

  // The roles `user` has in `organizationId` (from "<org id>:<role>" entries).
  function rolesIn(user, organizationId) {
    const prefix = `${organizationId}:`;
    return user.organization_roles.filter((entry) => entry.startsWith(prefix)).map((entry) => entry.slice(prefix.length));
  }

  // What `user`'s roles in `organizationId` grant: organization permissions, or with `indicator`,
  // that API resource's permissions.
  function organizationGrants(user, organizationId, indicator) {
    const organization = organizations.get(organizationId);
    const out = new Set();
    for (const name of rolesIn(user, organizationId)) {
      const role = organization?.roles[name];
      if (!role) continue;
      const scopes = indicator === undefined ? role.scopes : (role.resource_scopes[indicator] ?? []);
      for (const scope of scopes) out.add(scope);
    }
    return [...out];
  }

  // ---------------------------------------------------------------------------------------------
  // Storage: module level, so it outlives provider rebuilds (key rotation).

  const store = new Map(); // "Model:id" -> { payload, expiresAt (ms) | undefined }
  const grantMembers = new Map(); // grantId -> Set of "Model:id"
  const uidIndex = new Map(); // session uid -> session id
  const clients = new Map(); // client_id -> metadata

  const GRANT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

  function liveEntry(key) {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry;
  }

  function dropKey(key) {
    const entry = store.get(key);
    store.delete(key);
    if (entry?.payload?.grantId) grantMembers.get(entry.payload.grantId)?.delete(key);
  }

  function destroyGrant(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
    store.delete(`Grant:${grantId}`);
  }

  class Adapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      if (this.model === 'Client') {
        clients.set(id, payload);
        return;
      }
      const key = this.key(id);
      store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
      if (this.model === 'Session' && payload.uid) uidIndex.set(payload.uid, id);
      if (GRANT_BOUND.has(this.model) && payload.grantId) {
        if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
        grantMembers.get(payload.grantId).add(key);
      }
    }

    async find(id) {
      if (this.model === 'Client') return clients.get(id);
      return liveEntry(this.key(id))?.payload;
    }

    async findByUid(uid) {
      const id = uidIndex.get(uid);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode() {
      return undefined;
    }

    async consume(id) {
      const entry = liveEntry(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      if (this.model === 'Client') {
        clients.delete(id);
        return;
      }
      dropKey(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
      grantMembers.delete(grantId);
    }
  }

  // Grants of one account (or all), read straight from storage for the control API.
  function grantIdsFor(sub) {
    const ids = [];
    for (const [key, entry] of store) {
      if (!key.startsWith('Grant:')) continue;
      if (sub === undefined || entry.payload.accountId === sub) ids.push(key.slice('Grant:'.length));
    }
    return ids;
  }

  // ---------------------------------------------------------------------------------------------
  // Clients and users

  // Logto's application kinds, by the grants they may use: "Traditional web" (code flow with refresh
  // tokens) unless told otherwise, "Machine-to-machine" (client_credentials alone).
  const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

  function registerClient(input) {
    for (const field of ['client_id', 'client_secret']) {
      if (!input[field]) throw new Error(`client ${field} is required`);
    }
    const grantTypes = [...(input.grant_types ?? ['authorization_code', 'refresh_token'])];
    if (grantTypes.length === 0 || !grantTypes.every((g) => GRANT_TYPES.has(g))) {
      throw new Error(`client grant_types must be a non-empty subset of ${[...GRANT_TYPES].join(', ')}`);
    }
    const codeFlow = grantTypes.includes('authorization_code');
    if (codeFlow && !input.redirect_uris) throw new Error('client redirect_uris is required');
    const metadata = {
      client_id: String(input.client_id),
      client_secret: String(input.client_secret),
      client_name: input.client_name ?? String(input.client_id),
      application_type: 'web',
      grant_types: grantTypes,
      // A machine-to-machine app never sends a browser here: no response types, no redirects.
      response_types: codeFlow ? ['code'] : [],
      redirect_uris: [...(input.redirect_uris ?? [])],
      post_logout_redirect_uris: [...(input.post_logout_redirect_uris ?? [])],
      // Either basic or post is accepted by oidc-provider whichever of the two is registered.
      token_endpoint_auth_method: 'client_secret_basic',
    };
    if (input.backchannel_logout_uri) {
      metadata.backchannel_logout_uri = input.backchannel_logout_uri;
      metadata.backchannel_logout_session_required = Boolean(input.backchannel_logout_session_required);
    }
    clients.set(metadata.client_id, metadata);
    return metadata;
  }

  const users = new Map(); // sub -> user

  // What a user's roles allow, per API resource: {"<indicator>": ["read:items", ...]}. A resource
  // without an entry is not restricted (every scope the resource defines).
  function checkPermissions(permissions) {
    if (typeof permissions !== 'object' || permissions === null || Array.isArray(permissions)) {
      throw new Error('permissions must be an object of resource indicator -> list of scopes');
    }
    for (const [indicator, scopes] of Object.entries(permissions)) {
      if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) {
        throw new Error(`permissions for ${indicator} must be a list of scope names`);
      }
    }
    return Object.fromEntries(Object.entries(permissions).map(([k, v]) => [k, [...v]]));
  }

  function addUser(input) {
    if (!input.sub) throw new Error('user sub is required');
    const now = Date.now();
    const user = {
      sub: String(input.sub),
      username: input.username ?? null,
      password: input.password ?? null,
      name: input.name ?? null,
      email: input.email ?? null,
      email_verified: input.email_verified ?? Boolean(input.email),
      phone_number: input.phone_number ?? null,
      phone_number_verified: input.phone_number_verified ?? false,
      picture: input.picture ?? null,
      custom_data: input.custom_data ?? {},
      roles: input.roles ?? [],
      identities: input.identities ?? {},
      organizations: input.organizations ?? [],
      organization_roles: input.organization_roles ?? [],
      permissions: checkPermissions(input.permissions ?? {}),
      created_at: input.created_at ?? now,
      updated_at: input.updated_at ?? now,
    };
    if (user.username !== null) {
      const clash = [...users.values()].find((u) => u.username === user.username && u.sub !== user.sub);
      if (clash) throw new Error('username already taken');
    }
    users.set(user.sub, user);
    return user;
  }

  function seedUsers() {
    addUser({
      sub: 'user-demo',
      username: 'demo',
      password: 'demo-password',
      name: 'Demo User',
      email: 'demo@example.com',
      custom_data: { plan: 'free' },
      roles: ['member'],
    });
    addUser({
      sub: 'user-hf',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      picture: 'https://cdn-avatars.huggingface.co/v1/production/uploads/ada-hf.png',
      identities: {
        huggingface: {
          userId: 'hf-1234',
          details: {
            id: 'hf-1234',
            name: 'Ada Lovelace',
            avatar: 'https://cdn-avatars.huggingface.co/v1/production/uploads/ada-hf.png',
            email: 'ada@example.com',
            rawData: {
              sub: 'hf-1234',
              name: 'Ada Lovelace',
              preferred_username: 'ada-hf',
              picture: 'https://cdn-avatars.huggingface.co/v1/production/uploads/ada-hf.png',
              email: 'ada@example.com',
              email_verified: true,
              profile: 'https://huggingface.co/ada-hf',
            },
          },
        },
      },
    });
  }

  seedUsers();
  for (const o of config.organizations ?? []) addOrganization(o);
  for (const c of config.clients ?? []) registerClient(c);
  for (const u of config.users ?? []) addUser(u);

  // Claims Logto keeps out of ID tokens by default; userinfo still returns them.
  const USERINFO_ONLY = new Set(['custom_data', 'identities', 'sso_identities', 'roles', 'organizations', 'organization_data', 'organization_roles']);

  function claimsOf(user) {
    return {
      sub: user.sub,
      name: user.name,
      picture: user.picture,
      username: user.username,
      created_at: user.created_at,
      updated_at: user.updated_at,
      email: user.email,
      email_verified: user.email_verified,
      phone_number: user.phone_number,
      phone_number_verified: user.phone_number_verified,
      custom_data: user.custom_data,
      identities: user.identities,
      sso_identities: [],
      roles: user.roles,
      organizations: user.organizations,
      // Logto 1.12+: each organization's name and description beside the ids.
      organization_data: user.organizations.map((id) => {
        const organization = organizations.get(id);
        return { id, name: organization?.name ?? id, description: organization?.description ?? null };
      }),
      organization_roles: user.organization_roles,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Signing keys

  const keys = []; // private JWKs, newest (the one used for signing) first

  // What Logto's discovery announces; Logto makes P-384 or RSA keys itself, and takes P-256, P-521
  // and RSA (for PS256 too) keys from OIDC_PRIVATE_KEYS.
  const SIGNING_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'ES512'];
  const HASH_OF = { RS256: 'sha256', PS256: 'sha256', ES256: 'sha256', ES384: 'sha384', ES512: 'sha512' };

  async function newSigningKey(alg) {
    if (!SIGNING_ALGS.includes(alg)) throw new Error(`unsupported signing alg ${alg}; use one of ${SIGNING_ALGS.join(', ')}`);
    const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    const jwk = await exportJWK(privateKey);
    return { ...jwk, alg, use: 'sig', kid: crypto.randomBytes(12).toString('base64url') };
  }

  function currentAlg() {
    return keys[0].alg;
  }

  // ---------------------------------------------------------------------------------------------
  // Stats and injected failures

  const stats = {
    requests: {},
    grants: { authorization_code: 0, refresh_token: 0 },
    // Token requests refused with an OAuth error (invalid_grant, invalid_client, ...), per grant_type:
    // a grant that reached the provider and failed, which `grants` does not count.
    refused: { authorization_code: 0, refresh_token: 0 },
    revocations: 0,
    end_sessions: 0,
    authorize_params: [],
    end_session_params: [],
  };
  const AUTHORIZE_PARAMS_KEPT = 20;

  function resetStats() {
    stats.requests = {};
    stats.grants = { authorization_code: 0, refresh_token: 0 };
    stats.refused = { authorization_code: 0, refresh_token: 0 };
    stats.revocations = 0;
    stats.end_sessions = 0;
    stats.authorize_params = [];
    stats.end_session_params = [];
  }

  let failures = []; // { path, mode, remaining (number | null) }

  // Connections that have carried a request: `reset_reused` answers only on those.
  const servedSockets = new WeakSet();

  function takeFailure(path, reused) {
    const rule = failures.find((f) => f.path === path && (f.mode !== 'reset_reused' || reused));
    if (!rule) return undefined;
    if (rule.remaining !== null) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) failures = failures.filter((f) => f !== rule);
    }
    return rule.mode;
  }

  function applyFailure(mode, res) {
    switch (mode) {
      case '500':
        res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>');
        return;
      case 'garbage':
        // Claims to be JSON but is not: the client's parser must cope.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>this is not json{');
        return;
      case 'error_json':
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'server_error', error_description: 'injected failure' }));
        return;
      case 'hang':
        // Never answer; the connection stays open until the client gives up.
        return;
      case 'reset_reused':
        // What a client sees when it reuses a kept-alive connection just as the server closes it
        // for being idle (Node.js, which Logto runs on, does after 5 s): a TCP reset.
        res.socket.resetAndDestroy();
        return;
      default:
        res.writeHead(500);
        res.end();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Hostile mode: rewrites what the provider answers, one defect at a time, so tests can check that
  // the app refuses each one. Token responses get their id_token rewritten and re-signed with the key
  // the test chose; userinfo answers get claims replaced. Each rule applies to the next `times`
  // answers (all of them when `times` is null).

  let hostile = { idToken: null, userinfo: null, tokenResponse: null }; // { spec, remaining (number | null) }

  // Every secret value seen in token requests and responses, so a test can look for them in logs.
  const issuedSecrets = [];
  const ISSUED_SECRETS_KEPT = 200;

  function recordSecret(value) {
    if (typeof value !== 'string' || value === '') return;
    issuedSecrets.push(value);
    if (issuedSecrets.length > ISSUED_SECRETS_KEPT) issuedSecrets.shift();
  }

  function takeHostile(kind) {
    const rule = hostile[kind];
    if (!rule) return undefined;
    if (rule.remaining !== null) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) hostile[kind] = null;
    }
    return rule.spec;
  }

  function b64urlJson(value) {
    return Buffer.from(JSON.stringify(value)).toString('base64url');
  }

  function decodeJwtPart(part) {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  }

  // A key of the same algorithm that the JWKS never publishes: what an attacker signs with.
  const foreignKeys = new Map(); // alg -> private JWK
  async function foreignKey(alg) {
    if (!foreignKeys.has(alg)) foreignKeys.set(alg, await newSigningKey(alg));
    return foreignKeys.get(alg);
  }

  // The key a forgery is signed with: the provider's (the one named by `kid`, else the current one),
  // or one of the same algorithm that the JWKS never publishes; none for HS256 and `alg: none`.
  async function forgeryKey(signWith, alg, kid) {
    switch (signWith) {
      case 'provider':
        return keys.find((k) => k.kid === kid) ?? keys[0];
      case 'foreign':
        return foreignKey(alg);
      case 'client_secret':
      case 'none':
        return undefined;
      default:
        throw new Error(`unknown sign_with ${signWith}; use provider, foreign, client_secret or none`);
    }
  }

  // The algorithm a forgery's signature really uses (its header may be made to say otherwise).
  function forgeryAlg(signWith, key) {
    if (key) return key.alg;
    return signWith === 'client_secret' ? 'HS256' : 'none';
  }

  // Signs exactly this header and payload: jose's SignJWT would add header fields of its own.
  function signJwt(header, payload, signWith, key, secret) {
    const signingInput = `${b64urlJson(header)}.${b64urlJson(payload)}`;
    if (signWith === 'none') return `${signingInput}.`;
    if (signWith === 'client_secret') {
      const mac = crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(signingInput).digest('base64url');
      return `${signingInput}.${mac}`;
    }
    const keyObject = crypto.createPrivateKey({ key, format: 'jwk' });
    const hash = HASH_OF[key.alg];
    let options = keyObject;
    if (key.alg.startsWith('ES')) options = { key: keyObject, dsaEncoding: 'ieee-p1363' };
    if (key.alg.startsWith('PS')) options = { key: keyObject, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    const signature = crypto.sign(hash, Buffer.from(signingInput), options);
    return `${signingInput}.${signature.toString('base64url')}`;
  }

  // spec: { set: {claim: value}, remove: [claim], kid: absent (keep) | null (drop) | "x",
  //         sign_with: "provider" (default) | "foreign" | "client_secret" | "none" }
  async function rewriteIdToken(token, spec, clientSecret) {
    const [headerPart, payloadPart] = token.split('.');
    const header = decodeJwtPart(headerPart);
    const payload = decodeJwtPart(payloadPart);
    for (const [name, value] of Object.entries(spec.set ?? {})) payload[name] = value;
    for (const name of spec.remove ?? []) delete payload[name];

    const signWith = spec.sign_with ?? 'provider';
    // A foreign key keeps the genuine kid unless told otherwise: a bad signature under a known key id.
    const key = await forgeryKey(signWith, header.alg, header.kid);
    header.alg = forgeryAlg(signWith, key);
    if ('kid' in spec) {
      if (spec.kid === null) delete header.kid;
      else header.kid = String(spec.kid);
    }
    return signJwt(header, payload, signWith, key, clientSecret);
  }

  // POST /__op/sign: any JWT a hostile test needs (logout tokens, access tokens...). The header
  // starts as {alg, kid} of the signature's key (the current provider kid for every kind, as a
  // forger would copy it); each given header field replaces it, and null removes it.
  async function mintJwt(input) {
    const signWith = input.sign_with ?? 'provider';
    const claims = input.claims ?? {};
    const overrides = input.header ?? {};
    for (const [name, value] of [['claims', claims], ['header', overrides]]) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${name} must be a JSON object`);
    }
    if (signWith === 'client_secret' && typeof input.secret !== 'string') throw new Error('sign_with client_secret needs the secret');
    const key = await forgeryKey(signWith, currentAlg(), keys[0].kid);
    const header = { alg: forgeryAlg(signWith, key), kid: keys[0].kid };
    for (const [name, value] of Object.entries(overrides)) {
      if (value === null) delete header[name];
      else header[name] = value;
    }
    return signJwt(header, claims, signWith, key, input.secret);
  }

  // Holds back what `res.end` would send, so the answer can be rewritten before it leaves.
  // oidc-provider (koa) sends JSON answers with one `res.end(body)` call and implicit headers.
  function interceptJson(res, rewrite) {
    const end = res.end.bind(res);
    res.end = (chunk, ...rest) => {
      res.end = end;
      const text = chunk === undefined || typeof chunk === 'function' ? '' : Buffer.from(chunk).toString('utf8');
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        return end(chunk, ...rest);
      }
      Promise.resolve(rewrite(json)).then((out) => {
        const body = JSON.stringify(out);
        if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(body));
        end(body);
      }, (err) => {
        if (DEBUG) console.error('hostile rewrite failed', err);
        end(chunk, ...rest);
      });
      return res;
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Logto's own authorization parameters

  const LOGTO_PARAMS = ['first_screen', 'interaction_mode', 'identifier', 'direct_sign_in', 'organization_id'];
  const FIRST_SCREENS = new Set(['sign_in', 'register', 'reset_password', 'identifier:sign_in', 'identifier:register', 'single_sign_on']);
  const IDENTIFIERS = new Set(['email', 'phone', 'username']);

  // Returns the Logto parameters, or null when any one is invalid: Logto then ignores all of them.
  function logtoParams(params) {
    const out = {};
    for (const name of LOGTO_PARAMS) {
      const value = params[name];
      if (value === undefined) continue;
      if (typeof value !== 'string' || value === '') return null;
      out[name] = value;
    }
    if (out.first_screen !== undefined && !FIRST_SCREENS.has(out.first_screen)) return null;
    if (out.interaction_mode !== undefined && !['signIn', 'signUp'].includes(out.interaction_mode)) return null;
    if (out.identifier !== undefined && !out.identifier.split(' ').every((i) => IDENTIFIERS.has(i))) return null;
    if (out.direct_sign_in !== undefined && !/^(social:[A-Za-z0-9_-]+|sso:[A-Za-z0-9_-]+)$/.test(out.direct_sign_in)) return null;
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Provider

  const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
  let provider;
  let issuer;

  function escapeHtml(value) {
    return String(value ?? '')
      .replaceAll('&', '&amp;')
      .replaceAll('<', '&lt;')
      .replaceAll('>', '&gt;')
      .replaceAll('"', '&quot;')
      .replaceAll("'", '&#39;');
  }

  function page(title, body, lang = 'en') {
    return `<!DOCTYPE html>
<html lang="${escapeHtml(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)} · Test Logto</title>
<style>
body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
label{display:block;margin-top:.8rem;font-weight:600}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem}.error{color:#a00000;font-weight:600}
.cancel button{background:none;border:0;padding:.6rem 0;color:#1a4fb5;text-decoration:underline;cursor:pointer}
@media (prefers-color-scheme: dark){body{background:#121212;color:#e8e8e8}.cancel button{color:#8ab4f8}.error{color:#ff8a8a}}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
  }

  // Like Logto, a user's resource scopes are those their roles allow: the signed-in user at
  // consent (so the grant holds only those) and the token's user at code exchange and refresh (so a
  // permission taken away later is gone from the next token). Without an entry for the resource,
  // and for machine-to-machine tokens, every scope the resource defines is available.
  function allowedScopes(ctx, indicator, defined) {
    const sub = ctx?.oidc?.session?.accountId ?? ctx?.oidc?.entities?.Account?.accountId;
    const user = sub === undefined ? undefined : users.get(sub);
    const allowed = user?.permissions?.[indicator];
    if (allowed === undefined) return defined;
    // What the user's roles in any of their organizations allow for the resource is allowed too, at
    // consent and at the token endpoint: Logto 1.37.1 gives a plain token for the resource (no
    // organization_id) the API permissions of every organization role the user has (seen on a real
    // one: its resource scopes are looked up "from organizations" with no organization named).
    const fromOrganizations = user
      ? user.organizations.flatMap((id) => organizationGrants(user, id, indicator))
      : [];
    return defined.filter((scope) => allowed.includes(scope) || fromOrganizations.includes(scope));
  }

  function resourceServerInfo(indicator, ctx) {
    const alg = currentAlg();
    if (indicator === ORG_RESOURCE) {
      // Logto's organizations resource holds the organization permissions of the template.
      return { scope: [ORG_SCOPE, ...organizationScopes()].join(' '), audience: ORG_RESOURCE, accessTokenFormat: 'jwt', accessTokenTTL: settings.ttl.AccessToken, jwt: { sign: { alg } } };
    }
    if (indicator.startsWith(ORG_AUDIENCE_PREFIX)) {
      return { scope: '', audience: indicator, accessTokenFormat: 'jwt', accessTokenTTL: settings.ttl.AccessToken, jwt: { sign: { alg } } };
    }
    const resource = resources.get(indicator);
    if (!resource) throw new oidcErrors.InvalidTarget();
    return {
      scope: allowedScopes(ctx, indicator, resource.scopes).join(' '),
      audience: indicator,
      accessTokenFormat: 'jwt',
      accessTokenTTL: settings.ttl.AccessToken,
      jwt: { sign: { alg } },
    };
  }

  function buildProvider() {
    const configuration = {
      adapter: Adapter,
      jwks: { keys },
      cookies: { keys: cookieKeys },
      clientDefaults: {
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: currentAlg(),
      },
      // Logto announces every algorithm it can sign with, whatever its current key.
      enabledJWA: { idTokenSigningAlgValues: SIGNING_ALGS },
      scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', 'custom_data', 'identities', 'roles', ORG_SCOPE, ORG_ROLES_SCOPE],
      claims: {
        openid: ['sub'],
        profile: ['name', 'picture', 'username', 'created_at', 'updated_at'],
        email: ['email', 'email_verified'],
        phone: ['phone_number', 'phone_number_verified'],
        custom_data: ['custom_data'],
        identities: ['identities', 'sso_identities'],
        roles: ['roles'],
        [ORG_SCOPE]: ['organizations', 'organization_data'],
        [ORG_ROLES_SCOPE]: ['organization_roles'],
      },
      // The ID token carries the scope's claims even when an access token is issued too (Logto).
      conformIdTokenClaims: false,
      async extraTokenClaims() {
        return settings.customJwt ?? undefined;
      },
      extraParams: LOGTO_PARAMS,
      async findAccount(_ctx, sub) {
        const user = users.get(sub);
        if (!user) return undefined;
        return {
          accountId: sub,
          async claims(use) {
            const all = claimsOf(user);
            if (use === 'id_token') {
              for (const name of USERINFO_ONLY) delete all[name];
            }
            return all;
          },
        };
      },
      features: {
        devInteractions: { enabled: false },
        revocation: { enabled: true },
        userinfo: { enabled: true },
        backchannelLogout: { enabled: true },
        // Machine-to-machine apps; the answer (a JWT for the resource) is already Logto's shape.
        clientCredentials: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          // Logto's confirmation page submits itself: the user never clicks.
          async logoutSource(ctx, form) {
            const withYes = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/><noscript><button type="submit">Sign out</button></noscript></form>');
            ctx.type = 'html';
            ctx.body = page('Signing out', `<h1>Signing out</h1>\n${withYes}\n<script>document.forms[0].submit()</script>`);
          },
          async postLogoutSuccessSource(ctx) {
            ctx.type = 'html';
            ctx.body = page('Signed out', '<h1>Signed out</h1><p>You have been signed out.</p>');
          },
        },
        resourceIndicators: {
          enabled: true,
          // No resource asked for: an opaque token for userinfo, as Logto gives.
          async defaultResource(ctx) {
            // Logto refuses a client_credentials grant that names no resource (nor organization).
            if (ctx.oidc.params?.grant_type === 'client_credentials') {
              throw new oidcErrors.InvalidTarget('both `resource` and `organization_id` are not provided');
            }
            return undefined;
          },
          async useGrantedResource() {
            return false;
          },
          async getResourceServerInfo(ctx, indicator) {
            return resourceServerInfo(indicator, ctx);
          },
        },
      },
      async issueRefreshToken(_ctx, client, code) {
        return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
      },
      rotateRefreshToken(ctx) {
        if (settings.refreshRotation === 'always') return true;
        // Logto: a confidential client rotates once 70% of the refresh token's life has passed.
        return ctx.oidc.entities.RefreshToken.ttlPercentagePassed() >= 70;
      },
      ttl: {
        AccessToken: () => settings.ttl.AccessToken,
        IdToken: () => settings.ttl.IdToken,
        RefreshToken: () => settings.ttl.RefreshToken,
        AuthorizationCode: () => 60,
        Interaction: () => 3600,
        Session: () => 14 * 24 * 3600,
        Grant: () => 14 * 24 * 3600,
        // Logto: a machine-to-machine token lives as long as the resource's access tokens.
        ClientCredentials: () => settings.ttl.AccessToken,
        DeviceCode: () => 600,
        BackchannelAuthenticationRequest: () => 600,
      },
      interactions: {
        url(_ctx, interaction) {
          return `/interaction/${interaction.uid}`;
        },
      },
      // oidc-provider's fetch refuses loopback addresses (SSRF protection), yet here the apps that
      // receive back-channel logout calls are loopback test servers; and only those are allowed.
      fetch(url, options) {
        const { hostname } = new URL(url);
        if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
          return Promise.reject(new Error('the test provider only calls loopback addresses'));
        }
        const { dispatcher, ...rest } = options;
        void dispatcher;
        return globalThis.fetch(url, rest);
      },
      clientBasedCORS() {
        return false;
      },
      async renderError(ctx, out) {
        ctx.type = 'html';
        const rows = Object.entries(out).map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(v)}</p>`).join('\n');
        ctx.body = page('Error', `<h1>Something went wrong</h1>\n${rows}`);
      },
    };

    const next = new Provider(issuer, configuration);
    next.on('grant.success', (ctx) => {
      const type = ctx.oidc.params?.grant_type;
      if (type) stats.grants[type] = (stats.grants[type] ?? 0) + 1;
    });
    next.on('grant.error', (ctx) => {
      countRefused(ctx.oidc?.params?.grant_type);
    });
    next.on('end_session.success', () => {
      stats.end_sessions += 1;
    });
    if (DEBUG) {
      next.on('server_error', (_ctx, err) => console.error('server_error', err));
      next.on('grant.error', (_ctx, err) => console.error('grant.error', err.message));
      next.on('backchannel.error', (_ctx, err, client) => console.error('backchannel.error', client.clientId, err.message));
      next.on('authorization.error', (_ctx, err) => console.error('authorization.error', err.message));
    }
    return next;
  }

  // A token request refused with an OAuth error, by its grant_type (`unknown` when unreadable).
  function countRefused(type) {
    const key = type || 'unknown';
    stats.refused[key] = (stats.refused[key] ?? 0) + 1;
  }

  // Logto's organization tokens: a refresh_token grant with organization_id gives a JWT for audience
  // urn:logto:organization:<id> when the user is a member. oidc-provider has no such grant parameter,
  // so these requests are answered here, from the same storage, keys and settings.
  function tokenError(res, status, error, description) {
    sendJson(res, status, { error, error_description: description });
  }

  function authenticateClient(req, form) {
    const header = req.headers.authorization;
    const inBody = form.has('client_secret');
    if (header && inBody) return { error: [400, 'invalid_request', 'client authentication must only be provided using one mechanism'] };
    let id;
    let secret;
    if (header) {
      const [scheme, value] = header.split(' ');
      if (scheme?.toLowerCase() !== 'basic' || !value) return { error: [400, 'invalid_request', 'invalid authorization header value format'] };
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i === -1) return { error: [400, 'invalid_request', 'invalid authorization header value format'] };
      id = decodeURIComponent(decoded.slice(0, i).replaceAll('+', ' '));
      secret = decodeURIComponent(decoded.slice(i + 1).replaceAll('+', ' '));
    } else {
      id = form.get('client_id');
      secret = form.get('client_secret');
    }
    const client = id ? clients.get(id) : undefined;
    const same = client && secret && crypto.timingSafeEqual(
      crypto.createHash('sha256').update(client.client_secret).digest(),
      crypto.createHash('sha256').update(secret).digest(),
    );
    if (!same) return { error: [401, 'invalid_client', 'client authentication failed'] };
    return { client };
  }

  // The client a token request names (Basic header or body), for the HS256 forgery's key.
  function tokenRequestClient(req, form) {
    const header = req.headers.authorization ?? '';
    let id = form.get('client_id');
    if (header.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      id = decodeURIComponent(decoded.slice(0, decoded.indexOf(':')).replaceAll('+', ' '));
    }
    return id ? clients.get(id) : undefined;
  }

  // Organization token requests answered here: each refusal is counted as a refused refresh grant.
  async function organizationToken(req, res, form) {
    await organizationTokenAnswer(req, res, form);
    if (res.statusCode >= 400) countRefused('refresh_token');
  }

  async function organizationTokenAnswer(req, res, form) {
    const auth = authenticateClient(req, form);
    if (auth.error) return tokenError(res, ...auth.error);
    const organizationId = form.get('organization_id');
    const refreshToken = liveEntry(`RefreshToken:${form.get('refresh_token') ?? ''}`)?.payload;
    if (!refreshToken || refreshToken.consumed || refreshToken.clientId !== auth.client.client_id) {
      return tokenError(res, 400, 'invalid_grant', 'grant request is invalid');
    }
    const grant = liveEntry(`Grant:${refreshToken.grantId}`)?.payload;
    if (!grant) return tokenError(res, 400, 'invalid_grant', 'grant request is invalid');
    // Membership first, then the scope, in Logto's order and with its answers.
    const user = users.get(refreshToken.accountId);
    if (!user || !user.organizations.includes(organizationId)) {
      // Logto's answer for an organization the user is not (or no longer) a member of.
      return tokenError(res, 403, 'access_denied', 'user is not a member of the organization');
    }
    const orgScopes = String(grant.resources?.[ORG_RESOURCE] ?? '').split(' ');
    if (!orgScopes.includes(ORG_SCOPE)) {
      return tokenError(res, 403, 'insufficient_scope', 'refresh token missing required scope');
    }
    const resource = form.get('resource');
    let audience = `${ORG_AUDIENCE_PREFIX}${organizationId}`;
    let scopes;
    const claims = { client_id: auth.client.client_id };
    if (resource) {
      // An organization-scoped API resource token (Logto 1.16+): audience the resource, claim
      // organization_id, scopes what the user's roles in the organization allow for the resource
      // among those granted at sign-in.
      if (!resources.has(resource) || grant.resources?.[resource] === undefined) {
        return tokenError(res, 400, 'invalid_target', 'resource indicator is missing, or unknown');
      }
      const granted = String(grant.resources[resource]).split(' ');
      scopes = organizationGrants(user, organizationId, resource).filter((scope) => granted.includes(scope));
      audience = resource;
      claims.organization_id = organizationId;
    } else {
      // An organization token: the user's organization permissions among those asked at sign-in.
      scopes = organizationGrants(user, organizationId).filter((scope) => orgScopes.includes(scope));
    }
    claims.scope = scopes.join(' ');
    const key = keys[0];
    const now = Math.floor(Date.now() / 1000);
    const ttl = settings.ttl.AccessToken;
    const accessToken = signJwt(
      { alg: key.alg, typ: 'at+jwt', kid: key.kid },
      {
        ...(settings.customJwt ?? {}),
        jti: crypto.randomBytes(16).toString('base64url'),
        sub: user.sub,
        iat: now,
        exp: now + ttl,
        ...claims,
        iss: issuer,
        aud: audience,
      },
      'provider',
      key,
    );
    stats.grants.refresh_token = (stats.grants.refresh_token ?? 0) + 1;
    return sendJson(res, 200, { access_token: accessToken, expires_in: ttl, token_type: 'Bearer', scope: claims.scope });
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP plumbing

  async function readBody(req, limit = 1 << 20) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > limit) throw new Error('body too large');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function sendJson(res, status, value) {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(value));
  }

  function sendHtml(res, status, html) {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  }

  async function controlApi(req, res, path) {
    const body = req.method === 'POST' ? await readBody(req) : '';
    const input = body ? JSON.parse(body) : {};
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /__op/stats':
        return sendJson(res, 200, stats);
      case 'POST /__op/stats/reset':
        resetStats();
        return sendJson(res, 200, { ok: true });
      case 'POST /__op/clients':
        registerClient(input);
        return sendJson(res, 201, { ok: true });
      case 'POST /__op/users': {
        const user = addUser(input);
        return sendJson(res, 201, { ok: true, sub: user.sub });
      }
      case 'POST /__op/organizations': {
        const organization = addOrganization(input);
        return sendJson(res, 201, { ok: true, id: organization.id });
      }
      case 'POST /__op/users/organizations': {
        // Replaces the user's memberships and organization roles; userinfo and organization tokens
        // follow at once (as Logto's do).
        const user = users.get(String(input.sub ?? ''));
        if (!user) return sendJson(res, 404, { error: 'no such user' });
        for (const name of ['organizations', 'organization_roles']) {
          if (!Array.isArray(input[name]) || !input[name].every((v) => typeof v === 'string')) throw new Error(`${name} must be a list of strings`);
        }
        user.organizations = [...input.organizations];
        user.organization_roles = [...input.organization_roles];
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /__op/users/permissions': {
        // Replaces what the user's roles allow; tokens issued from now on follow it.
        const user = users.get(String(input.sub ?? ''));
        if (!user) return sendJson(res, 404, { error: 'no such user' });
        user.permissions = checkPermissions(input.permissions ?? {});
        return sendJson(res, 200, { ok: true, permissions: user.permissions });
      }
      case 'POST /__op/sign':
        return sendJson(res, 200, { token: await mintJwt(input) });
      case 'POST /__op/grants/revoke': {
        const ids = grantIdsFor(input.sub);
        for (const id of ids) destroyGrant(id);
        return sendJson(res, 200, { ok: true, revoked: ids.length });
      }
      case 'POST /__op/ttl':
        for (const name of ['AccessToken', 'IdToken', 'RefreshToken']) {
          if (input[name] === undefined) continue;
          if (!Number.isInteger(input[name]) || input[name] <= 0) throw new Error(`${name} must be a positive integer`);
          settings.ttl[name] = input[name];
        }
        return sendJson(res, 200, { ok: true, ttl: settings.ttl });
      case 'POST /__op/clock':
        if (!Number.isInteger(input.advance_ms) || input.advance_ms < 0) throw new Error('advance_ms must be a whole number of milliseconds, not negative');
        clock.offsetMs += input.advance_ms;
        return sendJson(res, 200, { ok: true, offset_ms: clock.offsetMs });
      case 'POST /__op/settings':
        if (input.jwks_alg !== undefined) settings.jwksAlg = Boolean(input.jwks_alg);
        if (input.custom_jwt !== undefined) {
          if (input.custom_jwt !== null && (typeof input.custom_jwt !== 'object' || Array.isArray(input.custom_jwt))) throw new Error('custom_jwt must be an object or null');
          settings.customJwt = input.custom_jwt;
        }
        if (input.refresh_rotation !== undefined) {
          if (!['always', 'seventy_percent'].includes(input.refresh_rotation)) throw new Error('refresh_rotation must be "always" or "seventy_percent"');
          settings.refreshRotation = input.refresh_rotation;
        }
        return sendJson(res, 200, { ok: true, refresh_rotation: settings.refreshRotation });
      case 'POST /__op/keys/rotate': {
        const key = await newSigningKey(input.alg ?? currentAlg());
        if (input.keep_old === false) keys.length = 0;
        keys.unshift(key);
        provider = buildProvider();
        return sendJson(res, 200, { ok: true, kid: key.kid, alg: key.alg });
      }
      case 'POST /__op/fail': {
        if (!input.path || !['500', 'garbage', 'error_json', 'hang', 'reset_reused'].includes(input.mode)) throw new Error('fail needs path and mode (500, garbage, error_json, hang, reset_reused)');
        const times = input.times === undefined || input.times === null ? null : Number(input.times);
        failures.push({ path: input.path, mode: input.mode, remaining: times });
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /__op/hostile': {
        const times = input.times === undefined || input.times === null ? null : Number(input.times);
        if (input.id_token) hostile.idToken = { spec: input.id_token, remaining: times };
        if (input.userinfo) hostile.userinfo = { spec: input.userinfo, remaining: times };
        if (input.token_response) hostile.tokenResponse = { spec: input.token_response, remaining: times };
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /__op/hostile/clear':
        hostile = { idToken: null, userinfo: null, tokenResponse: null };
        return sendJson(res, 200, { ok: true });
      case 'GET /__op/issued':
        return sendJson(res, 200, { secrets: issuedSecrets });
      case 'POST /__op/fail/clear':
        failures = [];
        return sendJson(res, 200, { ok: true });
      default:
        return sendJson(res, 404, { error: 'not_found' });
    }
  }

  // Like Logto, the pages follow `ui_locales` (English and Spanish here; anything else is English).
  const TEXTS = {
    en: {
      signIn: 'Sign in', createAccount: 'Create account', username: 'Username', password: 'Password', name: 'Name',
      email: 'Email', cancel: 'Cancel and go back to the app', badLogin: 'Incorrect username or password.',
      badUsername: 'Username must start with a letter or underscore and use only letters, digits and underscores.',
      shortPassword: 'Password must be at least 8 characters.', usernameTaken: 'This username is already in use.',
    },
    es: {
      signIn: 'Iniciar sesión', createAccount: 'Crear cuenta', username: 'Nombre de usuario', password: 'Contraseña',
      name: 'Nombre', email: 'Correo electrónico', cancel: 'Cancelar y volver a la aplicación',
      badLogin: 'Nombre de usuario o contraseña incorrectos.',
      badUsername: 'El nombre de usuario debe empezar por una letra o un guion bajo y usar solo letras, dígitos y guiones bajos.',
      shortPassword: 'La contraseña debe tener al menos 8 caracteres.', usernameTaken: 'Este nombre de usuario ya está en uso.',
    },
  };

  function uiLang(params) {
    const first = String(params?.ui_locales ?? '').split(' ')[0].toLowerCase();
    return first === 'es' || first.startsWith('es-') ? 'es' : 'en';
  }

  // A second form, after the main one: aborting the interaction sends error=access_denied back to the app.
  function cancelForm(uid, t) {
    return `<form class="cancel" method="post" action="/interaction/${escapeHtml(uid)}/abort">
<button type="submit">${escapeHtml(t.cancel)}</button>
</form>`;
  }

  function signInForm(uid, { error, username } = {}, lang = 'en') {
    const t = TEXTS[lang];
    return page(t.signIn, `<h1>${escapeHtml(t.signIn)}</h1>
${error ? `<p class="error" role="alert">${escapeHtml(t[error])}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="username">${escapeHtml(t.username)}</label>
<input id="username" name="username" type="text" autocomplete="username" required value="${escapeHtml(username)}">
<label for="password">${escapeHtml(t.password)}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">${escapeHtml(t.signIn)}</button>
</form>
${cancelForm(uid, t)}`, lang);
  }

  function registerForm(uid, { error, values = {} } = {}, lang = 'en') {
    const t = TEXTS[lang];
    return page(t.createAccount, `<h1>${escapeHtml(t.createAccount)}</h1>
${error ? `<p class="error" role="alert">${escapeHtml(t[error])}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/register">
<label for="username">${escapeHtml(t.username)}</label>
<input id="username" name="username" type="text" autocomplete="username" required value="${escapeHtml(values.username)}">
<label for="password">${escapeHtml(t.password)}</label>
<input id="password" name="password" type="password" autocomplete="new-password" required>
<label for="name">${escapeHtml(t.name)}</label>
<input id="name" name="name" type="text" autocomplete="name" value="${escapeHtml(values.name)}">
<label for="email">${escapeHtml(t.email)}</label>
<input id="email" name="email" type="email" autocomplete="email" value="${escapeHtml(values.email)}">
<button type="submit">${escapeHtml(t.createAccount)}</button>
</form>
${cancelForm(uid, t)}`, lang);
  }

  // First-party app: consent is granted without asking, for everything that was requested.
  async function grantConsent(details) {
    const { prompt: { details: missing }, params, session } = details;
    let grant;
    if (details.grantId) {
      grant = await provider.Grant.find(details.grantId);
    }
    if (!grant) {
      grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    }
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    return grant.save();
  }

  async function interaction(req, res, path) {
    const match = /^\/interaction\/([^/]+)(?:\/(login|register|abort))?$/.exec(path);
    if (!match) return sendHtml(res, 404, page('Not found', '<h1>Not found</h1>'));
    const [, uid, action] = match;
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return sendHtml(res, 400, page('Session expired', '<h1>Sign-in session expired</h1><p>Start signing in again from the application.</p>'));
    }
    if (details.uid !== uid) return sendHtml(res, 400, page('Session mismatch', '<h1>Sign-in session mismatch</h1>'));

    const promptName = details.prompt.name;
    if (req.method === 'GET' && !action) {
      if (promptName === 'consent') {
        const grantId = await grantConsent(details);
        return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      if (promptName !== 'login') return sendHtml(res, 400, page('Unsupported', '<h1>Unsupported prompt</h1>'));
      const logto = logtoParams(details.params);
      if (logto?.direct_sign_in === 'social:huggingface') {
        // Stands in for the Hugging Face connector's round trip: the linked user is signed in.
        return provider.interactionFinished(req, res, { login: { accountId: 'user-hf' } }, { mergeWithLastSubmission: false });
      }
      const register = logto && (['register', 'identifier:register'].includes(logto.first_screen) || (logto.first_screen === undefined && logto.interaction_mode === 'signUp'));
      const lang = uiLang(details.params);
      return sendHtml(res, 200, register ? registerForm(uid, {}, lang) : signInForm(uid, {}, lang));
    }

    if (req.method !== 'POST' || promptName !== 'login') return sendHtml(res, 400, page('Unexpected', '<h1>Unexpected request</h1>'));
    const lang = uiLang(details.params);
    if (action === 'abort') {
      // What Logto answers when the user backs out of its sign-in pages.
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    }
    const form = new URLSearchParams(await readBody(req, 64 * 1024));
    if (action === 'login') {
      const username = form.get('username') ?? '';
      const password = form.get('password') ?? '';
      const user = [...users.values()].find((u) => u.username === username && u.password !== null);
      const ok = user && crypto.timingSafeEqual(
        crypto.createHash('sha256').update(user.password).digest(),
        crypto.createHash('sha256').update(password).digest(),
      );
      if (!ok) return sendHtml(res, 401, signInForm(uid, { error: 'badLogin', username }, lang));
      return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
    }

    const values = { username: form.get('username') ?? '', name: form.get('name') ?? '', email: form.get('email') ?? '' };
    const password = form.get('password') ?? '';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(values.username)) {
      return sendHtml(res, 400, registerForm(uid, { error: 'badUsername', values }, lang));
    }
    if (password.length < 8) return sendHtml(res, 400, registerForm(uid, { error: 'shortPassword', values }, lang));
    if ([...users.values()].some((u) => u.username === values.username)) {
      return sendHtml(res, 409, registerForm(uid, { error: 'usernameTaken', values }, lang));
    }
    const user = addUser({
      sub: `user-${crypto.randomBytes(9).toString('base64url')}`,
      username: values.username,
      password,
      name: values.name || null,
      email: values.email || null,
    });
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://placeholder');
    const path = url.pathname;
    if (DEBUG) console.error(`${req.method} ${path}`);

    // A request may come between listening and the keys and the provider existing.
    if (!provider) return sendJson(res, 503, { error: 'temporarily_unavailable' });
    if (path.startsWith('/__op/')) return controlApi(req, res, path);

    stats.requests[path] = (stats.requests[path] ?? 0) + 1;
    const reused = servedSockets.has(req.socket);
    servedSockets.add(req.socket);
    const failure = takeFailure(path, reused);
    if (failure) return applyFailure(failure, res);

    if (path === '/oidc/auth' && req.method === 'GET') {
      const params = {};
      for (const [k, v] of url.searchParams) {
        if (k in params) params[k] = [].concat(params[k], v);
        else params[k] = v;
      }
      stats.authorize_params.push(params);
      if (stats.authorize_params.length > AUTHORIZE_PARAMS_KEPT) stats.authorize_params.shift();
    }
    if (path === '/oidc/session/end' && req.method === 'GET') {
      stats.end_session_params.push(Object.fromEntries(url.searchParams));
      if (stats.end_session_params.length > AUTHORIZE_PARAMS_KEPT) stats.end_session_params.shift();
    }
    if (path === '/oidc/.well-known/openid-configuration') {
      // oidc-provider lists only the algorithms of its keys; Logto announces all it can sign with.
      interceptJson(res, (json) => ({ ...json, id_token_signing_alg_values_supported: SIGNING_ALGS }));
    }
    if (path === '/oidc/jwks' && !settings.jwksAlg) {
      interceptJson(res, (json) => {
        for (const key of json.keys ?? []) delete key.alg;
        return json;
      });
    }

    if (path === '/oidc/token/revocation') {
      res.on('finish', () => {
        if (res.statusCode === 200) stats.revocations += 1;
      });
    }

    if (path === '/oidc/token' && req.method === 'POST') {
      // Read here to spot organization_id; oidc-provider then takes the parsed body from req.body.
      const raw = await readBody(req, 56 * 1024);
      const form = new URLSearchParams(raw);
      for (const name of ['code', 'code_verifier', 'refresh_token']) recordSecret(form.get(name));
      const client = tokenRequestClient(req, form);
      // Every grant's answer passes here, organization tokens included; hostile rewrites touch only
      // successful answers, the ID token first, then the top-level fields.
      interceptJson(res, async (json) => {
        if (res.statusCode !== 200) return json;
        for (const name of ['access_token', 'refresh_token', 'id_token']) recordSecret(json[name]);
        const spec = typeof json.id_token === 'string' ? takeHostile('idToken') : undefined;
        if (spec) {
          json.id_token = await rewriteIdToken(json.id_token, spec, client?.client_secret ?? '');
          recordSecret(json.id_token);
        }
        const rewrite = takeHostile('tokenResponse');
        if (rewrite) {
          for (const [name, value] of Object.entries(rewrite.set ?? {})) json[name] = value;
          for (const name of rewrite.remove ?? []) delete json[name];
          for (const name of ['access_token', 'refresh_token', 'id_token']) recordSecret(json[name]);
        }
        return json;
      });
      if (form.get('grant_type') === 'refresh_token' && form.has('organization_id')) {
        return organizationToken(req, res, form);
      }
      req.body = raw;
    }

    if (path === '/oidc/me') {
      const spec = takeHostile('userinfo');
      if (spec) {
        interceptJson(res, (json) => {
          for (const [name, value] of Object.entries(spec.set ?? {})) json[name] = value;
          for (const name of spec.remove ?? []) delete json[name];
          return json;
        });
      }
    }

    if (path === '/oidc' || path.startsWith('/oidc/')) {
      // oidc-provider works out its mount path from originalUrl minus url (as connect does).
      req.originalUrl = req.url;
      req.url = req.url.slice('/oidc'.length) || '/';
      return provider.callback()(req, res);
    }
    if (path.startsWith('/interaction/')) return interaction(req, res, path);
    if (path === '/') {
      return sendHtml(res, 200, page('Test Logto', `<h1>Test Logto</h1><p>Issuer: <code>${escapeHtml(issuer)}</code></p>`));
    }
    return sendHtml(res, 404, page('Not found', '<h1>Not found</h1>'));
  }

  // -------------------------------------------------------------------------------------------
  // Listening

  const server = http.createServer((req, res) => {
    clocks.run(clock, () => handle(req, res)).catch((err) => {
      if (DEBUG) console.error(err);
      if (!res.headersSent) sendJson(res, 400, { error: 'bad_request', message: String(err.message ?? err) });
      else res.end();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const listening = server.address().port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  issuer = `http://${hostForUrl}:${listening}/oidc`;
  // A key of the caller's (a private JWK with its `kid`), e.g. for a benchmark that mints its own
  // tokens; otherwise a new one.
  keys.push(config.signing_key
    ? { ...config.signing_key, alg: config.signing_key.alg ?? 'ES384', use: 'sig' }
    : await newSigningKey(config.signing_alg ?? 'ES384'));
  provider = buildProvider();
  if (demo) {
    registerClient({
      client_id: 'demo-client',
      client_secret: 'demo-secret',
      redirect_uris: ['http://localhost:3000/callback', 'http://127.0.0.1:3000/callback'],
      post_logout_redirect_uris: ['http://localhost:3000/', 'http://127.0.0.1:3000/'],
    });
  }

  return {
    issuer,
    port: listening,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      // Kept-alive and hanging (`POST /__op/fail` mode `hang`) connections end now, not later.
      server.closeAllConnections();
    }),
  };
}
