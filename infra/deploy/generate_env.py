#!/usr/bin/env python3
"""Write a compose `.env` from `.env.example`, filling every empty secret with a random one.

Stdlib only, so it runs on a bare host before anything is installed:

    python3 infra/deploy/generate_env.py            # writes ./.env, refuses to overwrite
    python3 infra/deploy/generate_env.py --output /tmp/x.env --force
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def render_env(example: str) -> str:
    """Return the example with each `KEY=` (empty value) given a fresh random secret.

    Hex: safe inside amqp:// and postgresql:// URLs, never mistaken for a command-line
    flag, and 32 characters fits MinIO's 8-40 character limit for secret keys."""
    lines: list[str] = []
    for line in example.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and stripped.endswith("="):
            lines.append(f"{stripped}{secrets.token_hex(16)}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--example", type=Path, default=REPO_ROOT / ".env.example")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / ".env")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    args = parser.parse_args(argv)
    output: Path = args.output
    if output.exists() and not args.force:
        print(f"{output} exists; keeping it (use --force to replace its secrets)", file=sys.stderr)
        return 1
    output.write_text(render_env(Path(args.example).read_text()))
    output.chmod(0o600)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
