"""Prometheus result parsing, comparisons, metrics verdicts, Alertmanager matchers and silence payloads,
and the [prometheus]/[alertmanager]/[[metrics]] config tables. No network: httpx.MockTransport."""

import json
import math
from datetime import UTC, datetime

import httpx
import pytest

from console.config import ConfigError, load_config
from console.observability.alertmanager import (
    AlertmanagerClient,
    AlertmanagerError,
    Matcher,
    parse_alerts,
    parse_matcher,
    services_matcher,
    silence_payload,
)
from console.observability.metrics_checks import FAIL, PASS, UNKNOWN, MetricsProbe, judge, summary, until_pass, watch
from console.observability.prometheus import PrometheusClient, PrometheusError, parse_instant, parse_range
from console.observability.settings import MetricCheck, parse_comparison
from console.secrets import Secret
from tests.test_config import EXAMPLE


def vector(*values, labels=None):
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": labels or {"service": f"s{i}"}, "value": [1700000000.5, v]} for i, v in enumerate(values)
            ],
        },
    }


# -- Prometheus results -------------------------------------------------------------------------------


def test_vector_scalar_and_special_values_parse():
    samples = parse_instant(vector("0.25", "NaN", "+Inf"))
    assert [s.labels for s in samples] == [{"service": "s0"}, {"service": "s1"}, {"service": "s2"}]
    assert samples[0].value == 0.25 and math.isnan(samples[1].value) and samples[2].value == math.inf
    scalar = parse_instant({"status": "success", "data": {"resultType": "scalar", "result": [17.0, "3"]}})
    assert [(s.labels, s.at, s.value) for s in scalar] == [({}, 17.0, 3.0)]


def test_matrix_parses_as_series_and_is_refused_as_an_instant_value():
    body = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": [[10, "1"], [12, "2.5"]]}]},
    }
    series = parse_range(body)
    assert series[0].labels == {"job": "a"} and series[0].points == [(10.0, 1.0), (12.0, 2.5)]
    with pytest.raises(PrometheusError, match="range vector"):
        parse_instant(body)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}, "bad_data.*parse error"),
        (
            {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, 2]}]}},
            "not a string",
        ),
        (
            {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]}},
            "not a number",
        ),
        ({"status": "success"}, "resultType"),
        (["nope"], "JSON object"),
        ({"status": "success", "data": {"resultType": "string", "result": [1, "a"]}}, "string, not a number"),
    ],
)
def test_bad_answers_are_clear_errors(body, message):
    with pytest.raises(PrometheusError, match=message):
        parse_instant(body)


async def test_client_sends_query_and_auth_header_and_never_repeats_them_in_errors():
    seen = []

    def handler(request):
        seen.append(request)
        if request.url.path == "/api/v1/query_range":
            return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": []}})
        return httpx.Response(200, json=vector("0.5"))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = PrometheusClient("http://prom.test/", {"Authorization": Secret("Bearer s3cret")}, client=http)
        assert [s.value for s in await client.query("up", at=100)] == [0.5]
        assert await client.query_range("up", 0, 60, 15) == []
    assert seen[0].url.params["query"] == "up" and seen[0].url.params["time"] == "100.000"
    assert seen[0].headers["authorization"] == "Bearer s3cret"
    assert seen[1].url.params["step"] == "15"

    def down(request):
        raise httpx.ConnectError("refused")

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        client = PrometheusClient("http://user:pw@prom.test", {"Authorization": Secret("Bearer s3cret")}, client=http)
        with pytest.raises(PrometheusError) as info:
            await client.query("up")
    assert info.value.unreachable and "s3cret" not in str(info.value) and "prom.test" not in str(info.value)


# -- comparisons and verdicts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, op, threshold, relative",
    [
        ("<= 0.01", "<=", 0.01, False),
        ("<=1 %", "<=", 0.01, False),
        ("< 1.2x", "<", 1.2, True),
        (">= 99.5%", ">=", 0.995, False),
        ("> 2e-3", ">", 0.002, False),
    ],
)
def test_comparisons_parse(text, op, threshold, relative):
    c = parse_comparison(text)
    assert (c.op, relative) == (op, c.relative) and c.threshold == pytest.approx(threshold)


