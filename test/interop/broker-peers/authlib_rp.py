#!/usr/bin/env python3
"""A tiny OpenID Connect relying party written with Authlib (Debian python3-authlib) and
requests, as a client of fedgate in broker mode. One user at a time: it keeps the last tokens.

Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, SCOPE, PORT. Listens on 127.0.0.1:PORT (0: any) and
prints "listening <port>" once ready.

Routes (GET unless noted; answers are JSON except redirects):
  /login[?prompt=&scope=&redirect_uri=&bad_secret=1]  starts the authorization (PKCE S256, nonce)
  /cb                  redeems the code, validates the ID token (iss, aud, nonce, at_hash)
  /userinfo            calls fedgate's userinfo with the access token
  /refresh             refresh_token grant (rotation), ID token validated when present
  /revoke              RFC 7009 revocation of the refresh token
  /logout              RP-initiated logout (id_token_hint, post_logout_redirect_uri, state)
  /bye                 post-logout landing page
  POST /backchannel    OIDC Back-Channel Logout: validates the logout token, ends the local session
  /state               what the RP holds (never the tokens themselves)
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

ISSUER = os.environ['ISSUER']
CLIENT_ID = os.environ['CLIENT_ID']
CLIENT_SECRET = os.environ['CLIENT_SECRET']
SCOPE = os.environ.get('SCOPE', 'openid profile email')
TIMEOUT = 5
BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

META = requests.get(ISSUER + '/.well-known/openid-configuration', timeout=TIMEOUT).json()
pending = {}
held = {'tokens': None, 'claims': None, 'logouts': []}


def keys():
    return JsonWebKey.import_key_set(requests.get(META['jwks_uri'], timeout=TIMEOUT).json())


def validate_id_token(id_token, nonce, access_token):
    options = {'iss': {'essential': True, 'value': ISSUER}, 'aud': {'essential': True, 'value': CLIENT_ID}}
    params = {'client_id': CLIENT_ID, 'access_token': access_token}
    if nonce is not None:
        params['nonce'] = nonce
    claims = jwt.decode(id_token, keys(), claims_cls=CodeIDToken, claims_options=options, claims_params=params)
    claims.validate(now=int(time.time()), leeway=5)
    return dict(claims)


def session(secret=CLIENT_SECRET, **kwargs):
    return OAuth2Session(CLIENT_ID, secret, code_challenge_method='S256', **kwargs)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location):
        self.send_response(302)
        self.send_header('Location', location)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def base(self):
        return 'http://%s:%d' % self.server.server_address

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        route = getattr(self, 'get_' + url.path.strip('/').replace('-', '_'), None)
        if route is None:
            return self.send_json(404, {'error': 'not_found'})
        try:
            route(q)
        except Exception as err:  # the test reads the error class and the OAuth error code
            self.send_json(502, {'error': getattr(err, 'error', type(err).__name__), 'description': getattr(err, 'description', str(err))[:300]})

    def get_login(self, q):
        redirect_uri = q.get('redirect_uri', self.base() + '/cb')
        client = session(scope=q.get('scope', SCOPE), redirect_uri=redirect_uri)
        verifier = generate_token(48)
        nonce = generate_token(20)
        extra = {'prompt': q['prompt']} if 'prompt' in q else {}
        location, state = client.create_authorization_url(META['authorization_endpoint'], code_verifier=verifier, nonce=nonce, **extra)
        pending[state] = {'verifier': verifier, 'nonce': nonce, 'redirect_uri': redirect_uri, 'bad_secret': q.get('bad_secret') == '1'}
        self.redirect(location)

    def get_cb(self, q):
        step = pending.pop(q.get('state', ''), None)
        if step is None:
            return self.send_json(400, {'error': 'unknown_state'})
        if 'error' in q:
            # RFC 9207: an error response names its issuer too; check it like a code response.
            return self.send_json(200, {'error': q['error'], 'iss_ok': q.get('iss') == ISSUER})
        if q.get('iss') != ISSUER:
            return self.send_json(400, {'error': 'wrong_iss'})
        secret = 'not-the-secret-0123456789-abcdefghijklmnopq' if step['bad_secret'] else CLIENT_SECRET
        client = session(secret, redirect_uri=step['redirect_uri'])
        token = client.fetch_token(META['token_endpoint'], authorization_response=self.base() + self.path,
                                   code_verifier=step['verifier'], timeout=TIMEOUT)
        claims = validate_id_token(token['id_token'], step['nonce'], token['access_token'])
        held['tokens'] = dict(token)
        held['claims'] = claims
        self.send_json(200, {'sub': claims['sub'], 'claims': claims, 'scope': token.get('scope'), 'refresh': 'refresh_token' in token})

    def get_userinfo(self, q):
        res = requests.get(META['userinfo_endpoint'], headers={'Authorization': 'Bearer ' + held['tokens']['access_token']}, timeout=TIMEOUT)
        self.send_json(200, {'status': res.status_code, 'body': res.json()})

    def get_refresh(self, q):
        old = held['tokens']
        token = dict(session().refresh_token(META['token_endpoint'], refresh_token=old['refresh_token'], timeout=TIMEOUT))
        claims = validate_id_token(token['id_token'], None, token['access_token']) if 'id_token' in token else None
        held['tokens'] = {**old, **token}
        self.send_json(200, {'rotated': token.get('refresh_token') not in (None, old['refresh_token']), 'sub': claims and claims['sub'],
                             'new_access_token': token['access_token'] != old['access_token']})

    def get_revoke(self, q):
        res = session().revoke_token(META['revocation_endpoint'], token=held['tokens']['refresh_token'], token_type_hint='refresh_token', timeout=TIMEOUT)
        self.send_json(200, {'status': res.status_code})

    def get_logout(self, q):
        params = {'id_token_hint': held['tokens']['id_token'], 'post_logout_redirect_uri': self.base() + '/bye', 'state': 'bye-state'}
        self.redirect(META['end_session_endpoint'] + '?' + urlencode(params))

    def get_bye(self, q):
        held['tokens'] = None
        self.send_json(200, {'signed_out': True, 'state': q.get('state')})

    def get_state(self, q):
        self.send_json(200, {'signed_in': held['tokens'] is not None, 'sub': held['claims'] and held['claims']['sub'], 'logouts': held['logouts']})

    def do_POST(self):
        if urlparse(self.path).path != '/backchannel':
            return self.send_json(404, {'error': 'not_found'})
        length = int(self.headers.get('Content-Length', '0'))
        form = parse_qs(self.rfile.read(length).decode())
        try:
            token = form['logout_token'][0]
            claims = jwt.decode(token, keys(), claims_options={'iss': {'essential': True, 'value': ISSUER}, 'aud': {'essential': True, 'value': CLIENT_ID}})
            claims.validate(now=int(time.time()), leeway=5)
            if BACKCHANNEL_EVENT not in claims.get('events', {}) or 'nonce' in claims or not (claims.get('sid') or claims.get('sub')):
                raise ValueError('not a logout token')
        except Exception as err:
            return self.send_json(400, {'error': 'invalid_request', 'description': str(err)[:200]})
        held['logouts'].append({'sub': claims.get('sub'), 'sid': claims.get('sid'), 'typ': token and json.loads(_b64(token.split('.')[0])).get('typ')})
        if held['claims'] and held['claims'].get('sid') == claims.get('sid'):
            held['tokens'] = None
        self.send_json(200, {})


def _b64(part):
    import base64
    return base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)).decode()


if __name__ == '__main__':
    server = ThreadingHTTPServer(('127.0.0.1', int(os.environ.get('PORT', '0'))), Handler)
    print('listening %d' % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
