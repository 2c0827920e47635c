"""The HTTP endpoint: negotiation (text, OpenMetrics, gzip), /healthz, extra routes, basic auth, TLS."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters.prometheus import Exposition
from exporters.server import ExporterServer, Request, parse_listen, tls_context
from observe.config import load_config
from observe.errors import ConfigError
from observe.webauth import BasicAuth
from tests.exporters.test_exposition import fixture_input


def get(server: ExporterServer, path: str, headers: dict[str, str] | None = None,
        context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str], bytes]:
    if context is not None:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10,
                                                                        context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def make_server(**kwargs: object) -> ExporterServer:
    data = fixture_input()
    server = ExporterServer(Exposition(lambda: data, ()), "127.0.0.1:0", **kwargs)  # type: ignore[arg-type]
    server.start()
    return server


@pytest.fixture
def server() -> Iterator[ExporterServer]:
    def autoscale(r: Request) -> tuple[int, str, bytes]:
        return 200, "application/json", b'{"q": "%s"}' % r.query["x"][0].encode()

    s = make_server(routes={"/autoscale": autoscale}, health=lambda: (False, "stats sampler has not swept for 9s"))
    yield s
    s.stop()


def test_metrics_text_gzip_openmetrics(server: ExporterServer) -> None:
    status, headers, body = get(server, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    assert b"container_cpu_usage_seconds_total{" in body
    status, headers, zipped = get(server, "/metrics", {"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip"
    before_timing = body.split(b"# HELP observe_exporter_scrape")[0]
    assert gzip.decompress(zipped).split(b"# HELP observe_exporter_scrape")[0] == before_timing
    status, headers, om = get(server, "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert headers["content-type"].startswith("application/openmetrics-text") and om.endswith(b"# EOF\n")


def test_healthz_routes_and_404(server: ExporterServer) -> None:
    assert get(server, "/healthz")[0] == 503
    assert get(server, "/healthz")[2] == b"stats sampler has not swept for 9s\n"
    status, headers, body = get(server, "/autoscale?x=web")
    assert (status, headers["content-type"], body) == (200, "application/json", b'{"q": "web"}')
    assert get(server, "/nope")[0] == 404
    server.add_route("/boom", lambda r: 1 / 0)  # type: ignore[arg-type,return-value]
    assert get(server, "/boom")[0] == 500


def test_basic_auth() -> None:
    digest = hashlib.sha256(b"s3cret").hexdigest()
    for auth in (BasicAuth.parse("prom:s3cret"), BasicAuth.parse(f"prom:sha256:{digest}")):
        s = make_server(basic_auth=auth)
        try:
            assert get(s, "/metrics")[0] == 401
            good = "Basic " + base64.b64encode(b"prom:s3cret").decode()
            bad = "Basic " + base64.b64encode(b"prom:wrong").decode()
            assert get(s, "/metrics", {"Authorization": good})[0] == 200
            assert get(s, "/metrics", {"Authorization": bad})[0] == 401
            assert get(s, "/metrics", {"Authorization": "Basic !!!"})[0] == 401
        finally:
            s.stop()


def test_basic_auth_config_is_masked() -> None:
    config = load_config({}, env={"OBSERVE_WEB_BASIC_AUTH": "prom:s3cret"})
    assert config.web_basic_auth == BasicAuth("prom", "s3cret")
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.effective())
    for bad in ("nouser", ":pw", "u:sha256:abc"):
        with pytest.raises(ConfigError):
            load_config({}, env={"OBSERVE_WEB_BASIC_AUTH": bad})


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    s = make_server(tls=tls_context(str(cert), str(key)))
    try:
        assert s.url.startswith("https://")
        client = ssl.create_default_context(cafile=str(cert))
        assert get(s, "/metrics", context=client)[0] == 200
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            get(s, "/metrics")  # plain HTTP to a TLS port gets no answer
    finally:
        s.stop()
    with pytest.raises(ConfigError, match="go together"):
        tls_context(str(cert), "")
    with pytest.raises(ConfigError, match="cannot load"):
        tls_context(str(key), str(key))


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:10077") == ("127.0.0.1", 10077)
    assert parse_listen("[::1]:9") == ("::1", 9)
    assert parse_listen(":10077") == ("0.0.0.0", 10077)
    for bad in ("10077", "host:", "h:99999"):
        with pytest.raises(ConfigError):
            parse_listen(bad)


def test_port_in_use_is_a_config_error(server: ExporterServer) -> None:
    with pytest.raises(ConfigError, match="cannot listen"):
        ExporterServer(Exposition(fixture_input, ()), f"127.0.0.1:{server.port}")


def test_request_type() -> None:
    assert Request("/x", {}, {}).path == "/x"
