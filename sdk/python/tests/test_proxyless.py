"""Proxyless: grpcio's xds:/// resolver against the control plane's ADS port, no Envoy between.

Pinned calls are answered by their pin (the body's model_version reaches the node). Unpinned calls
are not asserted: the stack's nodes serve scale v1 and v2 without a port per version, so a node
answers an unpinned proxyless call with its own default version (README, "Proxyless").
"""

from __future__ import annotations

import numpy as np

from inferencehub import Client, configure_proxyless

from conftest import env, scale_input


def test_pinned_calls_and_a_stream_without_envoy() -> None:
    configure_proxyless(f"127.0.0.1:{env('INFERENCEHUB_ADS_PORT')}", "sdk-python-proxyless")
    with Client("xds:///scale", timeout=10) as direct:
        for version, want in (("1", 1.1), ("2", 2.2)):
            result = direct.infer("scale", scale_input([[1, 1, 1, 1]]), version=version)
            assert result.model_version == version
            np.testing.assert_allclose(result["output"], [[want] * 4], rtol=1e-6)
        answers = list(direct.stream("scale", [scale_input()] * 2, version="2"))
        assert [a.model_version for a in answers] == ["2", "2"]
        assert direct.ready("scale") is True