@pytest.mark.parametrize("text", ["== 1", "<= ", "0.01", "<= 1.2y", "<= -1", None])
def test_bad_comparisons_are_refused(text):
    with pytest.raises(ValueError, match="comparison"):
        parse_comparison(text)


def check(comparison="<= 0.01", window=1.0, name="errors"):
    return MetricCheck(name, "q", parse_comparison(comparison), window_minutes=window)


def test_absolute_verdicts_take_the_worst_series():
    assert judge(check(), [0.001, 0.02], at=1, baseline=None).verdict == FAIL
    result = judge(check(), [0.001, 0.009], at=1, baseline=None)
    assert (result.verdict, result.value, result.limit) == (PASS, 0.009, 0.01)
    assert judge(check(">= 0.99"), [0.995, 0.98], at=1, baseline=None).value == 0.98  # lowest counts


def test_relative_verdicts_need_a_baseline():
    assert judge(check("<= 1.2x"), [0.011], at=1, baseline=0.01).verdict == PASS
    failed = judge(check("<= 1.2x"), [0.013], at=1, baseline=0.01)
    assert failed.verdict == FAIL and failed.limit == pytest.approx(0.012)
    unknown = judge(check("<= 1.2x"), [0.013], at=1, baseline=None)
    assert unknown.verdict == UNKNOWN and "baseline" in unknown.detail


def test_no_data_and_nan_are_unknown_not_pass():
    assert judge(check(), [], at=1, baseline=None).verdict == UNKNOWN
    assert judge(check(), [math.nan], at=1, baseline=None).verdict == UNKNOWN


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.now += seconds


def prometheus_answering(values):
    """A PrometheusClient over a MockTransport answering each instant query with the next value."""
    answers = iter(values)

    def handler(request):
        if request.url.path == "/api/v1/query_range":
            return httpx.Response(
                200,
                json={
                    "status": "success",
                    "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "0.01"], [2, "0.03"]]}]},
                },
            )
        value = next(answers)
        if value is None:
            return httpx.Response(503, text="down")
        return httpx.Response(200, json=vector(value))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_verification_waits_for_the_window_then_fails_or_passes():
    clock = FakeClock()
    async with prometheus_answering(["0.5", "0.2", "0.005"]) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http))
        results = await until_pass(probe, [check(window=1)], interval=10, clock=clock, sleep=clock.sleep)
    assert results[0].verdict == PASS and results[0].value == 0.005 and clock.now == 20
    clock = FakeClock()
    async with prometheus_answering(["0.5"] * 10) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http))
        results = await until_pass(probe, [check(window=0.5)], interval=10, clock=clock, sleep=clock.sleep)
    assert results[0].verdict == FAIL and clock.now == 30


async def test_unreachable_prometheus_is_unknown_and_does_not_fail_verification():
    async with prometheus_answering([None]) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http))
        results = await until_pass(probe, [check()], interval=1)
    assert results[0].verdict == UNKNOWN and "HTTP 503" in results[0].detail
    ok, message = summary(results)
    assert ok and "by hand" in message


async def test_monitor_fails_a_violation_that_lasts_a_window_but_not_a_short_blip():
    clock = FakeClock()
    blip = ["0", "0.5", "0", "0", "0", "0", "0"]  # one bad round, 10 s, shorter than the 0.5 min window
    async with prometheus_answering(blip) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http))
        results = await watch(probe, [check(window=0.5)], 60, interval=10, clock=clock, sleep=clock.sleep)
    assert results[0].verdict == PASS
    clock = FakeClock()
    regression = ["0", "0", "0.5", "0.5", "0.5", "0.5", "0.5"]
    async with prometheus_answering(regression) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http))
        results = await watch(probe, [check(window=0.5)], 60, interval=10, clock=clock, sleep=clock.sleep)
    assert results[0].verdict == FAIL and "regression" in results[0].detail and clock.now == 50


