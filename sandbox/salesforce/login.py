"""Logging in to the emulated org: SOAP `login()` and the OAuth 2.0 client credentials flow.

These are the two endpoints simple-salesforce posts to when it is given a username, password and
security token (`POST /services/Soap/u/{version}`) or a connected app's consumer key and secret
(`POST /services/oauth2/token`, `grant_type=client_credentials`, HTTP Basic). Each successful login
issues a new session for the integration user. Sessions issued here can expire (the
`expired_session` fault revokes the one it hits), unlike the long-lived tokens of the sandbox's
people, so a client must log in again; a session is never expired on its very first call, as a
real session never expires the moment it is issued.

Answers follow Salesforce's formats: a `loginResponse` envelope (`serverUrl`, `sessionId`, `userId`)
or a 500 SOAP fault `INVALID_LOGIN`; the token endpoint answers JSON with `access_token` and
`instance_url`, or 400 `{"error": "invalid_client", ...}`.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs
from xml.dom import minidom
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

from sandbox.core import new_token

PARTNER_NS = "urn:partner.soap.sforce.com"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ORG_ID = "00D5g00000LBsbxEAD"
SESSION_PREFIX = f"{ORG_ID[:15]}!"
LOGIN_MESSAGE = "Invalid username, password, security token; or user locked out."


@dataclass(frozen=True)
class LoginSecrets:
    """How the integration user may log in: its password and security token, and the consumer
    key and secret of the connected app whose client credentials flow runs as it."""

    password: str = field(repr=False)
    security_token: str = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def generate(cls) -> LoginSecrets:
        """Fresh random secrets (never derived from a seed: they are secrets even here)."""
        return cls(
            password=new_token("Pw-"),
            security_token=new_token("")[:24],
            client_id=new_token("3MVG9"),
            client_secret=new_token("")[:40],
        )

    def public(self, username: str) -> dict[str, str]:
        """The admin answer: what to put in SALESFORCE_USERNAME and friends."""
        return {
            "username": username,
            "password": self.password,
            "security_token": self.security_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }


@dataclass(frozen=True)
class LoginAnswer:
    """A login endpoint's HTTP answer."""

    status: int
    body: bytes
    content_type: str


class Sessions:
    """Sessions issued by logins: which user each belongs to, and which were never used yet."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}
        self._fresh: set[str] = set()
        self._lock = threading.Lock()
        self.logins = 0
        self.refused = 0

    def issue(self, user_id: str) -> str:
        token = new_token(SESSION_PREFIX)
        with self._lock:
            self._owner[token] = user_id
            self._fresh.add(token)
            self.logins += 1
        return token

    def owner(self, token: str) -> str | None:
        with self._lock:
            return self._owner.get(token)

    def first_use(self, token: str) -> bool:
        """True the first time a session is used (it cannot have expired yet)."""
        with self._lock:
            if token in self._fresh:
                self._fresh.discard(token)
                return True
            return False

    def expire(self, token: str) -> bool:
        """Revoke a login session; False for tokens this table did not issue."""
        with self._lock:
            return self._owner.pop(token, None) is not None

    def note_refused(self) -> None:
        with self._lock:
            self.refused += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"logins": self.logins, "refused": self.refused, "live": len(self._owner)}


def soap_login(
    raw: bytes,
    *,
    secrets: LoginSecrets,
    user: tuple[str, str],
    sessions: Sessions,
    base_url: str,
) -> LoginAnswer:
    """Answer a partner SOAP `login()` for user (id, username): the password element carries
    the password followed by the security token."""
    user_id, expected_name = user
    username, password = _login_fields(raw)
    expected = secrets.password + secrets.security_token
    if username is None or password is None:
        return _soap_fault("INVALID_LOGIN", LOGIN_MESSAGE, sessions)
    if not (_same(username.lower(), expected_name.lower()) and _same(password, expected)):
        return _soap_fault("INVALID_LOGIN", LOGIN_MESSAGE, sessions)
    version = "59.0"
    token = sessions.issue(user_id)
    org = ORG_ID[:15]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns="{PARTNER_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{org}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{base_url}/services/Soap/u/{version}/{org}</serverUrl>"
        f"<sessionId>{escape(token)}</sessionId><userId>{user_id}</userId>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return LoginAnswer(200, body.encode(), "text/xml;charset=UTF-8")


def token_login(
    raw: bytes,
    *,
    authorization: str,
    secrets: LoginSecrets,
    user_id: str,
    sessions: Sessions,
    base_url: str,
) -> LoginAnswer:
    """Answer `POST /services/oauth2/token` for the client credentials flow."""
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items() if v}
    grant = form.get("grant_type")
    if grant != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant type not supported", sessions)
    client_id, client_secret = _basic(authorization) or (
        form.get("client_id"),
        form.get("client_secret"),
    )
    if not (
        client_id
        and client_secret
        and _same(client_id, secrets.client_id)
        and _same(client_secret, secrets.client_secret)
    ):
        return _oauth_error(400, "invalid_client", "invalid client credentials", sessions)
    token = sessions.issue(user_id)
    answer = {
        "access_token": token,
        "signature": base64.b64encode(new_token("").encode()[:32]).decode(),
        "scope": "api",
        "instance_url": base_url,
        "id": f"https://login.salesforce.com/id/{ORG_ID}/{user_id}",
        "token_type": "Bearer",
        "issued_at": str(int(time.time() * 1000)),
    }
    return LoginAnswer(200, json.dumps(answer).encode(), "application/json;charset=UTF-8")


def _login_fields(raw: bytes) -> tuple[str | None, str | None]:
    """The username and password of a SOAP login envelope (any namespace prefix)."""
    try:
        dom = minidom.parseString(raw)
    except (ExpatError, ValueError):
        return None, None

    def text(name: str) -> str | None:
        nodes = dom.getElementsByTagNameNS(PARTNER_NS, name)
        if not nodes:
            return None
        return "".join(n.data for n in nodes[0].childNodes if n.nodeType == n.TEXT_NODE)

    return text("username"), text("password")


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _soap_fault(code: str, message: str, sessions: Sessions) -> LoginAnswer:
    sessions.note_refused()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
        '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return LoginAnswer(500, body.encode(), "text/xml;charset=UTF-8")


def _oauth_error(status: int, error: str, description: str, sessions: Sessions) -> LoginAnswer:
    sessions.note_refused()
    body = json.dumps({"error": error, "error_description": description}).encode()
    return LoginAnswer(status, body, "application/json;charset=UTF-8")
