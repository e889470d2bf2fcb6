"""The assessor's own OpenBao token, made the way the README tells a consultant to.

``posture policy vault`` prints a read-only policy for the live mounts; the
client writes it and creates a token bound only to it, with
``no_default_policy=true``. The demo does exactly that with the dev server's
root token (the client's admin), and every collection then uses the assessor
token: collecting with root would make the kit's own requests the top
"root token used" finding of its own report. Whatever the policy misses shows
up as a coverage gap, never as a pass, as it would at a client.
"""

from __future__ import annotations

from collectors.vault.auth import connect
from collectors.vault.policy import assessor_policy, live_mounts, policy_header
from posture.demo.client import VAULT_STORE
from posture.demo.live_estate import DemoEstate, admin_call
from posture.model.engagement import VaultStore

#: The policy's name, as in the header ``posture policy vault`` prints.
POLICY_NAME = "posture-assessor"
#: A working day, as the printed header suggests; the demo is over in minutes.
TOKEN_TTL = "8h"


def assessor_policy_hcl(estate: DemoEstate) -> str:
    """What ``posture policy vault`` prints for the estate's live mounts.

    The first time, the client's admin reads the mounts; once the assessor
    token exists it reads them itself (``posture policy vault CLIENT`` uses
    the engagement's token), so a later quarter's policy refresh is no root use.
    """
    address = estate.bao.address
    token = estate.assessor_token or estate.root_token
    http = connect(VaultStore(name=VAULT_STORE, address=address), env={"VAULT_TOKEN": token})
    try:
        mounts, problems = live_mounts(http)
    finally:
        http.close()
    return assessor_policy(mounts, product="openbao", not_covered=problems,
                           header=policy_header("openbao", f"live mounts of {address}", POLICY_NAME))


def grant_assessor(estate: DemoEstate) -> None:
    """Write the policy when the mounts changed since the last grant; create the token once.

    The token names the policy, so a rewritten policy applies to it at once;
    an unchanged estate (the second quarter) costs no write, hence no
    policy-change event in that quarter's audit log.
    """
    hcl = assessor_policy_hcl(estate)
    if hcl != estate.handles.get("assessor_policy"):
        admin_call(estate, "PUT", f"sys/policies/acl/{POLICY_NAME}", {"policy": hcl})
        estate.handles["assessor_policy"] = hcl
    if not estate.assessor_token:
        auth = admin_call(estate, "POST", "auth/token/create", {
            "policies": [POLICY_NAME], "no_default_policy": True, "ttl": TOKEN_TTL,
            "display_name": POLICY_NAME,
        })["auth"]
        estate.assessor_token = auth["client_token"]
