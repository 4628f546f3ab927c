// A Norwegian service as an independent relying party of our OpenID provider: Node's
// openid-client 6.8.9 (OpenID Certified). Driven by tests/integration/openid_client.rs:
//   env ISSUER, CLIENT_ID, REDIRECT_URI, AUTH (private_key_jwt | client_secret_basic |
//   client_secret_post), CLIENT_KEY_PKCS8_B64 or CLIENT_SECRET, ACR
//   stdout line 1: {"authorization_url": …} (made with PAR, PKCE S256, state, nonce)
//   stdin  line 1: the callback URL the browser was sent to
//   stdout line 2: {"claims": …, "userinfo": …} or {"error": …}
import * as client from 'openid-client';
import { webcrypto } from 'node:crypto';
import readline from 'node:readline';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

async function main() {
  const issuer = new URL(env('ISSUER'));
  let auth;
  switch (env('AUTH')) {
    case 'private_key_jwt': {
      const der = Buffer.from(env('CLIENT_KEY_PKCS8_B64'), 'base64');
      const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
      auth = client.PrivateKeyJwt(key);
      break;
    }
    case 'client_secret_basic':
      auth = client.ClientSecretBasic(env('CLIENT_SECRET'));
      break;
    case 'client_secret_post':
      auth = client.ClientSecretPost(env('CLIENT_SECRET'));
      break;
    default:
      throw new Error('unknown AUTH');
  }
  const config = await client.discovery(
    issuer,
    env('CLIENT_ID'),
    { id_token_signed_response_alg: 'ES256' },
    auth,
    { execute: [client.allowInsecureRequests] },
  );
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: env('REDIRECT_URI'),
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    acr_values: env('ACR'),
    ui_locales: 'en',
  });
  console.log(JSON.stringify({ authorization_url: url.href }));

  const rl = readline.createInterface({ input: process.stdin });
  const callback = await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
  try {
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    console.log(JSON.stringify({ claims, userinfo }));
  } catch (e) {
    console.log(JSON.stringify({ error: String(e && (e.error || e.code || e.message)), description: String(e && (e.error_description || e.message)) }));
  }
}

main().catch((e) => {
  console.log(JSON.stringify({ error: 'crashed', description: String(e && e.stack || e) }));
  process.exit(1);
});
