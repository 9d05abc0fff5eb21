"""The stack test: template.yaml deployed onto ministack and driven end to end as its users would, then torn down.

Usage: stack_test.py --artefacts DIR --edl-local PATH --id-photo PATH

DIR holds one `<binary>.zip` per function (each a `bootstrap`, see scripts/stack-test.sh);
`edl-local` runs the key bootstrap and prints the sample register; `id-photo` writes a
camera photo. Every step that fails names the resource (function, route, rule, bucket
notification) and shows what the emulator knows about it.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import hashlib
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from urllib3 import encode_multipart_formdata

import deploy
from client import Api, Diagnostics, StackFailure, eventually, now_ms, problem
from emulator import Emulator
from idp import IdentityProvider, Issuer, SigningKey
from pki import make_tls
from rekognition import RekognitionStandIn

REGION = "us-east-1"
AUDIENCE = "edl-app"
# The template's rule ConsoleClientIsAnAudience: the consoles' client id is one of the audiences.
AUDIENCES = f"{AUDIENCE},edl-consoles"
ROOT = Path(__file__).resolve().parents[2]

# The showcase holders of the sample register (shared/src/sample.rs).
ZHANG_WEI = "11010519900307451X"  # Beijing, eligible, photo on file
LI_NA = "310104199208152623"  # Shanghai, eligible, no photo on file
FLEET = "91110105MA01TRUCK1"  # the sample fleet, owner of 京B20001
FLEET_TRUCK = {
    "plate": "京B20001",
    "vehicleType": "medium_truck",
    "emission": "china_6b",
    "ownerId": FLEET,
    "fleetId": FLEET,
}
SAMPLE_LICENCES = 20
# Show codes name their kind and format version (shared/src/credential/showcode.rs); verification checks the rest.
SHOW_CODE = re.compile(r"EDL[0-9]+:")
PASS_CODE = re.compile(r"TRK[0-9]+:")

# The operator's role for `edl-local keys` (the stack's KeyAdministratorArn), made in the emulator's IAM.
KEY_ADMINISTRATION = "edl-key-administration"
FINGERPRINT = re.compile(r"IACA fingerprint: ([0-9a-f]{64})")

ISSUE_TIMEOUT = 60
PHOTO_CHECK_TIMEOUT = 60
SCHEDULE_TIMEOUT = 150


def emulator_architecture() -> str:
    """The emulator runs the bootstrap binaries natively, so they are built for this machine."""
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]


def with_liveness_stand_in(template: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """The apply function as deployed (LIVENESS=rekognition), its Rekognition calls sent to the loopback stand-in.

    ministack has no Rekognition: AWS_ENDPOINT_URL_REKOGNITION (the SDK's endpoint for that service alone)
    points the deployed function at `rekognition.RekognitionStandIn`. Everything else about the function
    (its role, its other variables, its routes) is the template's.
    """
    staged = copy.deepcopy(template)
    variables = staged["Resources"]["ApplyFunction"]["Properties"]["Environment"]["Variables"]
    check(variables.get("LIVENESS") == "rekognition", f"the template's apply function should use Rekognition: {variables}")
    variables["AWS_ENDPOINT_URL_REKOGNITION"] = endpoint
    return staged


@dataclass
class Context:
    """What the scenarios share: the stack, its API, the authority's login and what earlier steps made."""

    stack: deploy.Stack
    api: Api
    diagnostics: Diagnostics
    issuer: Issuer
    session: boto3.Session
    emulator: Emulator
    rekognition: RekognitionStandIn
    edl_local: Path
    id_photo: Path
    deployer: deploy.Deployer
    made: dict[str, Any] = field(default_factory=dict)

    def token(self, sub: str, roles: str, **extra: str) -> str:
        return self.issuer.token(sub, roles, **extra)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.emulator.endpoint, verify=str(self.emulator.tls.ca_file))

    def application(self, holder_token: str, application_id: str) -> dict[str, Any]:
        return self.api.call("GET /applications/{id}", f"/applications/{application_id}", holder_token).json()

    def wait_for_state(
        self, holder_token: str, application_id: str, state: str, timeout: float, why: Callable[[], str]
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            application = self.application(holder_token, application_id)
            return application if application["state"] == state else None

        return eventually(
            f"application {application_id} did not reach {state}",
            probe,
            timeout,
            lambda: f"its state is {self.application(holder_token, application_id)['state']}\n{why()}",
        )


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StackFailure(message)


# ---------------------------------------------------------------- the scenarios


def create_key_administration(session: boto3.Session, emulator: Emulator) -> str:
    """The key administration's role (KeyAdministratorArn): the account may assume it, as an operator would."""
    client = lambda service: session.client(  # noqa: E731
        service, endpoint_url=emulator.endpoint, verify=str(emulator.tls.ca_file)
    )
    account = client("sts").get_caller_identity()["Account"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = client("iam").create_role(RoleName=KEY_ADMINISTRATION, AssumeRolePolicyDocument=json.dumps(trust))
    return role["Role"]["Arn"]


def key_administration_credentials(ctx: Context) -> dict[str, str]:
    """The key administration's session: the table's TRUST partition in its own role policy, the keys by theirs.

    KMS use comes from the key policies alone (the stack names this role in both); the table
    grant is the operator's, outside the stack, limited to `TRUST` as the README says.
    """
    table = ctx.client("dynamodb").describe_table(TableName=ctx.stack.outputs["RecordsTableName"])["Table"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:Query", "dynamodb:PutItem"],
                "Resource": table["TableArn"],
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TRUST"]}},
            }
        ],
    }
    ctx.client("iam").put_role_policy(
        RoleName=KEY_ADMINISTRATION, PolicyName="trust-material", PolicyDocument=json.dumps(policy)
    )
    role = ctx.deployer.parameters["KeyAdministratorArn"]
    assumed = ctx.client("sts").assume_role(RoleArn=role, RoleSessionName="key-bootstrap")["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": assumed["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": assumed["SecretAccessKey"],
        "AWS_SESSION_TOKEN": assumed["SessionToken"],
    }


def bootstrap_keys(ctx: Context) -> None:
    """The operator's key bootstrap as the key administration; until the fingerprint is deployed, nothing is trusted."""
    outputs = ctx.stack.outputs
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TABLE_NAME": outputs["RecordsTableName"],
        "AWS_ENDPOINT_URL": ctx.emulator.endpoint,
        "SSL_CERT_FILE": str(ctx.emulator.tls.ca_file),
        "AWS_REGION": REGION,
        **key_administration_credentials(ctx),
    }
    command = [
        str(ctx.edl_local),
        "keys",
        "bootstrap",
        "--iaca-key",
        outputs["IacaKeyId"],
        "--ds-key",
        outputs["DocumentSignerKeyId"],
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    check(done.returncode == 0, f"edl-local keys bootstrap failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    printed = FINGERPRINT.search(done.stdout)
    check(printed is not None, f"edl-local keys bootstrap should print the IACA fingerprint:\n{done.stdout}")
    ctx.made["iaca_sha256"] = printed.group(1) if printed else ""
    # The stack was deployed without IacaSha256: the rows alone make nothing trusted.
    trust = ctx.api.call("GET /.well-known/edl/trust", "/.well-known/edl/trust").json()
    check(
        not trust["iaca"] and not trust["documentSigners"],
        f"a stack without IacaSha256 should trust no IACA and no signer: {str(trust)[:300]}",
    )


def iaca_pinned(ctx: Context) -> None:
    """The stack deployed again with the printed fingerprint: that IACA, and the signer under it, are trusted."""
    fingerprint = ctx.made["iaca_sha256"]
    ctx.deployer.update({"IacaSha256": fingerprint})
    trust = ctx.api.call("GET /.well-known/edl/trust", "/.well-known/edl/trust").json()
    published = [hashlib.sha256(base64.b64decode(iaca["certificate"])).hexdigest() for iaca in trust["iaca"]]
    if published != [fingerprint]:
        lambdas = ctx.client("lambda")
        pins = {
            name: lambdas.get_function_configuration(FunctionName=ctx.stack.function_name(name))["Environment"][
                "Variables"
            ].get("IACA_SHA256")
            for name in ("IssueFunction", "LicenceFunction", "VerifyFunction", "PassFunction")
        }
        raise StackFailure(
            f"after the update with IacaSha256={fingerprint} the trust material should publish that IACA alone, "
            f"published {published}; the functions' IACA_SHA256: {pins}"
        )
    check(bool(trust["documentSigners"]), f"the signer certified under the pinned IACA: {str(trust)[:300]}")


def refused_before_a_function_runs(ctx: Context) -> None:
    """No token, a forged or foreign token: API Gateway's own 401, before any function runs.

    Each case fails one check alone: the foreign issuer's and audience's tokens are signed
    with the authority's own key, the forged one carries the authority's key id.
    """
    now = int(time.time())
    forger = SigningKey(ctx.issuer.key.kid)
    claims = {"iss": ctx.issuer.url, "aud": AUDIENCE, "sub": ZHANG_WEI, "roles": "holder", "iat": now}
    cases = {
        "no token": None,
        "not a JWT": "not-a-token",
        "another issuer": ctx.issuer.key.sign({**claims, "iss": ctx.issuer.url + "-other", "exp": now + 600}),
        "another audience": ctx.issuer.token(ZHANG_WEI, "holder", audience="another-app"),
        "a forged signature": forger.sign({**claims, "exp": now + 600}),
        "expired": ctx.issuer.key.sign({**claims, "iat": now - 120, "exp": now - 60}),
    }
    for case, token in cases.items():
        since = now_ms()
        answer = ctx.api.request("GET", "/licence", token)
        check(
            answer.status == 401 and answer.json() == {"message": "Unauthorized"},
            f"GET /licence with {case}: expected API Gateway's 401 Unauthorized, got {answer.status} {answer.text()}",
        )
        ran = ctx.diagnostics.function_messages("LicenceFunction", since)
        check(not ran, f"GET /licence with {case}: LicenceFunction ran although the authorizer refused: {ran}")
    check(
        ctx.api.request("GET", "/truck/cities").status == 200,
        "GET /truck/cities is public (Authorizer: NONE) but was refused",
    )


def import_register(ctx: Context) -> None:
    """The administrator imports the sample register and the fleet's truck."""
    done = subprocess.run(
        [str(ctx.edl_local), "samples", "--count", str(SAMPLE_LICENCES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    admin = ctx.token("admin-1", "admin")
    ctx.api.call(
        "POST /admin/licences", "/admin/licences", admin, raw=done.stdout.encode(), content_type="application/x-ndjson"
    )
    record = ctx.api.call("GET /admin/licences/{number}", f"/admin/licences/{ZHANG_WEI}", admin).json()
    check(ZHANG_WEI in json.dumps(record), f"the imported licence {ZHANG_WEI} is not there: {str(record)[:300]}")
    ctx.api.call(
        "POST /admin/vehicles",
        "/admin/vehicles",
        admin,
        raw=(json.dumps(FLEET_TRUCK) + "\n").encode(),
        content_type="application/x-ndjson",
    )


def roles_and_bad_input(ctx: Context) -> None:
    """A role that may not call a route, and malformed input: the project's problems, through the real payload."""
    holder = ctx.token(ZHANG_WEI, "holder")
    problem(ctx.api.request("GET", "/reviews", holder), 403, "forbidden")
    relying_party = ctx.token("rp-1", "relying_party", org="神州租车")
    importing = ctx.api.request(
        "POST", "/admin/licences", relying_party, raw=b"{}\n", content_type="application/x-ndjson"
    )
    problem(importing, 403, "forbidden")
    problem(ctx.api.request("POST", "/applications", holder, raw=b'{"photoSource":'), 400, "invalid-request")


def photo_on_file_to_issued_licence(ctx: Context) -> None:
    """张伟 applies with his photo on file, passes the liveness check; the approval travels the bus to `issue`."""
    holder = ctx.token(ZHANG_WEI, "holder")
    opened = ctx.api.call("POST /applications", "/applications", holder, {"photoSource": "on_file"}, expect=201).json()
    check(
        opened["state"] == "awaiting_liveness", f"a photo-on-file application should await the liveness check: {opened}"
    )
    application = f"/applications/{opened['id']}"
    start = "POST /applications/{id}/liveness-sessions"
    confirm = "POST /applications/{id}/liveness"
    # The photo on file as the register keeps it (admin import, `register/<sha256>.jpg`): the holder's own face.
    admin = ctx.token("admin-1", "admin")
    record = ctx.api.call("GET /admin/licences/{number}", f"/admin/licences/{ZHANG_WEI}", admin).json()
    sha256 = record.get("licence", record).get("photoSha256")
    check(isinstance(sha256, str), f"{ZHANG_WEI} should have a photo on file: {str(record)[:300]}")
    photo_on_file = (
        ctx.client("s3").get_object(Bucket=ctx.stack.resources["PhotoBucket"], Key=f"register/{sha256}.jpg")["Body"].read()
    )
    # A session of no application of this holder's (another application's, or unknown): refused.
    foreign = ctx.api.request(
        "POST", f"{application}/liveness", holder, {"livenessSessionId": str(uuid.uuid4())}
    )
    problem(foreign, 400, "liveness-session-invalid")
    # The backend creates the session; someone else's face in front of the camera: 422 face-mismatch.
    first = ctx.api.call(start, f"{application}/liveness-sessions", holder, expect=201).json()["sessionId"]
    ctx.rekognition.finish(first, 99.0, b"someone else's face")
    problem(
        ctx.api.request("POST", f"{application}/liveness", holder, {"livenessSessionId": first}), 422, "face-mismatch"
    )
    # The holder's own face, in a new session: approved.
    since = now_ms()
    session = ctx.api.call(start, f"{application}/liveness-sessions", holder, expect=201).json()["sessionId"]
    ctx.rekognition.finish(session, 99.0, photo_on_file)
    approved = ctx.api.call(confirm, f"{application}/liveness", holder, {"livenessSessionId": session}).json()
    check(
        ctx.rekognition.operations().count("CompareFaces") == 2,
        f"the deployed function should compare faces with Rekognition: {ctx.rekognition.operations()}",
    )
    check(approved["state"] == "approved", f"a passed liveness check should approve the application: {approved}")
    ctx.wait_for_state(holder, opened["id"], "issued", ISSUE_TIMEOUT, lambda: issue_wiring(ctx, since))
    licence = ctx.api.call("GET /licence", "/licence", holder).json()
    check(licence.get("colour") == "green", f"the new licence should show green: {str(licence)[:300]}")
    ctx.made["zhang_wei_serial"] = licence["serial"]


WITNESS = "edl-stack-test-witness"


def watch_the_bus(ctx: Context) -> None:
    """The test's own witness on the stack's bus: every event also goes to a queue of the test.

    It is not part of the stack and changes nothing there; when an event does not reach its
    function, the failure shows what did cross the bus next to the rules that should match it.
    """
    sqs = ctx.client("sqs")
    events = ctx.client("events")
    bus = ctx.stack.outputs["EventBusName"]
    queue = sqs.create_queue(QueueName=WITNESS)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = events.put_rule(Name=WITNESS, EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule["RuleArn"]}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=WITNESS, EventBusName=bus, Targets=[{"Id": "witness", "Arn": arn}])
    ctx.made["witness"] = queue


def remove_the_witness(ctx: Context) -> None:
    """Removes the witness before the stack goes: a bus with a rule the stack does not own cannot be deleted."""
    queue = ctx.made.pop("witness", None)
    if queue is None:
        return
    events = ctx.client("events")
    bus = ctx.stack.outputs["EventBusName"]
    events.remove_targets(Rule=WITNESS, EventBusName=bus, Ids=["witness"])
    events.delete_rule(Name=WITNESS, EventBusName=bus)
    ctx.client("sqs").delete_queue(QueueUrl=queue)


def seen_on_the_bus(ctx: Context) -> str:
    """The events the witness saw (source, detail-type and the application or pass they name), oldest first."""
    queue = ctx.made.get("witness")
    if queue is None:
        return "    (no witness on the bus)"
    sqs = ctx.client("sqs")
    seen: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        for message in messages:
            event = json.loads(message["Body"])
            detail = event.get("detail") or {}
            about = {k: v for k, v in detail.items() if k in ("applicationId", "passId", "serial", "state")}
            seen.append(f"    {event.get('source')} {event.get('detail-type')} {json.dumps(about, ensure_ascii=False)}")
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return "\n".join(seen) or "    (nothing)"


def issue_wiring(ctx: Context, since: int) -> str:
    """What connects an approval to `issue`: what crossed the bus, the rules and their targets, the dead letters."""
    events = ctx.client("events")
    bus = ctx.stack.outputs["EventBusName"]
    described = []
    for rule in events.list_rules(EventBusName=bus)["Rules"]:
        if rule["Name"] == WITNESS:
            continue
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
        arns = ", ".join(target["Arn"] for target in targets) or "no target"
        described.append(f"    {rule['Name']}: {rule.get('EventPattern')} -> {arns}")
    return (
        f"the events that crossed the bus {bus} (the test's witness rule):\n{seen_on_the_bus(ctx)}\n"
        f"the rules on the bus {bus} and their targets (IssueFunction is "
        f"{ctx.stack.function_name('IssueFunction')}):\n" + ("\n".join(described) or "    (none)") + "\n"
        f"dead letters of IssueDeadLetters:\n{ctx.diagnostics.dead_letters('IssueDeadLetterQueueUrl')}\n"
        + ctx.diagnostics.blame("IssueFunction", since)
    )


def codes_verified(ctx: Context) -> None:
    """The holder's show code, verified by an officer and by a rental desk; the pages; who checked."""
    holder = ctx.token(ZHANG_WEI, "holder")
    code = ctx.api.call("GET /licence/code", "/licence/code", holder).json()
    check(SHOW_CODE.match(code["code"]) is not None, f"a licence's show code starts EDL<version>: {code}")
    officer = ctx.token("police-0001", "officer", org="北京市公安局交通管理局")
    seen = ctx.api.call("POST /verifications", "/verifications", officer, {"code": code["code"], "class": "C1"}).json()
    check(
        seen["valid"] is True and seen["serial"] == ctx.made["zhang_wei_serial"], f"the officer's verification: {seen}"
    )
    rental = ctx.token("rp-rental", "relying_party", org="神州租车")
    limited = ctx.api.call(
        "POST /verifications", "/verifications", rental, {"code": code["code"], "purpose": "car_rental", "class": "C1"}
    ).json()
    check(limited["valid"] is True, f"the rental desk's verification: {limited}")
    check(
        len(json.dumps(limited["disclosed"])) < len(json.dumps(seen["disclosed"])),
        "a relying party should see less than an officer",
    )
    # The PNG pages are drawn by the pages function, which the licence function invokes (lambda:InvokeFunction).
    for side in ("front", "back"):
        page = ctx.api.call("GET /licence/pages/{page}", f"/licence/pages/{side}.png", holder)
        check(
            page.body.startswith(b"\x89PNG") and int.from_bytes(page.body[16:20], "big") == 1712,
            f"the {side} page should be a 1712 px wide PNG through API Gateway's binary payload, drawn by "
            f"PagesFunction, got {page.body[:24]!r}",
        )
    checks = ctx.api.call("GET /licence/checks", "/licence/checks", holder).json()
    check(
        len(json.dumps(checks)) > 0 and "car_rental" in json.dumps(checks),
        f"the holder should see both checks: {str(checks)[:400]}",
    )


def camera_photo_checked(ctx: Context) -> None:
    """李娜 uploads a camera photo with the presigned form; the bucket's notification runs `photo-check`."""
    holder = ctx.token(LI_NA, "holder")
    opened = ctx.api.call("POST /applications", "/applications", holder, {"photoSource": "camera"}, expect=201).json()
    check(opened["state"] == "awaiting_photo", f"a camera application should await its photo: {opened}")
    offer = ctx.api.call(
        "POST /applications/{id}/photo-uploads",
        f"/applications/{opened['id']}/photo-uploads",
        holder,
        {"source": "camera", "contentType": "image/jpeg"},
        expect=201,
    ).json()
    form = offer["upload"]
    photo = subprocess.run(
        [str(ctx.id_photo), str(secrets.randbelow(1 << 30))], capture_output=True, check=True, timeout=60
    ).stdout
    fields = list(form["fields"].items()) + [("file", ("photo.jpg", photo, "image/jpeg"))]
    body, content_type = encode_multipart_formdata(fields)
    since = now_ms()
    request = urllib.request.Request(form["url"], data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, context=ctx.emulator.ssl_context(), timeout=60) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        raise StackFailure(
            f"the photo bucket refused the presigned upload made by PhotoUploadFunction: {e.code} {e.read()[:400]!r}\n"
            + ctx.diagnostics.blame("PhotoUploadFunction", since)
        ) from e
    check(200 <= status < 300, f"the presigned upload answered {status}")
    ctx.wait_for_state(
        holder, opened["id"], "awaiting_review", PHOTO_CHECK_TIMEOUT, lambda: notification_wiring(ctx, since)
    )
    ctx.made["li_na_application"] = opened["id"]
    ctx.made["li_na_photo"] = photo


def notification_wiring(ctx: Context, since: int) -> str:
    s3 = ctx.client("s3")
    bucket = ctx.stack.outputs["PhotoBucketName"]
    notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
    notifications.pop("ResponseMetadata", None)
    return (
        f"the notification configuration of {bucket}: {json.dumps(notifications)[:600]}\n"
        f"dead letters of PhotoCheckDeadLetters:\n{ctx.diagnostics.dead_letters('PhotoCheckDeadLetterQueueUrl')}\n"
        + ctx.diagnostics.blame("PhotoCheckFunction", since)
    )


def review_decided(ctx: Context) -> None:
    """A reviewer finds the photo in the queue, views it through its presigned link and approves it: issued."""
    application_id = ctx.made["li_na_application"]
    reviewer = ctx.token("reviewer-7", "reviewer")
    queue = ctx.api.call("GET /reviews", "/reviews", reviewer).json()
    check(
        any(item["id"] == application_id for item in queue["items"]),
        f"the review queue should hold {application_id}: {str(queue)[:400]}",
    )
    item = ctx.api.call("GET /reviews/{id}", f"/reviews/{application_id}", reviewer).json()
    # The link opens the clean copy the checks made (re-encoded from the pixels), never the upload itself.
    check(
        f"/checked/{application_id}/" in item["photoUrl"],
        f"the reviewer's presigned link should open the checked clean copy: {item['photoUrl'][:200]}",
    )
    with urllib.request.urlopen(item["photoUrl"], context=ctx.emulator.ssl_context(), timeout=30) as response:
        shown = response.read()
        check(
            shown.startswith(b"\xff\xd8\xff") and shown.endswith(b"\xff\xd9") and shown != ctx.made["li_na_photo"],
            "the reviewer's presigned link should show a JPEG re-encoded from the uploaded photo",
        )
    since = now_ms()
    decided = ctx.api.call(
        "POST /reviews/{id}/decision", f"/reviews/{application_id}/decision", reviewer, {"verdict": "approve"}
    ).json()
    check(decided["state"] == "approved", f"an approved review should approve the application: {str(decided)[:300]}")
    ctx.wait_for_state(
        ctx.token(LI_NA, "holder"), application_id, "issued", ISSUE_TIMEOUT, lambda: issue_wiring(ctx, since)
    )


def truck_pass(ctx: Context) -> None:
    """A fleet manager's short pass is signed at once; an officer checks it inside ring 5."""
    fleet = ctx.token("fleet-manager-1", "fleet_manager", org=FLEET)
    today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date()
    request = {
        "plate": FLEET_TRUCK["plate"],
        "city": "110000",
        "passType": "short",
        "zones": ["ring-5"],
        "validFrom": today.isoformat(),
        "validTo": (today + datetime.timedelta(days=3)).isoformat(),
        "windows": [{"from": "00:00", "to": "24:00"}],
    }
    issued = ctx.api.call("POST /truck/passes", "/truck/passes", fleet, request, expect=201).json()
    check(issued["status"]["state"] == "active", f"a short pass is signed at once: {str(issued)[:300]}")
    code = ctx.api.call("GET /truck/passes/{id}/code", f"/truck/passes/{issued['id']}/code", fleet).json()["code"]
    check(PASS_CODE.match(code) is not None, f"a pass's show code starts TRK<version>: {code[:40]}")
    officer = ctx.token("police-0002", "officer")
    checked = ctx.api.call(
        "POST /truck/verifications", "/truck/verifications", officer, {"code": code, "zone": "ring-5"}
    ).json()
    check(checked["valid"] is True and checked["allowed"] is True, f"the officer's pass check inside ring 5: {checked}")


def retime_expiry_schedule(ctx: Context) -> None:
    """The stack's daily expiry rule targets `expire`; it is re-timed to fire within the test.

    ministack fires a scheduled rule on its wall clock, which cannot be moved, so the
    stack's own rule (its target, input and permission untouched) is re-timed to
    rate(1 minute) with PutRule, first, and its run is awaited last.
    """
    events = ctx.client("events")
    function = ctx.client("lambda").get_function(FunctionName=ctx.stack.function_name("ExpireFunction"))
    rules = events.list_rule_names_by_target(TargetArn=function["Configuration"]["FunctionArn"])["RuleNames"]
    daily = ctx.stack.resources["ExpireFunctionDaily"]
    check(daily in rules, f"ExpireFunction should be the target of the rule ExpireFunctionDaily ({daily}): {rules}")
    rule = events.describe_rule(Name=daily)
    ctx.made["expiry_since"] = now_ms()
    events.put_rule(Name=daily, ScheduleExpression="rate(1 minute)", State="ENABLED", Description=rule["Description"])


def schedule_reaches_expire(ctx: Context) -> None:
    """The re-timed schedule fires and `expire` runs to completion with its environment and permissions."""
    since = ctx.made["expiry_since"]

    def finished() -> dict[str, Any] | None:
        for line in ctx.diagnostics.function_messages("ExpireFunction", since) or []:
            if "expiry run finished" in line and "{" in line:
                return json.loads(line[line.index("{") :])
        return None

    report = eventually(
        f"the rule {ctx.stack.resources['ExpireFunctionDaily']} did not run ExpireFunction to the end",
        finished,
        SCHEDULE_TIMEOUT,
        lambda: f"dead letters of ExpireDeadLetters:\n{ctx.diagnostics.dead_letters('ExpireDeadLetterQueueUrl')}\n"
        + ctx.diagnostics.blame("ExpireFunction", since),
    )
    check(report["fields"]["complete"] is True, f"the scheduled run should complete: {report}")


@dataclass
class Scenario:
    name: str
    run: Callable[[Context], None]
    needs: tuple[str, ...] = ()


SCENARIOS = [
    Scenario("a witness of the test on the bus", watch_the_bus),
    Scenario("expiry schedule re-timed", retime_expiry_schedule),
    Scenario("key bootstrap, nothing trusted before the pin", bootstrap_keys),
    Scenario(
        "stack updated with the IACA fingerprint, trust material",
        iaca_pinned,
        ("key bootstrap, nothing trusted before the pin",),
    ),
    Scenario("refused before a function runs", refused_before_a_function_runs),
    Scenario("sample register imported", import_register),
    Scenario("roles and bad input", roles_and_bad_input, ("sample register imported",)),
    Scenario(
        "photo on file to an issued licence",
        photo_on_file_to_issued_licence,
        ("stack updated with the IACA fingerprint, trust material", "sample register imported"),
    ),
    Scenario("show code verified", codes_verified, ("photo on file to an issued licence",)),
    Scenario(
        "camera photo checked through the bucket notification", camera_photo_checked, ("sample register imported",)
    ),
    Scenario(
        "review decision to an issued licence",
        review_decided,
        ("camera photo checked through the bucket notification",),
    ),
    Scenario(
        "truck pass",
        truck_pass,
        ("stack updated with the IACA fingerprint, trust material", "sample register imported"),
    ),
    Scenario("expiry schedule reaches expire", schedule_reaches_expire, ("expiry schedule re-timed",)),
]


def run_scenarios(ctx: Context) -> tuple[int, int]:
    failed: set[str] = set()
    passed = 0
    for scenario in SCENARIOS:
        missing = [n for n in scenario.needs if n in failed]
        if missing:
            print(f"FAIL {scenario.name}: not run, it needs {', '.join(missing)}", flush=True)
            failed.add(scenario.name)
            continue
        started = time.monotonic()
        try:
            scenario.run(ctx)
        except StackFailure as e:
            print(f"FAIL {scenario.name}:\n  {e}", flush=True)
            failed.add(scenario.name)
            continue
        except Exception:  # a crash of the driver itself is a failure too, with its trace
            print(f"FAIL {scenario.name}:\n{traceback.format_exc()}", flush=True)
            failed.add(scenario.name)
            continue
        passed += 1
        print(f"ok   {scenario.name} ({time.monotonic() - started:.1f} s)", flush=True)
    return passed, len(failed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artefacts", type=Path, required=True)
    parser.add_argument("--edl-local", type=Path, required=True)
    parser.add_argument("--id-photo", type=Path, required=True)
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    args = parser.parse_args()
    os.environ["AWS_DEFAULT_REGION"] = REGION  # for the SAM transform's pseudo parameters
    with tempfile.TemporaryDirectory(prefix="edl-stack.") as scratch:
        work = Path(scratch)
        tls = make_tls(work / "tls")
        with (
            Emulator(work, tls) as emulator,
            IdentityProvider(tls, AUDIENCE) as provider,
            RekognitionStandIn() as rekognition,
        ):
            print(f"== ministack on {emulator.endpoint}, the authority's login at {provider.issuer.url}", flush=True)
            session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
            deployer = deploy.Deployer(session, emulator.endpoint, tls.ca_file, f"edl-stack-{uuid.uuid4().hex[:6]}")
            template = deploy.read_template(args.template)
            zips = {binary: args.artefacts / f"{binary}.zip" for binary in deploy.functions(template).values()}
            packaged = with_liveness_stand_in(
                deployer.package(template, emulator_architecture(), zips), rekognition.endpoint
            )
            native = deploy.import_http_apis(deploy.sam_transform(packaged))
            started = time.monotonic()
            try:
                # The first deploy, before the key bootstrap: no IacaSha256 yet (its default, empty).
                parameters = {
                    "JwtIssuer": provider.issuer.url,
                    "JwtAudience": AUDIENCES,
                    "KeyAdministratorArn": create_key_administration(session, emulator),
                }
                stack = deployer.create(native, parameters)
            except RuntimeError as e:
                print(f"FAIL stack created: {e}\n{emulator.log_tail()}", flush=True)
                print("0 passed, 1 failed")
                return 1
            took = time.monotonic() - started
            print(f"ok   stack {stack.name} created ({len(stack.resources)} resources, {took:.1f} s)", flush=True)
            diagnostics = Diagnostics(session, emulator.endpoint, str(tls.ca_file), stack, emulator.log_file)
            api = Api(
                emulator.port,
                stack.resources["Api"],
                emulator.ssl_context(),
                deploy.route_functions(native),
                diagnostics,
            )
            ctx = Context(
                stack,
                api,
                diagnostics,
                provider.issuer,
                session,
                emulator,
                rekognition,
                args.edl_local,
                args.id_photo,
                deployer,
            )
            passed, failed = run_scenarios(ctx)
            remove_the_witness(ctx)
            status = deployer.delete()
            if status == "DELETE_COMPLETE":
                passed += 1
                print("ok   stack deleted", flush=True)
            else:
                failed += 1
                print(f"FAIL stack deleted: it ended {status}\n{deployer.failures()}", flush=True)
            if failed:
                print(f"== last lines of the ministack log:\n{emulator.log_tail()}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
