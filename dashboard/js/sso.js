// "Sign in with SSO": OAuth 2.0 authorization code with PKCE (RFC 7636, S256) at the identity provider config.js
// names (window.ARCHIE_CONFIG.signIn: issuer, clientId, authorizationEndpoint, tokenEndpoint). The page goes
// to the provider and comes back with ?code=..&state=..; the code is exchanged for tokens at the token
// endpoint with the verifier only this page knows. The ID token is then the bearer of every API call.
//
// The tokens live in this page's memory only (never localStorage, sessionStorage or a cookie): a reload signs
// out. What must survive the round trip to the provider (the state, the PKCE verifier, the nonce, the
// environment asked for) waits in sessionStorage under PENDING, and is removed the moment the page is back,
// whatever the outcome: it is single-use, and useless without the provider's code.

const PENDING = "archie.sso.pending";

export const ssoConfig = () => {
  const signIn = window.ARCHIE_CONFIG && window.ARCHIE_CONFIG.signIn;
  return signIn && signIn.clientId && signIn.authorizationEndpoint && signIn.tokenEndpoint ? signIn : null;
};

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const randomText = (bytes) => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

async function s256(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

// Where the provider sends the browser back: this page, without query or fragment (the registered callback).
const redirectUri = () => location.origin + location.pathname;

export async function startSso(project, environment) {
  const config = ssoConfig();
  const pending = { state: randomText(32), verifier: randomText(48), nonce: randomText(24), project, environment };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: "openid email profile",
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await s256(pending.verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${config.authorizationEndpoint}?${query}`);
}

function claimsOf(jwt) {
  const part = (jwt || "").split(".")[1] || "";
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (part.length % 4)) % 4);
  try {
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

// This load's return from the provider: {token, project, environment}, or null when the page was not sent back
// by it. Throws (with a message for the person) when the return is refused, forged or stale.
export async function finishSso() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  // The code leaves the address bar (and the history) at once: it is good once, but need not be seen.
  history.replaceState(null, "", location.pathname + location.hash);
  const config = ssoConfig();
  // The state ties this return to a sign-in this page started: another site cannot make it sign in as them,
  // nor put its own words on this page through a forged `error` (the provider's text is never shown).
  if (!config || !pending || params.get("state") !== pending.state) {
    throw new Error("This sign-in was not started from this page. Sign in again.");
  }
  if (params.has("error")) throw new Error("The identity provider refused the sign-in. Sign in again.");
  const response = await fetch(config.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(),
      client_id: config.clientId,
      code_verifier: pending.verifier,
    }),
    cache: "no-store",
    credentials: "omit",
  });
  const tokens = response.ok ? await response.json() : null;
  const claims = tokens && claimsOf(tokens.id_token);
  // The API verifies the token's signature; the nonce check here only refuses a token minted for another
  // sign-in than this one.
  if (!claims || claims.nonce !== pending.nonce) throw new Error("The sign-in could not be completed. Sign in again.");
  return { token: tokens.id_token, project: pending.project, environment: pending.environment };
}
