"""Command line: ``python -m local_engine serve ...`` starts the server (uvicorn). No bpy here.

Example::

    python -m local_engine serve --host 127.0.0.1 --port 8765 --data ./engine-data --api-key secret \\
        --solver replay --motion .cache/testdata/bvh/01_03.bvh
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from pathlib import Path

from .config import DEFAULT_MAX_UPLOAD, ServerConfig
from .outputs import default_export_python
from .solvers import SOLVERS

API_KEY_ENV = "LOCAL_ENGINE_API_KEY"


def _faults(value: str) -> list:
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    rules = json.loads(text)
    return rules["faults"] if isinstance(rules, dict) else rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the Move UGC API on this machine")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--data", required=True, type=Path, help="directory for the database and files")
    serve.add_argument("--api-key", default=os.environ.get(API_KEY_ENV),
                       help=f"the key clients must send in Authorization (default: ${API_KEY_ENV}, which keeps "
                            "it out of process listings)")
    serve.add_argument("--solver", default="replay", choices=sorted(SOLVERS), help="how jobs are solved")
    serve.add_argument("--motion", type=Path, help="replay solver: the motion file (BVH) to replay")
    serve.add_argument("--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD)
    serve.add_argument("--url-ttl", type=float, default=3600.0, help="seconds a presigned URL stays valid")
    serve.add_argument("--job-timeout", type=float, default=1800.0,
                       help="seconds one job may run before it FAILS and the next one starts (default 1800)")
    serve.add_argument("--upload-idle-timeout", type=float, default=60.0,
                       help="seconds an upload may send nothing before it is dropped with 408 (default 60)")
    serve.add_argument("--public-url", help="base URL handed out in presigned URLs (default: the request's)")
    serve.add_argument("--faults", type=_faults, default=[], help="fault rules as JSON, or @file.json")
    serve.add_argument("--allow-remote", action="store_true", help="permit binding a non-loopback address")
    serve.add_argument("--blender", help="a Blender binary that writes FBX/.blend/GLB/USD/BVH in background mode "
                                         "(the add-on passes its own, "" when it has none: then those outputs are "
                                         "not offered); not given: this Python writes them if it has bpy")
    serve.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error(f"an API key is required: --api-key KEY or the {API_KEY_ENV} environment variable")

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback and not args.allow_remote:
        parser.error(f"refusing to bind {args.host}: not a loopback address (pass --allow-remote to insist)")
    if args.solver == "replay" and args.motion is None:
        parser.error("--solver replay needs --motion FILE")

    config = ServerConfig(
        data_dir=args.data.resolve(),
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        solver=args.solver,
        solver_options={"motion": args.motion.resolve() if args.motion else None},
        max_upload_bytes=args.max_upload_bytes,
        url_ttl=args.url_ttl,
        public_url=args.public_url,
        faults=args.faults,
        # --blender given (even empty, as the add-on does): that Blender only, never a PyPI bpy module.
        export_python=default_export_python() if args.blender is None else None,
        blender=args.blender or None,
        job_timeout=args.job_timeout,
        upload_idle_timeout=args.upload_idle_timeout,
    )
    import uvicorn

    from .app import create_app

    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level.lower(),
                timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
