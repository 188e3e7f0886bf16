"""The validators added for command builders (console/validate.py), and the injection corpus."""

import pytest

from console import validate as v

INJECTIONS = [
    "v1;touch /tmp/pwned",
    "v1\n",
    "../x",
    "\u0661\u0662\u0663",
    "",
    "$(id)",
    "`id`",
    "a b",
    "a|b",
    "a&b",
    "a>b",
    "a\x00b",
    "a\tb",
    "v1\r",
]


@pytest.mark.parametrize(
    "require",
    [
        v.require_tag,
        v.require_migration,
        v.require_project_name,
        v.require_service,
        v.require_env_key,
        v.require_incident_id,
        v.require_image,
        v.require_image_ref,
        v.require_registry,
        v.require_iso_time,
        v.require_url,
        v.require_remote_path,
    ],
)
@pytest.mark.parametrize("bad", INJECTIONS)
def test_every_validator_refuses_the_injection_corpus(require, bad):
    with pytest.raises(v.UnsafeValue) as err:
        require(bad)
    assert "refusing" in str(err.value)


def test_non_strings_are_refused():
    for require in (v.require_remote_path, v.require_env_key, v.require_url, v.require_image_ref, v.require_holder):
        with pytest.raises(v.UnsafeValue):
            require(None)


@pytest.mark.parametrize(
    "good, expected",
    [
        ("/opt/mr-dj", "/opt/mr-dj"),
        ("/opt/mr-dj/", "/opt/mr-dj"),
        ("/srv/app_1/backend/.env", "/srv/app_1/backend/.env"),
        ("/opt/mr-dj/.incident-console.lock", "/opt/mr-dj/.incident-console.lock"),
    ],
)
def test_remote_paths(good, expected):
    assert v.require_remote_path(good) == expected


@pytest.mark.parametrize(
    "bad", ["/", "relative/x", "/opt/./x", "/opt/../etc", "/opt//x", "/opt/x y", "/opt/x;y", "/opt/\u00e9", "-rf"]
)
def test_remote_paths_refused(bad):
    with pytest.raises(v.UnsafeValue):
        v.require_remote_path(bad)


def test_image_refs():
    for good in [
        "mr-dj-backend",
        "mr-dj-backend:v1",
        "registry.example.com/mr-dj-backend:2024.05.01",
        "127.0.0.1:5000/team/mr-dj-backend:v1",
        "localhost:5000/x:y",
        "x@sha256:" + "a" * 64,
    ]:
        assert v.require_image_ref(good) == good
    for bad in ["Mr/x:v1", "x:", "x::v1", "x:v1:v2", "/x:v1", "x:-v1"]:
        with pytest.raises(v.UnsafeValue):
            v.require_image_ref(bad)


def test_urls():
    assert v.require_url("https://staging.sevensa.nl/api/health") == "https://staging.sevensa.nl/api/health"
    assert v.require_url("http://[::1]:8080/health") == "http://[::1]:8080/health"
    with pytest.raises(v.UnsafeValue, match="credentials"):
        v.require_url("https://admin:hunter2@example.com/health")


def test_holders_and_times():
    assert v.require_holder("alice@laptop") == "alice@laptop"
    assert v.require_holder("On Call") == "On Call"
    assert v.is_valid_holder("alice@laptop") and v.is_valid_holder("On Call")
    for bad in ["alice\nincident=x", " leading", "a=b", "", None, 7]:
        with pytest.raises(v.UnsafeValue):
            v.require_holder(bad)
        assert not v.is_valid_holder(bad)
    for good in ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456+02:00", "2024-05-01T12:00:00"]:
        assert v.require_iso_time(good) == good
