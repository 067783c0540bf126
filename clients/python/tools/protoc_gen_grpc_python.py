"""protoc plugin `grpc_python` for buf: the *_pb2_grpc.py generator of grpcio-tools as a local plugin.

grpcio-tools links its gRPC Python generator into its bundled protoc instead of shipping a
`protoc-gen-grpc_python` executable, and buf runs protoc's in-process generators only for protoc's
own languages. This plugin reads buf's CodeGeneratorRequest, hands its descriptors to that protoc
(`python -m grpc_tools.protoc --descriptor_set_in … --grpc_python_out …`) and returns the files it
wrote. It must run with the Python of scripts/generate's pinned venv (grpcio-tools installed).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    with tempfile.TemporaryDirectory(prefix="grpc_python.") as tmp:
        work = pathlib.Path(tmp)
        fds = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
        (work / "in.binpb").write_bytes(fds.SerializeToString())
        out = work / "out"
        out.mkdir()
        target = f"{request.parameter}:{out}" if request.parameter else str(out)
        run = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"--descriptor_set_in={work / 'in.binpb'}",
             f"--grpc_python_out={target}", *request.file_to_generate],
            capture_output=True, text=True, check=False,
        )
        if run.returncode != 0:
            response.error = f"grpc_tools.protoc failed ({run.returncode}): {run.stderr.strip()}"
        else:
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                response.file.add(name=path.relative_to(out).as_posix(), content=path.read_text())
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
