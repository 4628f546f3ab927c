// Node's oidc-provider 9.13.3 (an OpenID Certified provider, independent of our code) set up the
// way ID-porten behaves towards our Proxy-Service: PAR, PKCE S256, RFC 9207 `iss`,
// private_key_jwt, `acr` idporten-loa-*, `pid` in the ID token. Its own paths (/auth, /request,
// /token) differ from ID-porten's, so a client that works here really follows discovery.
//
// Environment: PORT, REDIRECT_URI, CLIENT_ID, CLIENT_JWK (the client's public JWK, JSON).
// The login "page" is a small form served at /interaction/:uid: pid and acr, or cancel.
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const clientJwk = JSON.parse(process.env.CLIENT_JWK);

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    redirect_uris: [process.env.REDIRECT_URI],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [clientJwk] },
  }],
  acrValues: ['idporten-loa-substantial', 'idporten-loa-high'],
  claims: { openid: ['sub', 'pid'] },
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
  },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id, pid: id }; } };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid');
    await grant.save();
    return grant;
  },
});

function body(req) {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => resolve(new URLSearchParams(b)));
  });
}

const callback = provider.callback();
http.createServer(async (req, res) => {
  try {
    const m = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
    if (!m) return callback(req, res);
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      return res.end(`<!DOCTYPE html><form method="post" action="/interaction/${details.uid}/login">
<input name="pid"><select name="acr"><option>idporten-loa-substantial</option><option>idporten-loa-high</option></select>
<button name="action" value="login">Log in</button><button name="action" value="cancel">Cancel</button></form>`);
    }
    const form = await body(req);
    const result = form.get('action') === 'cancel'
      ? { error: 'access_denied', error_description: 'cancelled' }
      : { login: { accountId: form.get('pid'), acr: form.get('acr'), amr: ['TestID'] } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (e) {
    res.statusCode = e instanceof errors.OIDCProviderError ? e.statusCode : 500;
    res.end(String(e));
  }
}).listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
