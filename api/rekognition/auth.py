"""AWS Signature Version 4 verification with botocore's own signer.

The server rebuilds the request from what it received (method, path, query, the headers the
client listed in ``SignedHeaders``, the body) and lets ``botocore.auth.SigV4Auth`` compute
the signature it should carry under the access key's secret; canonicalisation is botocore's,
never ours. Refused: a missing or malformed Authorization header, an unknown or revoked key,
a scope that is not ``rekognition``, a request dated more than the allowed skew away, and a
signature that differs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from flask import Request

from api.rekognition.protocol import ErrorType, RekognitionError
from infra.db.rekognition import AccessKeyRepo

SERVICE = "rekognition"
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;_.-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_HEADER_LENGTH = 2048


@dataclass(frozen=True)
class Caller:
    project_id: str
    access_key_id: str
    region: str


def access_key_id_of(authorization: str) -> str | None:
    """The access key id an Authorization header names (for rate-limit buckets), or None."""
    match = _AUTHORIZATION.match(authorization[:MAX_HEADER_LENGTH])
    return match.group("key") if match else None


def authenticate(request: Request, keys: AccessKeyRepo, max_skew_seconds: int) -> Caller:
    authorization = request.headers.get("Authorization", "")
    if not authorization:
        raise RekognitionError(ErrorType.MISSING_AUTHENTICATION, "Missing Authentication Token")
    match = _AUTHORIZATION.match(authorization) if len(authorization) <= MAX_HEADER_LENGTH else None
    if match is None:
        raise RekognitionError(
            ErrorType.INCOMPLETE_SIGNATURE, "the Authorization header is not a SigV4 signature"
        )
    if match.group("service") != SERVICE:
        raise RekognitionError(
            ErrorType.INVALID_SIGNATURE, f"the credential scope must name the service {SERVICE}"
        )
    amz_date = request.headers.get("X-Amz-Date", "")
    signed_headers = match.group("headers").split(";")
    if "host" not in signed_headers or "x-amz-date" not in signed_headers:
        raise RekognitionError(
            ErrorType.INCOMPLETE_SIGNATURE, "SignedHeaders must include host and x-amz-date"
        )
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError as bad:
        raise RekognitionError(ErrorType.INCOMPLETE_SIGNATURE, "X-Amz-Date is missing or malformed") from bad
    if amz_date[:8] != match.group("date"):
        raise RekognitionError(ErrorType.INVALID_SIGNATURE, "the credential scope's date is not X-Amz-Date's")
    skew = abs((datetime.now(UTC) - signed_at).total_seconds())
    if skew > max_skew_seconds:
        raise RekognitionError(
            ErrorType.INVALID_SIGNATURE,
            f"Signature expired: {amz_date} is more than {max_skew_seconds // 60} minutes from the server's time",
        )
    key = keys.active(match.group("key"))
    if key is None:
        raise RekognitionError(
            ErrorType.UNRECOGNIZED_CLIENT, "The security token included in the request is invalid."
        )
    expected = _expected_signature(
        request, key.id, key.secret, match.group("region"), signed_headers, amz_date
    )
    if not hmac.compare_digest(expected, match.group("signature")):
        raise RekognitionError(
            ErrorType.INVALID_SIGNATURE,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return Caller(key.project_id, key.id, match.group("region"))


def _expected_signature(
    request: Request, key_id: str, secret: str, region: str, signed_headers: list[str], amz_date: str
) -> str:
    body = request.get_data(cache=True)
    headers = {name: request.headers.get(name, "") for name in signed_headers}
    host = request.headers.get("Host", "")
    url = f"{request.scheme}://{host}{request.path}"
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    rebuilt = AWSRequest(method=request.method, url=url, data=body, headers=headers)
    rebuilt.context["timestamp"] = amz_date
    # botocore takes a signed X-Amz-Content-SHA256 as the payload's hash: hold it to the body.
    if (
        "x-amz-content-sha256" in signed_headers
        and headers["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest()
    ):
        raise RekognitionError(ErrorType.INVALID_SIGNATURE, "X-Amz-Content-SHA256 does not match the body")
    signer = SigV4Auth(Credentials(key_id, secret), SERVICE, region)
    canonical = signer.canonical_request(rebuilt)
    return str(signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt))
