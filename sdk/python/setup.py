"""Build step: generate the protocol's Python messages from the repository's proto/ with grpcio-tools.

The generated code is never committed (sdk/python/.gitignore). Where the .proto comes from:
  1. sdk/python/proto/inference/grpc_service.proto: the copy an sdist carries (made by `sdist` below);
  2. ../../proto/inference/grpc_service.proto: the repository's, when building from a checkout.

The proto's package is renamed (`inference` -> `inferencehub_sdk.inference`) in the copy that is
compiled, so that this package's messages never clash in protobuf's default descriptor pool with
another client's copy of the same protocol (tritonclient registers `inference.*` too, and both in
one process would fail at import). The package name is not on the wire: messages are encoded by
field number, and the client calls the real method paths (`/inference.GRPCInferenceService/...`,
see src/inferencehub/_wire.py), so nothing a server sees changes.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PROTO_REL = Path("inference") / "grpc_service.proto"
CANDIDATES = [HERE / "proto" / PROTO_REL, HERE.parent.parent / "proto" / PROTO_REL]
RENAMED_PACKAGE = "inferencehub_sdk.inference"
# The generated module's place in the package, and the proto file name it registers.
GEN_DIR = Path("inferencehub") / "_proto"


def find_proto() -> Path:
    for candidate in CANDIDATES:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "inferencehub: grpc_service.proto not found; looked at "
        + ", ".join(str(c) for c in CANDIDATES)
        + ". Build from the InferenceHub repository, or from an sdist made by `python -m build`."
    )


def generate(out_root: Path) -> None:
    """Compiles the (renamed) proto into out_root/inferencehub/_proto/grpc_service_pb2.py(i)."""
    from grpc_tools import protoc  # a build requirement (pyproject.toml)

    source = find_proto().read_text(encoding="utf-8")
    renamed, count = re.subn(r"^package\s+inference\s*;", f"package {RENAMED_PACKAGE};", source, flags=re.M)
    if count != 1:
        raise RuntimeError("inferencehub: grpc_service.proto does not declare `package inference;`")
    with tempfile.TemporaryDirectory() as tmp:
        proto = Path(tmp) / GEN_DIR / "grpc_service.proto"
        proto.parent.mkdir(parents=True)
        proto.write_text(renamed, encoding="utf-8")
        out = out_root / GEN_DIR
        out.mkdir(parents=True, exist_ok=True)
        (out / "__init__.py").write_text('"""Generated at build time from proto/ (setup.py)."""\n')
        args = [
            "grpc_tools.protoc",
            f"-I{tmp}",
            f"--python_out={out_root}",
            f"--pyi_out={out_root}",
            str(proto),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"inferencehub: protoc failed on {proto}")


class BuildPy(build_py):
    """build_py that also generates the messages (into the build tree, or src/ when editable)."""

    def run(self) -> None:
        if self.editable_mode:
            # An editable install imports from src/: the generated module goes there.
            generate(HERE / "src")
        super().run()
        if not self.editable_mode:
            generate(Path(self.build_lib))


class Sdist(sdist):
    """sdist that carries the .proto, so a wheel built from it needs no repository."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        target = Path(base_dir) / "proto" / PROTO_REL
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(find_proto(), target)


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
