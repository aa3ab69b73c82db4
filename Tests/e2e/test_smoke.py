"""Smoke tests of the whole path: nginx, the pool, PostgreSQL."""

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def assert_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp


def test_healthz_answers_200_through_nginx(http):
    response = http.get("/healthz")
    assert response.status_code == 200
    assert_security_headers(response)


def test_static_css_is_served_by_nginx_with_cache_and_security_headers(http):
    response = http.get("/css/encore.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "max-age=" in response.headers["cache-control"]
    assert "immutable" not in response.headers["cache-control"]
    assert_security_headers(response)

    versioned = http.get("/css/encore.css?v=0123abcd")
    assert versioned.status_code == 200
    assert "immutable" in versioned.headers["cache-control"]
    assert "max-age=31536000" in versioned.headers["cache-control"]


def test_a_20_mb_body_gets_413_from_nginx_with_a_json_error(http):
    response = http.post("/api/users", data=b"x" * (20 * 1024 * 1024),
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "payload_too_large"
    assert_security_headers(response)
