"""The guard in conftest.py must stop anything that leaves this machine, and allow loopback."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import UnplannedNetworkCall


def test_outbound_connection_is_blocked() -> None:
    with socket.socket() as s, pytest.raises(UnplannedNetworkCall):
        s.connect(("192.0.2.10", 443))  # TEST-NET-1: never routed, never contacted


def test_dns_lookup_is_blocked() -> None:
    with pytest.raises(UnplannedNetworkCall):
        socket.getaddrinfo("pypi.org", 443)


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
