"""The project's one invariant checker (fixed_ip_local.invariants) on hand-built pictures:
every kind of violation it exists to find is found, and a sound picture has none. (The
moto, fault and property tests assert it finds nothing; this shows it is able to.)"""

from __future__ import annotations

from typing import Any

import pytest

from fixed_ip_local.invariants import Picture, problems_in
from fixed_ip_local.world import HOSTNAME_TAG, POOL_TAG


def eni(eni_id: str, ip: str, holder: str | None = None, *, host: str | None = "web-1",
        status: str | None = None, pool: str = "web") -> dict[str, Any]:  # fmt: skip
    tags = [{"Key": POOL_TAG, "Value": pool}]
    if host is not None:
        tags.append({"Key": HOSTNAME_TAG, "Value": host})
    raw: dict[str, Any] = {
        "NetworkInterfaceId": eni_id,
        "PrivateIpAddress": ip,
        "Status": status or ("in-use" if holder else "available"),
        "TagSet": tags,
    }
    if holder:
        raw["Attachment"] = {"InstanceId": holder, "DeviceIndex": 1}
    return raw


def instance(iid: str, *enis: str, state: str = "running") -> dict[str, Any]:
    return {
        "InstanceId": iid,
        "State": {"Name": state},
        "NetworkInterfaces": [{"NetworkInterfaceId": e} for e in enis],
    }


def picture(enis: list[dict], instances: list[dict], members: dict[str, str]) -> Picture:
    return Picture(
        {e["NetworkInterfaceId"]: e for e in enis},
        {i["InstanceId"]: i for i in instances},
        members,
    )


def sound() -> Picture:
    return picture(
        [eni("eni-1", "10.0.0.4", "i-1"), eni("eni-2", "10.0.0.5")],
        [instance("i-1", "eni-p1", "eni-1")],
        {"i-1": "InService"},
    )


def test_a_sound_picture_has_no_problem():
    os = {"i-1": ("web-1", "10.0.0.4")}
    assert (
        problems_in(
            sound(),
            "web",
            os_hostname=lambda i: os[i][0],
            os_address=lambda i: os[i][1],
        )
        == []
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        # invariant 1: an instance holds at most one pool ENI, read from both sides
        (lambda p: p.enis.update(
            {"eni-2": eni("eni-2", "10.0.0.5", "i-1")}), "i-1 holds 2 pool ENIs"),
        (lambda p: p.instances["i-1"]["NetworkInterfaces"].append(
            {"NetworkInterfaceId": "eni-2"}), "i-1 lists 2 pool ENIs"),
        (lambda p: p.instances.update(
            {"i-2": instance("i-2", "eni-1")}), "eni-1 is listed by 2 instances"),
        # invariant 2: no InService instance without its pool ENI
        (lambda p: p.members.update({"i-9": "InService"}), "i-9 is InService without a pool ENI"),
        # invariant 4: the ENI of a terminated instance returns to available
        (lambda p: p.instances["i-1"]["State"].update(
            {"Name": "terminated"}), "eni-1 still attached to terminated i-1"),
        (lambda p: p.enis.update({"eni-2": eni("eni-2", "10.0.0.5", status="in-use")}),
         "eni-2 is in-use with no attachment"),
        # a leaked ENI: held by an instance that does not hold it legitimately
        (lambda p: p.members.pop("i-1"), "eni-1 leaked: held by i-1 (not in the group)"),
        (lambda p: p.members.update({"i-1": "Detached"}), "eni-1 leaked: held by i-1 (Detached)"),
    ],
)  # fmt: skip
def test_each_violation_is_found_and_named(change, says):
    pic = sound()
    change(pic)
    assert says in problems_in(pic, "web")


def test_enis_of_another_pool_are_not_this_pools_business():
    pic = sound()
    pic.enis["eni-9"] = eni("eni-9", "10.0.0.9", "i-1", pool="db")
    assert problems_in(pic, "web") == []


def test_inside_the_os_the_address_and_the_host_name_are_checked():
    pic = sound()
    [missing] = problems_in(pic, "web", os_address=lambda i: None)
    assert missing == "i-1 is InService without its fixed address 10.0.0.4 in the OS"
    [wrong] = problems_in(pic, "web", os_hostname=lambda i: "ip-10-0-0-99")
    assert wrong == "i-1 is InService with OS host name 'ip-10-0-0-99', not 'web-1'"


def test_an_eni_without_host_name_asks_no_host_name_of_its_instance():
    pic = sound()
    pic.enis["eni-1"] = eni("eni-1", "10.0.0.4", "i-1", host=None)
    assert problems_in(pic, "web", os_hostname=lambda i: None) == []


def test_standby_holds_its_address_legitimately():
    pic = sound()
    pic.members["i-1"] = "Standby"
    assert problems_in(pic, "web") == []
