"""/metrics of the main test stack, as an operator alerts on it: valid Prometheus text (parsed
by prometheus_client's parser, and every sample line by a strict pattern), request-duration
histograms per route and status class whose counts grow with traffic, worker restarts by
cause, projection lag per projection, and the expiry backlog."""

from __future__ import annotations

import math
import re

import pytest

parser = pytest.importorskip("prometheus_client.parser", reason="pip install prometheus-client (requirements-test.txt)")

ROUTE = "GET /api/concerts/:id"
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"({NAME})(\{{{LABEL}(?:,{LABEL})*\}})? (-?[0-9.e+-]+|[+-]Inf|NaN)")
META = re.compile(rf"# (HELP {NAME} .*|TYPE {NAME} (counter|gauge|histogram|summary|untyped))")


def scrape(http) -> dict:
    """{(sample name, frozen labels): value}, after checking the text line by line."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert text.endswith("\n")
    for line in text.splitlines():
        assert META.fullmatch(line) or SAMPLE.fullmatch(line), f"not Prometheus text: {line!r}"
    samples = {}
    types = {}
    for family in parser.text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"sample twice: {key}"
            samples[key] = sample.value
    return {"samples": samples, "types": types}


def buckets(scraped: dict, route: str, status: str) -> dict[str, float]:
    return {dict(labels)["le"]: value for (name, labels), value in scraped["samples"].items()
            if name == "encore_http_request_duration_seconds_bucket"
            and dict(labels).get("route") == route and dict(labels).get("status") == status}


def test_metrics_after_traffic_are_valid_prometheus_text_with_what_an_operator_alerts_on(http):
    concerts = http.get("/api/concerts").json()["concerts"]
    assert concerts
    path = f"/api/concerts/{concerts[0]['id']}"
    assert http.get(path).status_code == 200
    before = scrape(http)
    for _ in range(7):
        assert http.get(path).status_code == 200
    assert http.get("/api/concerts/no-such-concert").status_code == 404
    after = scrape(http)

    assert after["types"]["encore_http_request_duration_seconds"] == "histogram"
    grown = buckets(after, ROUTE, "2xx")
    assert grown, f"no histogram of {ROUTE} 2xx"
    earlier = buckets(before, ROUTE, "2xx")
    assert grown["+Inf"] >= earlier.get("+Inf", 0) + 7
    bounds = sorted(grown, key=lambda le: math.inf if le == "+Inf" else float(le))
    counts = [grown[le] for le in bounds]
    assert counts == sorted(counts), "buckets are cumulative"
    count = after["samples"][("encore_http_request_duration_seconds_count",
                              frozenset({"route": ROUTE, "status": "2xx"}.items()))]
    assert count == grown["+Inf"]
    assert buckets(after, ROUTE, "4xx")["+Inf"] >= 1

    causes = {dict(labels)["cause"] for (name, labels) in after["samples"]
              if name == "encore_pool_restarts_by_cause_total"}
    assert causes >= {"crash", "killed", "exit"}
    assert after["types"]["encore_pool_restarts_by_cause"] == "counter"

    lag = {dict(labels)["projection"]: value for (name, labels), value in after["samples"].items()
           if name == "encore_projection_lag_events"}
    assert lag and all(value >= 0 for value in lag.values()), lag
    assert ("encore_reservations_expiry_backlog", frozenset()) in after["samples"]
    assert after["samples"][("encore_database_up", frozenset())] == 1
