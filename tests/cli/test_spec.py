"""Pool spec validation without AWS: every problem is reported, with where it is."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixed_ip_cli.errors import SpecError
from fixed_ip_cli.spec import load_spec, parse_spec
from tests.helpers import ROOT

SEED_SPEC = ROOT / "examples" / "pool-seed.yaml"


def spec(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "pool": "web",
        "subnets": [
            {
                "subnet": "fixed-ip-example-a",
                "addresses": [
                    {"ip": "10.0.0.4", "host_name": "server-a1"},
                    {"ip": "10.0.0.5", "host_name": "server-a2"},
                ],
            }
        ],
    }
    data.update(overrides)
    return data


def problems(data: Any) -> list[str]:
    with pytest.raises(SpecError) as err:
        parse_spec(data, source="t.yaml")
    assert "nothing was changed" in err.value.message or not err.value.problems
    return err.value.problems or [err.value.message]


def test_the_shipped_seed_spec_is_the_articles_table() -> None:
    pool = load_spec(SEED_SPEC)
    assert pool.pool == "web"
    assert pool.vpc == "fixed-ip-example"
    table = {(s.ref, str(a.ip)): (a.host_name, a.name) for s in pool.subnets for a in s.addresses}
    assert table == {
        ("fixed-ip-example-a", "10.0.0.4"): ("server-a1", "AZ-a_ENI1"),
        ("fixed-ip-example-a", "10.0.0.5"): ("server-a2", "AZ-a_ENI2"),
        ("fixed-ip-example-a", "10.0.0.6"): ("server-a3", "AZ-a_ENI3"),
        ("fixed-ip-example-c", "10.0.1.4"): ("server-c1", "AZ-c_ENI1"),
        ("fixed-ip-example-c", "10.0.1.5"): ("server-c2", "AZ-c_ENI2"),
        ("fixed-ip-example-c", "10.0.1.6"): ("server-c3", "AZ-c_ENI3"),
    }


def test_a_valid_spec() -> None:
    pool = parse_spec(spec(security_groups=["sg-0123abcd"]))
    assert pool.host_name_tag == "HostName"
    assert pool.security_groups == ("sg-0123abcd",)
    assert [a.ip for _, a in pool.addresses] == [
        ipaddress.IPv4Address("10.0.0.4"),
        ipaddress.IPv4Address("10.0.0.5"),
    ]


@pytest.mark.parametrize(
    ("host_name", "expected"),
    [
        ("a;reboot", "invalid label 'a;reboot'"),
        ("$(id)", "invalid label"),
        ("server_a1", "invalid label"),
        ("-bad", "invalid label"),
        ("", "host name is empty"),
        ("x" * 64, "invalid label"),
        (".".join(["a" * 63] * 4), "characters long, more than"),
        (1234, "must be a string (quote it"),
        (None, "must be a string"),
    ],
)
def test_host_names_must_be_rfc_1123(host_name: Any, expected: str) -> None:
    data = spec()
    data["subnets"][0]["addresses"][1]["host_name"] = host_name
    (problem,) = problems(data)
    assert problem.startswith("subnets[0].addresses[1].host_name: ")
    assert expected in problem


def test_host_names_must_be_unique_ignoring_case() -> None:
    data = spec()
    data["subnets"].append(
        {"subnet": "subnet-0123abcd", "addresses": [{"ip": "10.0.1.4", "host_name": "Server-A1"}]}
    )
    (problem,) = problems(data)
    assert "subnets[1].addresses[0].host_name: Server-A1 is already used at" in problem
    assert "subnets[0].addresses[0]" in problem


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("10.0.0.256", "'10.0.0.256' is not an IPv4 address"),
        ("server", "is not an IPv4 address"),
        (None, "None is not an IPv4 address"),
        (167772164, "167772164 is not an IPv4 address"),  # YAML's number, not 10.0.0.4
        ("fd00::4", "is IPv6"),
    ],
)
def test_addresses_must_be_ipv4(ip: Any, expected: str) -> None:
    data = spec()
    data["subnets"][0]["addresses"][0]["ip"] = ip
    (problem,) = problems(data)
    assert problem.startswith("subnets[0].addresses[0].ip: ")
    assert expected in problem


def test_duplicate_addresses_and_subnets() -> None:
    data = spec()
    data["subnets"][0]["addresses"].append({"ip": "10.0.0.4", "host_name": "server-a9"})
    data["subnets"].append(
        {"subnet": "fixed-ip-example-a", "addresses": [{"ip": "10.0.0.7", "host_name": "x"}]}
    )
    found = problems(data)
    assert any("addresses[2].ip: 10.0.0.4 is already listed at" in p for p in found)
    assert any("subnets[1].subnet: fixed-ip-example-a is already listed" in p for p in found)


def test_unknown_keys_are_refused_so_typos_do_not_pass_silently() -> None:
    data = spec(pol="web")
    data["subnets"][0]["adresses"] = []
    data["subnets"][0]["addresses"][0]["hostname"] = "x"
    found = problems(data)
    assert "pol: unknown key (allowed: pool, host_name_tag, vpc, security_groups, subnets)" in found
    assert any(p.startswith("subnets[0].adresses: unknown key") for p in found)
    assert any(p.startswith("subnets[0].addresses[0].hostname: unknown key") for p in found)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"pool": None}, "pool: None is not a pool name"),
        ({"pool": "web;rm"}, "is not a pool name"),
        ({"subnets": []}, "subnets: give a list of subnets"),
        ({"subnets": [{"subnet": "x"}]}, "subnets[0].addresses: give a list"),
        ({"subnets": [{"addresses": [{"ip": "10.0.0.4", "host_name": "a"}]}]}, "subnets[0].subnet"),
        ({"host_name_tag": "aws:name"}, "host_name_tag: 'aws:name' is not an EC2 tag key"),
        ({"security_groups": ["default"]}, "security_groups: ['default'] must be a list of ids"),
    ],
)
def test_structure_problems(overrides: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in problems(spec(**overrides)))


def test_every_problem_is_reported_at_once() -> None:
    data = spec(pool="")
    data["subnets"][0]["addresses"] = [
        {"ip": "10.0.0.300", "host_name": "ok"},
        {"ip": "10.0.0.5", "host_name": "not ok"},
    ]
    assert len(problems(data)) == 3


def test_not_a_mapping() -> None:
    with pytest.raises(SpecError, match="a pool spec is a YAML mapping"):
        parse_spec(["pool", "web"])


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"cannot read pool spec .*missing.yaml"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pool: web\nsubnets: [\n  - {subnet: a\n")
    with pytest.raises(SpecError, match=r"bad.yaml: not valid YAML \(line \d+, column \d+\)"):
        load_spec(bad)


def test_yaml_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(spec()))
    assert load_spec(path).source == str(path)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["subnets"].append("subnet-0123abcd"),
            "subnets[1]: expected a mapping with `subnet` and `addresses`",
        ),
        (
            lambda d: d["subnets"][0]["addresses"].append(["10.0.0.9", "x"]),
            "subnets[0].addresses[2]: expected a mapping like {ip: 10.0.0.4, host_name: a1}",
        ),
        (
            lambda d: d["subnets"][0]["addresses"][0].update(name="n" * 256),
            f"subnets[0].addresses[0].name: {'n' * 256!r} must be a tag value of 1-255 characters",
        ),
        (
            lambda d: d.update(vpc=""),
            "vpc: '' must be a VPC id (vpc-...) or the value of its Name tag",
        ),
        (
            lambda d: d.update(security_groups="sg-0123abcd"),
            "security_groups: 'sg-0123abcd' must be a list of ids like sg-0123abcd",
        ),
        (
            lambda d: d.update(security_groups=["sg-0123abcd", "web"]),
            "security_groups: ['sg-0123abcd', 'web'] must be a list of ids like sg-0123abcd",
        ),
        (
            lambda d: d["subnets"][0].update(subnet="  "),
            "subnets[0].subnet: give a subnet id (subnet-...) or its Name tag",
        ),
        (
            lambda d: d.update(pool="p" * 256),
            f"pool: {'p' * 256!r} is not a pool name (1-255 letters",
        ),
    ],
)
def test_each_problem_is_one_line_naming_where_it_is(edit: Any, expected: str) -> None:
    """The pydantic model's errors, rendered in the operator's words, one line each."""
    data = spec()
    edit(data)
    (problem,) = problems(data)
    assert (
        problem.startswith(expected) if expected.startswith("is") is False else expected in problem
    )


def test_the_spec_is_the_model_its_positions_included() -> None:
    pool = parse_spec(spec(), source="t.yaml")
    ((subnet, address), _) = pool.addresses
    assert (pool.source, subnet.where, address.where) == (
        "t.yaml",
        "subnets[0]",
        "subnets[0].addresses[0]",
    )
    assert subnet.ref == "fixed-ip-example-a" and not subnet.is_id