async def test_relative_baseline_is_the_mean_before_the_bad_deploy():
    async with prometheus_answering(["0.025"]) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http), bad_deploy_at=datetime(2026, 1, 1, tzinfo=UTC))
        result = await probe.evaluate(check("<= 1.2x"))
    assert result.baseline == pytest.approx(0.02) and result.limit == pytest.approx(0.024)
    assert result.verdict == FAIL


# -- Alertmanager ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ('service=~"mr-dj-backend|mr-dj-frontend"', Matcher("service", "mr-dj-backend|mr-dj-frontend", True, True)),
        ('env="production"', Matcher("env", "production")),
        ("env!=staging", Matcher("env", "staging", False, False)),
        ('team!~"ops.*"', Matcher("team", "ops.*", True, False)),
        ('msg="say \\"hi\\""', Matcher("msg", 'say "hi"')),
    ],
)
def test_matchers_parse_and_round_trip(text, expected):
    matcher = parse_matcher(text)
    assert matcher == expected
    assert parse_matcher(matcher.to_filter()) == matcher


@pytest.mark.parametrize("text", ["service", "9x=1", 'a="b', "a=", 'a=~"("'])
def test_bad_matchers_are_refused(text):
    with pytest.raises(ValueError):
        parse_matcher(text)


def test_default_matcher_names_the_services_exactly():
    m = services_matcher(["mr-dj-backend", "web.v2"])
    assert m.to_api() == {"name": "service", "value": "mr\\-dj\\-backend|web\\.v2", "isRegex": True, "isEqual": True}


def test_silence_payload():
    payload = silence_payload(
        [Matcher("env", "production")],
        minutes=90,
        created_by="oncall",
        comment="incident-console incident 20261129-1200",
        now=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
    )
    assert payload == {
        "matchers": [{"name": "env", "value": "production", "isRegex": False, "isEqual": True}],
        "startsAt": "2026-11-29T12:00:00.000Z",
        "endsAt": "2026-11-29T13:30:00.000Z",
        "createdBy": "oncall",
        "comment": "incident-console incident 20261129-1200",
    }
    assert "id" not in payload
    with pytest.raises(ValueError):
        silence_payload([], minutes=10, created_by="x", comment="y")


async def test_alertmanager_client_lists_creates_and_expires():
    seen = []

    def handler(request):
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(
                200,
                json=[
                    {
                        "labels": {"alertname": "HighErrorRate", "service": "api"},
                        "annotations": {"summary": "api 50% 5xx"},
                        "status": {"state": "active"},
                        "startsAt": "2026-11-29T12:00:00Z",
                        "fingerprint": "abc",
                    }
                ],
            )
        if request.method == "POST":
            return httpx.Response(200, json={"silenceID": "5e1f3a2b-0000-4000-8000-000000000001"})
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = AlertmanagerClient("http://am", client=http)
        alerts = await client.firing([Matcher("env", "production"), Matcher("service", "a|b", True)])
        silence_id = await client.create_silence({"matchers": []})
        await client.expire_silence(silence_id)
    assert [(a.name, a.summary) for a in alerts] == [("HighErrorRate", "api 50% 5xx")]
    params = seen[0].url.params
    assert params.get_list("filter") == ['env="production"', 'service=~"a|b"']
    assert (params["active"], params["silenced"], params["inhibited"]) == ("true", "false", "false")
    assert silence_id.startswith("5e1f") and json.loads(seen[1].content) == {"matchers": []}
    assert seen[2].method == "DELETE" and seen[2].url.path == f"/api/v2/silence/{silence_id}"
    with pytest.raises(ValueError):
        await client.expire_silence("../../etc")


async def test_alertmanager_refusals_are_errors():
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(400, text="bad matcher"))
    ) as http:
        with pytest.raises(AlertmanagerError, match=r"HTTP 400\): bad matcher"):
            await AlertmanagerClient("http://am", client=http).create_silence({})
    with pytest.raises(AlertmanagerError):
        parse_alerts({"not": "a list"})


