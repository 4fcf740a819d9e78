"""End to end: a real `callvault serve` counts a SIPp call in its Prometheus metrics."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from callvault import __version__
from tests.e2e.harness import Node, run_sipp, start_node

pytestmark = pytest.mark.e2e


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    running = start_node(tmp_path, rtp_timeout_s="10")
    yield running
    code = running.stop()
    assert code == 0, f"callvault serve exited with {code}:\n{running.log()}"
    assert "Traceback" not in running.log(), running.log()


def scrape(node: Node) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The node's /metrics over HTTP (a loopback client): (sample name, labels) to value."""
    url = f"http://127.0.0.1:{node.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def test_an_answered_call_is_counted_once(node: Node, tmp_path: Path) -> None:
    before = scrape(node)
    assert total(before, "callvault_calls_active") == 0
    assert total(before, "callvault_info", version=__version__) == 1

    result = run_sipp("uac_server_hangs_up.xml", node.uri_host, tmp=tmp_path, service="100")
    assert result.returncode == 0, f"SIPp failed:\n{result.output}\n--- node log ---\n{node.log()}"
    assert result.counter("SuccessfulCall(C)") == 1
    node.wait_idle()

    after = scrape(node)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("callvault_calls_total", disposition="answered") == 1
    assert delta("callvault_calls_total") == 1, "no other outcome counted"
    assert total(after, "callvault_calls_active") == 0
    # in: the INVITE and the ACK; out: the node's BYE after the greeting
    assert delta("callvault_sip_messages_total", direction="in", kind="request") >= 2
    assert delta("callvault_sip_messages_total", direction="out", kind="request") >= 1
    assert delta("callvault_sip_messages_total", direction="out", kind="response") >= 1
    assert total(after, "callvault_sip_parse_errors_total") == 0
    assert total(after, "callvault_rtp_ports_free") == total(before, "callvault_rtp_ports_free")
    assert total(after, "process_resident_memory_bytes") > 0
