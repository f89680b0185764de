"""Proxyless mode: grpcio's own xDS client, steered by InferenceHub's control plane, no Envoy.

grpcio resolves `xds:///<model>` targets through the control plane's ADS port, named in an xDS
bootstrap. grpcio reads the bootstrap once per process, when the first xds: channel starts: call
`configure_proxyless` before creating any `Client("xds:///<model>")`. Limits (README, "Proxyless"):
calls go straight to the nodes, so nothing checks the API key; a node serving several versions of a
model without a port per version answers unpinned calls with its default version.
"""

from __future__ import annotations

import json
import os

BOOTSTRAP_ENV = "GRPC_XDS_BOOTSTRAP_CONFIG"


def configure_proxyless(control_plane: str, node_id: str, cluster: str = "inferencehub-sdk") -> None:
    """Points grpcio's xDS client at the control plane's ADS address (host:port), as this node id.

    Raises RuntimeError when a bootstrap is already set to something else: grpcio would keep using
    the first one, and silently talking to another control plane is worse than failing here.
    """
    bootstrap = json.dumps(
        {
            "xds_servers": [
                {
                    "server_uri": control_plane,
                    "channel_creds": [{"type": "insecure"}],
                    "server_features": ["xds_v3"],
                }
            ],
            "node": {"id": node_id, "cluster": cluster, "locality": {}},
        }
    )
    current = os.environ.get(BOOTSTRAP_ENV)
    if current is not None and current != bootstrap:
        raise RuntimeError(f"{BOOTSTRAP_ENV} is already set (grpcio reads it once per process)")
    os.environ[BOOTSTRAP_ENV] = bootstrap