# -- config -----------------------------------------------------------------------------------------------

OBS = """
[prometheus]
url = "http://127.0.0.1:19090"
headers = { Authorization = "env:PROM_AUTH" }

[alertmanager]
url = "http://127.0.0.1:19093"
matchers = ['env="production"', 'service=~"mr-dj-.*"']
silence_minutes = 30

[[metrics]]
name = "errors"
query = "sum(rate(x[1m]))"
comparison = "<= 1.2x"
window_minutes = 3
"""


def test_observability_tables_parse(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.read_text() + OBS)
    obs = load_config(path).observability
    assert (
        obs.prometheus.url == "http://127.0.0.1:19090" and obs.prometheus.headers["Authorization"].name == "PROM_AUTH"
    )
    assert [m.to_filter() for m in obs.alertmanager.matchers] == ['env="production"', 'service=~"mr-dj-.*"']
    assert obs.alertmanager.silence_minutes == 30
    assert obs.metrics[0].comparison.relative and obs.metrics[0].window_minutes == 3


def test_observability_is_optional(tmp_path):
    obs = load_config(EXAMPLE).observability
    assert obs.prometheus is None and obs.alertmanager is None and obs.metrics == []


@pytest.mark.parametrize(
    "change, key, message",
    [
        (('"env:PROM_AUTH"', '"Bearer abc"'), "prometheus.headers.Authorization", "by reference"),
        (("'env=\"production\"'", "'env'"), "alertmanager.matchers[0]", "matcher"),
        (('"<= 1.2x"', '"about 1"'), "metrics[0].comparison", "not a comparison"),
        (("silence_minutes = 30", "silence_minutes = 0"), "alertmanager.silence_minutes", "between"),
        (('url = "http://127.0.0.1:19090"', 'url = "127.0.0.1:19090"'), "prometheus.url", "http://"),
        (("window_minutes = 3", "window_minutes = 3\nwhen = 1"), "metrics[0].when", "unknown key"),
        (
            ('url = "http://127.0.0.1:19093"', 'url = "http://admin:pw@127.0.0.1:19093"'),
            "alertmanager.url",
            "credentials in the URL",
        ),
    ],
)
def test_bad_observability_config_is_refused_with_its_key(tmp_path, change, key, message):
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.read_text() + OBS.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = dict(info.value.problems)
    assert key in problems and message in problems[key], problems


def test_metrics_need_prometheus(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        EXAMPLE.read_text()
        + OBS.split("[alertmanager]")[0].replace("[prometheus]", "[other]").split("[other]")[0]
        + OBS.split("silence_minutes = 30")[1]
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "metrics" in dict(info.value.problems)


async def test_monitor_watches_a_violation_open_at_the_end_until_it_settles_or_lasts_a_window():
    clock = FakeClock()
    settles = ["0.5", "0.5", "0.5", "0"]  # the release before still in the rate: clears after 30 s
    async with prometheus_answering(settles) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http))
        results = await watch(probe, [check(window=1)], 6, interval=10, clock=clock, sleep=clock.sleep)
    assert results[0].verdict == PASS and clock.now == 26
    clock = FakeClock()
    async with prometheus_answering(["0.5"] * 10) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http))
        results = await watch(probe, [check(window=0.5)], 6, interval=10, clock=clock, sleep=clock.sleep)
    assert results[0].verdict == FAIL and clock.now == 36


async def test_verification_waits_for_data_but_not_for_a_dead_prometheus():
    clock = FakeClock()
    empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
    answers = iter([empty, empty, vector("0.001")])

    def handler(request):
        return httpx.Response(200, json=next(answers))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        probe = MetricsProbe(PrometheusClient("http://p", client=http))
        results = await until_pass(probe, [check(window=1)], interval=10, clock=clock, sleep=clock.sleep)
    assert results[0].verdict == PASS and clock.now == 20
