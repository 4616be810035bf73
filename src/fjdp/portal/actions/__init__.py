"""Every change the portal makes goes through one of these functions. Each checks the
governance rules, makes the change and writes its audit event in one transaction, so
the trail never misses a change and never records one that did not happen."""

from fjdp.portal.actions.outputs import (
    create_request,
    download,
    revise_request,
    submit_request,
    take_request,
    vote_file,
    withdraw_request,
)
from fjdp.portal.actions.people import add_totp_device, create_user, unlock, update_user
from fjdp.portal.actions.projects import (
    amend,
    close,
    create_project,
    custodian_decide,
    edit_project,
    expire_due,
    panel_decide,
    provision,
    submit,
    withdraw,
)

__all__ = [
    "add_totp_device",
    "amend",
    "close",
    "create_project",
    "create_request",
    "create_user",
    "custodian_decide",
    "download",
    "edit_project",
    "expire_due",
    "panel_decide",
    "provision",
    "revise_request",
    "submit",
    "submit_request",
    "take_request",
    "unlock",
    "update_user",
    "vote_file",
    "withdraw",
    "withdraw_request",
]
